"""``otm refresh``: ask the providers' live limits endpoints now, then show the limits.

With the stack running the request goes over the bus (the collector polls, the store commits,
and we wait for the commits to come back); without it, the same poller runs in this process.
Either way the polling gate applies: a provider asked less than ``[limits]
min_interval_seconds`` ago is not asked again, and its last answer is shown instead.
"""

from __future__ import annotations

import contextlib
import time

from bus.client import Publisher, Subscriber
from bus.lock import AlreadyRunning, is_held
from bus.messages import PROVIDERS, LimitsCommitted, RefreshRequested
from services.runtime.installation import Runtime
from services.runtime.lifecycle import SILENT_AFTER_SECONDS

COLLECTOR_DOWN = "not asked: the collector is not running (start the stack with `otm up`)"
NOT_ASKED_DEMO = "not asked: demo data has no live limits (no CLI is used on this machine yet)"
NOT_ASKED_OFF = "not asked: live limits are off ([limits] enabled = false)"
RESEND_SECONDS = 0.3
"""A fresh PUB socket drops what it sends before its subscriptions arrive: say it again
(the collector's gate makes repeats harmless)."""


def refresh(runtime: Runtime, provider: str) -> dict[str, str]:
    """Ask for a live poll of ``provider`` (or all); return what happened per provider."""
    providers = PROVIDERS if provider == "all" else (provider,)
    if runtime.demo or not runtime.config.limits.enabled:
        why = NOT_ASKED_DEMO if runtime.demo else NOT_ASKED_OFF
        return dict.fromkeys(providers, why)
    if is_held(runtime.lock_path("store")):
        return _through_stack(runtime, providers)
    from services.queries.catchup import catch_up

    polled: tuple[str, ...] = ()
    with contextlib.suppress(AlreadyRunning):
        polled = catch_up(runtime, live=providers).live_polled
    return {
        p: "checked" if p in polled else "not asked (asked recently or backing off)"
        for p in providers
    }


def _through_stack(runtime: Runtime, providers: tuple[str, ...]) -> dict[str, str]:
    timeout = 3 * runtime.config.limits.timeout_seconds + 5
    outcome = {p: "not asked (asked recently or backing off)" for p in providers}
    subscriber = Subscriber(tuple(f"evt.limits.{p}" for p in providers), runtime.endpoints)
    publisher = Publisher(runtime.endpoints)
    try:
        requested_at = time.time()
        deadline = time.monotonic() + timeout
        quiet_after = time.monotonic() + 2.0
        next_send = 0.0
        while time.monotonic() < deadline and any(v.startswith("not") for v in outcome.values()):
            if time.monotonic() >= next_send and time.monotonic() < quiet_after:
                for name in providers:
                    publisher.publish(
                        RefreshRequested(
                            provider=name, reason="manual", requested_at=time.time(), live=True
                        )
                    )
                next_send = time.monotonic() + RESEND_SECONDS
            received = subscriber.recv(100)
            if received is None:
                if time.monotonic() <= quiet_after:
                    continue
                collector = _collector_state(runtime, requested_at)
                if collector == "down":
                    return {p: COLLECTOR_DOWN for p in providers}
                if collector == "idle":
                    break
                continue
            event = received[1]
            status = event.status if isinstance(event, LimitsCommitted) else None
            if status is not None and status.checked_at >= requested_at - 1:
                outcome[status.provider] = "checked"
    finally:
        subscriber.close()
        publisher.close()
    return outcome


def _collector_state(runtime: Runtime, since: float) -> str:
    """From the collector's latest heartbeat (the running store's, else the one it last
    wrote down): ``down`` when it has not beaten for a while, ``busy`` when it lists polls in
    flight or cannot tell yet (its last beat predates our request), else ``idle``."""
    import sqlite3

    from services.queries.heartbeats import latest_heartbeats
    from services.store.database import connect_reader

    try:
        conn = connect_reader(str(runtime.db_path)) if runtime.db_path.exists() else None
        try:
            beats = latest_heartbeats(runtime, conn)
        finally:
            if conn is not None:
                conn.close()
    except sqlite3.Error:
        return "busy"
    beat = next((b for b, _received in beats if b.process == "collector"), None)
    if beat is None:
        return "down"
    if beat.stopping or time.time() - beat.sent_at > SILENT_AFTER_SECONDS:
        return "down"
    if beat.sent_at < since + 1.0 or beat.detail.get("live_running"):
        return "busy"
    return "idle"
