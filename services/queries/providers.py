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
RUNNING_FIX = "the stack asks every few minutes; `otm refresh` asks now"
DEMO_REASON = "demo data: live limits are not asked for"
DEMO_FIX = "use Claude Code, Codex or Gemini CLI here; otm then reads their logs and limits"
OFF_REASON = "live limits are off ([limits] enabled = false)"
OFF_FIX = "set [limits] enabled = true in the config file to ask the providers"


def unchecked(
    status: LiveStatus | None, *, running: bool, demo: bool, enabled: bool
) -> tuple[str, str]:
    """Why live limits are not known to work (never asked, or asked a while ago), and the fix
    that fits: the demo and ``[limits] enabled = false`` never ask, a running stack will."""
    if demo:
        return DEMO_REASON, DEMO_FIX
    if not enabled:
        return OFF_REASON, OFF_FIX
    reason = (
        "live limits not checked yet" if status is None else "live limits last checked a while ago"
    )
    return reason, RUNNING_FIX if running else NOT_CHECKED_FIX


def provider_states(
    roots: list[dict[str, Any]],
    live: dict[str, LiveStatus],
    windows: list[LimitWindow],
    now: float,
    fresh_seconds: float = STALE_AFTER_SECONDS,
    *,
    running: bool = False,
    demo: bool = False,
    enabled: bool = True,
) -> dict[str, dict[str, Any]]:
    """The state of every provider from its roots (``otm status`` rows), live statuses and
    committed windows; a live check older than ``fresh_seconds`` no longer counts as working.
    ``running``, ``demo`` and ``enabled`` (``[limits]``) choose the fix for an unchecked one."""
    context = {"running": running, "demo": demo, "enabled": enabled}
    out = {}
    for provider in PROVIDERS:
        files = sum(r["files"] for r in roots if r["provider"] == provider)
        known = [w for w in windows if w.provider == provider]
        status = live.get(provider)
        out[provider] = _state(provider, files, bool(known), status, now, fresh_seconds, context)
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
    context: dict[str, bool],
) -> dict[str, Any]:
    fresh = status is not None and now - status.checked_at <= fresh_seconds
    if status is not None and status.state == "ok" and fresh:
        return {"state": "available", "reason": "", "fix": ""}
    if status is None or status.state == "ok":
        reason, fix = unchecked(status, **context)
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
