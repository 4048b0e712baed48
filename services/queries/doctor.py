"""``otm doctor``: for each provider, what was found where, what works, what fails, the fix.

It reads the credentials (never printing a secret: sources return only where they came from,
the kind, the plan and the expiry), the data roots and the last committed live check. With
``--live`` it asks the endpoints first, through the same polling gate as everything else.

It also names every file and folder of the state folder that other users may read, write or
enter (processes tighten their own at start; what is left is someone else's, or shared), with
the command that fixes it.
"""

from __future__ import annotations

import time
from typing import Any

from bus.messages import PROVIDERS
from services.queries.alerts import channel_health
from services.queries.reports.limits import auth_json
from services.queries.status import collect_status
from services.runtime.installation import Runtime, exposures, without_demo


def diagnose(runtime: Runtime, provider: str = "all", live: bool = False) -> dict[str, Any]:
    """Every provider's findings, JSON-ready."""
    wanted = PROVIDERS if provider == "all" else (provider,)
    demo = runtime.demo
    real = without_demo(runtime)
    refreshed: dict[str, str] = {}
    if live:
        from services.queries.refresh import refresh

        refreshed = refresh(runtime, provider)
    status = collect_status(real)
    inspections = _inspect(real, wanted)
    out: dict[str, Any] = {"demo": demo, "stateDir": str(runtime.state), "providers": {}}
    for name in wanted:
        overview = status["providers"][name]
        reason, fix = overview["reason"], overview["fix"]
        problem = (inspections.get(name) or {}).get("problem")
        live_ok = overview["live"] is not None and overview["live"]["state"] == "ok"
        if problem and not live_ok:
            # The credentials say why before any poll could: that is the fix to show.
            reason, fix = problem["reason"], problem["fix"]
        out["providers"][name] = {
            "state": overview["state"],
            "reason": reason,
            "fix": fix,
            "roots": [
                {"path": r["path"], "exists": r["exists"], "logFiles": r["files"]}
                for r in status["roots"]
                if r["provider"] == name
            ],
            "credentials": inspections.get(name),
            "live": overview["live"],
            "refreshed": refreshed.get(name),
        }
    # The notifier's channels as they are (the demo's too: they are real channels).
    out["alertChannels"] = channel_health(runtime)
    out["stateAccess"] = state_access(runtime)
    return out


def state_access(runtime: Runtime) -> list[dict[str, str]]:
    """Each file or folder of the state folder open to other users: what, why, the fix."""
    return [
        {"path": str(e.path), "reason": e.reason, "fix": e.fix} for e in exposures(runtime.state)
    ]


def _inspect(runtime: Runtime, wanted: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """What each live source can tell without the network."""
    if not runtime.config.limits.enabled:
        off = "live limits are off ([limits] enabled = false)"
        return {p: {"lookedAt": [], "note": off} for p in wanted}
    from services.collector.live.source_set import build_live_sources

    sources = build_live_sources(runtime)
    now = time.time()
    out: dict[str, dict[str, Any]] = {}
    for name in wanted:
        source = sources.get(name)
        if source is None:
            out[name] = {"lookedAt": [], "note": "demo mode: live limits are not checked"}
            continue
        inspection = source.inspect(now)
        auth = inspection.auth
        failure = inspection.failure
        out[name] = {
            # Each place looked at and what was there ("…: missing" too): not all were found.
            "lookedAt": list(inspection.found),
            "note": None,
            "auth": None if auth is None else auth_json(auth, now),
            "problem": None
            if failure is None
            else {"kind": failure.kind, "reason": failure.reason, "fix": failure.fix},
        }
    return out
