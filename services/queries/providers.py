"""Each provider's overall state: available, partial or unavailable, with the reason and fix.

``available``: its live limits answered recently. ``partial``: usage is counted from its logs,
or limits were seen (from the logs, the statusline or an earlier live check), but the live
limits are not working now; the reason says why. ``unavailable``: none of these.
"""

from __future__ import annotations

from typing import Any

from bus.messages import PROVIDERS, LimitWindow, LiveStatus
from services.queries.reports.limits import STALE_AFTER_SECONDS, status_json

NOT_CHECKED_FIX = "start the stack (`otm up`), which checks every few minutes, or `otm refresh`"


def provider_states(
    roots: list[dict[str, Any]],
    live: dict[str, LiveStatus],
    windows: list[LimitWindow],
    now: float,
    fresh_seconds: float = STALE_AFTER_SECONDS,
) -> dict[str, dict[str, Any]]:
    """The state of every provider from its roots (``otm status`` rows), live statuses and
    committed windows; a live check older than ``fresh_seconds`` no longer counts as working."""
    out = {}
    for provider in PROVIDERS:
        files = sum(r["files"] for r in roots if r["provider"] == provider)
        known = [w for w in windows if w.provider == provider]
        status = live.get(provider)
        out[provider] = _state(provider, files, bool(known), status, now, fresh_seconds)
        out[provider]["logFiles"] = files
        out[provider]["live"] = None if status is None else status_json(status, now)
    return out


def _state(
    provider: str,
    files: int,
    has_windows: bool,
    status: LiveStatus | None,
    now: float,
    fresh_seconds: float,
) -> dict[str, Any]:
    fresh = status is not None and now - status.checked_at <= fresh_seconds
    if status is not None and status.state == "ok" and fresh:
        return {"state": "available", "reason": "", "fix": ""}
    if status is None:
        reason, fix = "live limits not checked yet", NOT_CHECKED_FIX
    elif status.state == "ok":
        reason, fix = "live limits last checked a while ago", NOT_CHECKED_FIX
    else:
        reason, fix = status.reason, status.fix
    if files or has_windows:
        counted = f"usage counted from {files} log files" if files else "last known limits kept"
        return {"state": "partial", "reason": f"{counted}; {reason}", "fix": fix}
    return {
        "state": "unavailable",
        "reason": f"no {provider} logs found; {reason}",
        "fix": fix,
    }
