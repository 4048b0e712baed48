"""``otm alerts test``: one test alert through every configured channel, in this process, and
what each answered (the same channels the notifier builds from ``[alerts]``)."""

from __future__ import annotations

import time
from typing import Any

from bus.messages import Alert
from services.runtime.installation import Runtime


def trial_alert(now: float) -> Alert:
    """The alert ``otm alerts test`` sends."""
    return Alert(
        key=f"test:{now:.0f}",
        rule="test",
        provider="all",
        title="OpenTokenMonitor test alert",
        body="If you can read this, alerts reach you here.",
        severity="info",
        raised_at=now,
    )


def send_trial_alert(runtime: Runtime) -> list[dict[str, Any]]:
    """Deliver the test alert to each channel; one answer per channel, in order."""
    from services.notifier.channels.build import build_channels

    url = f"http://127.0.0.1:{runtime.config.api_port}/"
    channels = build_channels(runtime.config.alerts, url)
    alert = trial_alert(time.time())
    answers = []
    try:
        for channel in channels:
            delivery = channel.deliver(alert)
            answers.append(
                {
                    "channel": channel.name,
                    "ok": delivery.ok,
                    "answer": delivery.answer,
                    "fix": delivery.fix,
                }
            )
    finally:
        for channel in channels:
            channel.close()
    return answers
