"""Delivery helpers: retry pauses, quiet hours, snoozes, summaries and the worker thread."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bus.messages import Alert
from services.notifier.channels import Delivery
from services.notifier.delivery import (
    Worker,
    in_quiet_hours,
    parse_duration,
    retry_after,
    snooze,
    snoozed_until,
    summary,
)
from tests.helpers import alert as shared_alert
from tests.helpers import wait_until


def alert(key: str, severity: str = "warning") -> Alert:
    """The shared alert under ``key``, titled after it."""
    return shared_alert(key=key, title=f"title {key}", severity=severity)


def at(hour: int, minute: int = 0) -> float:
    """Today at ``hour:minute`` local time, as epoch seconds."""
    return datetime.now().replace(hour=hour, minute=minute, second=0).timestamp()


class Recorder:
    """A channel that records what it was given and answers as told."""

    name = "recorder"

    def __init__(self, answer: Delivery) -> None:
        self.answer = answer
        self.got: list[str] = []

    def deliver(self, given: Alert) -> Delivery:
        """Record and answer."""
        self.got.append(given.key)
        return self.answer

    def close(self) -> None:
        """Nothing to close."""


def test_retry_pauses_grow_and_then_stay_hourly() -> None:
    """5 s, 30 s, 2 min, 10 min, then an hour every time."""
    assert [5.0, 30.0, 120.0, 600.0, 3600.0, 3600.0] == [retry_after(n) for n in range(1, 7)]


def test_quiet_hours_over_midnight() -> None:
    """22:00-07:00 holds 23:30 and 06:59, not 07:00 or 12:00."""
    assert [True, True, False, False] == [
        in_quiet_hours("22:00-07:00", at(h, m)) for h, m in ((23, 30), (6, 59), (7, 0), (12, 0))
    ]


def test_quiet_hours_within_a_day() -> None:
    """13:00-14:00 holds 13:15 only."""
    assert [False, True, False] == [
        in_quiet_hours("13:00-14:00", at(h, m)) for h, m in ((12, 59), (13, 15), (14, 0))
    ]


def test_no_quiet_hours_hold_nothing() -> None:
    """An empty setting is never quiet."""
    assert not in_quiet_hours("", at(3))


def test_durations_for_snooze() -> None:
    """30m, 2h, 1d, 90s and a bare number of minutes; nonsense is None."""
    assert [1800.0, 7200.0, 86400.0, 90.0, 600.0, None, None] == [
        parse_duration(t) for t in ("30m", "2h", "1d", "90s", "10", "soon", "-2h")
    ]


def test_snooze_until_and_off(tmp_path: Path) -> None:
    """A snooze is in force until its end; off lifts it."""
    until = snooze(tmp_path, 3600)
    held = snoozed_until(tmp_path)
    snooze(tmp_path, None)
    assert (until, None) == (held, snoozed_until(tmp_path))


def test_summary_stands_for_what_was_held() -> None:
    """One alert naming the held ones, critical if any was."""
    note = summary([alert("a"), alert("b", "critical")], now=5.0, demo=False)
    assert ("2 alerts while notifications were held", "title a; title b", "critical") == (
        note.title,
        note.body,
        note.severity,
    )


def test_worker_hands_each_delivery_to_its_channel_and_back() -> None:
    """Submitted deliveries come back with the channel's answer; a repeat while in hand is
    ignored."""
    channel = Recorder(Delivery(ok=True, answer="shown"))
    worker = Worker([channel])
    worker.submit("k1", "recorder", alert("k1"))
    worker.submit("k1", "recorder", alert("k1"))
    answers = wait_until(lambda: worker.answers(), timeout=5, what="an answer")
    worker.close()
    assert (["k1"], [("k1", "recorder", True)]) == (
        channel.got,
        [(a.key, a.channel, a.delivery.ok) for a in answers],
    )


def test_worker_survives_a_channel_that_raises() -> None:
    """A channel breaking its promise not to raise gives a failed, retryable answer."""

    class Broken(Recorder):
        def deliver(self, given: Alert) -> Delivery:
            """Break."""
            raise RuntimeError("boom")

    worker = Worker([Broken(Delivery(ok=True, answer=""))])
    worker.submit("k", "recorder", alert("k"))
    (answer,) = wait_until(lambda: worker.answers(), timeout=5, what="an answer")
    worker.close()
    assert (False, True) == (answer.delivery.ok, answer.delivery.retry)
