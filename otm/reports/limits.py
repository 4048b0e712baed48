"""Rate-limit windows as last committed, with what a reader must compute itself.

The store keeps each provider's latest observation of each window (``limits`` projection). The
countdown and the staleness are computed here, at read time, from ``resets_at`` and
``observed_at``: a stored countdown would be frozen the moment it was written.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import msgspec

from bus.messages import LimitWindow

STALE_AFTER_SECONDS = 15 * 60
"""An observation older than this is flagged stale: the window has moved on since."""
_window_decoder = msgspec.msgpack.Decoder(LimitWindow)


def limits_report(
    conn: sqlite3.Connection, provider: str = "all", now: float | None = None
) -> dict[str, Any]:
    """Every window of ``provider`` (or of all), JSON-ready, ordered by provider and window."""
    now = time.time() if now is None else now
    rows = conn.execute("SELECT observation FROM limits ORDER BY provider, window_name").fetchall()
    windows = [_window_decoder.decode(blob) for (blob,) in rows]
    return {
        "limits": [window_json(w, now) for w in windows if provider in ("all", w.provider)],
        "checkedAt": now,
    }


def window_json(window: LimitWindow, now: float) -> dict[str, Any]:
    """One window with its live countdown. Once its reset time has passed, the last observed
    percentage no longer describes the window, so ``usedPercent`` is ``None`` (unknown) until a
    newer observation arrives; it is never guessed."""
    reset_passed = window.resets_at is not None and window.resets_at <= now
    age = max(0.0, now - window.observed_at)
    return {
        "provider": window.provider,
        "window": window.window,
        "usedPercent": None if reset_passed else window.used_percent,
        "observedUsedPercent": window.used_percent,
        "resetsAt": window.resets_at,
        "resetsInSeconds": None
        if window.resets_at is None
        else max(0, round(window.resets_at - now)),
        "windowSeconds": window.window_seconds,
        "source": window.source,
        "observedAt": window.observed_at,
        "ageSeconds": round(age),
        "stale": reset_passed or age > STALE_AFTER_SECONDS,
        "resetSinceObserved": reset_passed,
        "detail": window.detail,
    }
