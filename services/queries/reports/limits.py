"""Rate-limit windows, credits and each provider's live status, as last committed.

The store keeps each provider's latest observation of each window (``limits``), its credits
and its last live poll (``provider_status``). Countdowns and staleness are computed here, at
read time, from ``resets_at`` and ``observed_at``: a stored countdown would be frozen the moment
it was written. A window is stale when it is old, when its reset has passed, or when a later
live poll of its provider failed (then ``staleReason`` says why).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import msgspec

from bus.messages import AuthInfo, CreditBalance, LimitWindow, LiveStatus
from services.queries.reports.common import providers_of

STALE_AFTER_SECONDS = 15 * 60
"""An observation older than this is flagged stale: the window has moved on since."""
_window_decoder = msgspec.msgpack.Decoder(LimitWindow)
_credit_decoder = msgspec.msgpack.Decoder(CreditBalance)
_status_decoder = msgspec.msgpack.Decoder(LiveStatus)


def stale_after(poll_seconds: float) -> float:
    """How old a number may be before it is flagged: 15 minutes, or two polls when the
    configured cadence is slower than that."""
    return max(float(STALE_AFTER_SECONDS), 2 * poll_seconds + 60)


def limits_report(
    conn: sqlite3.Connection,
    provider: str = "all",
    now: float | None = None,
    stale_seconds: float = STALE_AFTER_SECONDS,
) -> dict[str, Any]:
    """Every window, credit and live status of ``provider`` (or of all), JSON-ready;
    ``ReportError`` for an unknown provider (as every report)."""
    now = time.time() if now is None else now
    wanted = providers_of(provider)
    statuses = {p: s for p, s in live_statuses(conn).items() if p in wanted}
    rows = conn.execute("SELECT observation FROM limits ORDER BY provider, window_name").fetchall()
    windows = [_window_decoder.decode(blob) for (blob,) in rows]
    return {
        "limits": [
            window_json(w, now, statuses.get(w.provider), stale_seconds)
            for w in windows
            if w.provider in wanted
        ],
        "credits": [credit_json(c) for c in credits(conn) if c.provider in wanted],
        "live": {p: status_json(s, now) for p, s in sorted(statuses.items())},
        "checkedAt": now,
    }


def live_statuses(conn: sqlite3.Connection) -> dict[str, LiveStatus]:
    """Each provider's last committed live poll outcome (none before the first poll)."""
    try:
        rows = conn.execute("SELECT provider, status FROM provider_status").fetchall()
    except sqlite3.OperationalError:  # a database from before schema v3, opened read-only
        return {}
    return {str(p): _status_decoder.decode(blob) for p, blob in rows}


def credits(conn: sqlite3.Connection) -> list[CreditBalance]:
    """Every committed credit balance, by provider and name."""
    try:
        rows = conn.execute("SELECT credit FROM credits ORDER BY provider, name").fetchall()
    except sqlite3.OperationalError:
        return []
    return [_credit_decoder.decode(blob) for (blob,) in rows]


def window_json(
    window: LimitWindow,
    now: float,
    status: LiveStatus | None = None,
    stale_seconds: float = STALE_AFTER_SECONDS,
) -> dict[str, Any]:
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
        "estimated": window.source == "estimated",
        "observedAt": window.observed_at,
        "ageSeconds": round(age),
        "stale": stale_reason(window, now, status, stale_seconds) is not None,
        "staleReason": stale_reason(window, now, status, stale_seconds),
        "resetSinceObserved": reset_passed,
        "detail": window.detail,
    }


def stale_reason(
    window: LimitWindow,
    now: float,
    status: LiveStatus | None,
    stale_seconds: float = STALE_AFTER_SECONDS,
) -> str | None:
    """Why this number may no longer be right, or ``None`` when it is current."""
    if window.resets_at is not None and window.resets_at <= now:
        return "the window has reset since this was observed"
    failed_since = (
        status is not None and status.state != "ok" and status.checked_at > window.observed_at
    )
    if window.source == "live" and status is not None and failed_since:
        return f"the last live check failed: {status.reason}" if status.reason else "check failed"
    if now - window.observed_at > stale_seconds:
        minutes = round((now - window.observed_at) / 60)
        return f"observed {minutes} min ago"
    return None


def credit_json(credit: CreditBalance) -> dict[str, Any]:
    """One credit balance; amounts stay the decimal strings the provider sent."""
    return {
        "provider": credit.provider,
        "name": credit.name,
        "balance": credit.balance,
        "used": credit.used,
        "limit": credit.limit,
        "currency": credit.currency,
        "usedPercent": credit.used_percent,
        "unlimited": credit.unlimited,
        "enabled": credit.enabled,
    }


def status_json(status: LiveStatus, now: float) -> dict[str, Any]:
    """A live poll outcome with its age and the auth state (never a secret: there is none in
    a ``LiveStatus``)."""
    auth = status.auth
    return {
        "state": status.state,
        "kind": status.kind,
        "reason": status.reason,
        "fix": status.fix,
        "checkedAt": status.checked_at,
        "ageSeconds": round(max(0.0, now - status.checked_at)),
        "httpStatus": status.http_status,
        "retryAfter": status.retry_after,
        "nextPollAt": status.next_poll_at,
        "lastSuccessAt": status.last_success_at,
        "consecutiveFailures": status.consecutive_failures,
        "auth": None if auth is None else auth_json(auth, now),
    }


def auth_json(auth: AuthInfo, now: float) -> dict[str, Any]:
    """Where a sign-in came from, its kind, expiry and plan (an ``AuthInfo`` holds no secret)."""
    return {
        "source": auth.source,
        "kind": auth.kind,
        "expiresAt": auth.expires_at,
        "expired": auth.expires_at is not None and auth.expires_at <= now,
        "plan": auth.plan,
        "scopes": list(auth.scopes),
    }
