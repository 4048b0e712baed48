"""``otm doctor``: for each provider, what was found where, what works, what fails, the fix.

It reads the credentials (never printing a secret: sources return only where they came from,
the kind, the plan and the expiry), the data roots and the last committed live check. With
``--live`` it asks the endpoints first, through the same polling gate as everything else.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from bus.messages import PROVIDERS
from services.collector.live.source import utc_text
from services.queries.reports.limits import auth_json
from services.queries.status import collect_status
from services.runtime.installation import Runtime, without_demo


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
    return out


def _inspect(runtime: Runtime, wanted: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """What each live source can tell without the network."""
    if not runtime.config.limits.enabled:
        return {p: {"found": ["live limits are off ([limits] enabled = false)"]} for p in wanted}
    from services.collector.live.source_set import build_live_sources

    sources = build_live_sources(runtime)
    now = time.time()
    out: dict[str, dict[str, Any]] = {}
    for name in wanted:
        source = sources.get(name)
        if source is None:
            out[name] = {"found": ["demo mode: live limits are not checked"]}
            continue
        inspection = source.inspect(now)
        auth = inspection.auth
        failure = inspection.failure
        out[name] = {
            "found": list(inspection.found),
            "auth": None if auth is None else auth_json(auth, now),
            "problem": None
            if failure is None
            else {"kind": failure.kind, "reason": failure.reason, "fix": failure.fix},
        }
    return out


def show_doctor(runtime: Runtime, provider: str, live: bool, as_json: bool) -> None:
    """Print the diagnosis as JSON or as readable text."""
    report = diagnose(runtime, provider, live)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    colours = {"available": "green", "partial": "yellow", "unavailable": "red"}
    if report["demo"]:
        console.print(
            "[yellow]demo mode[/]: no CLI data was found, so `otm up` shows demo data; "
            "below is where real data was looked for"
        )
    providers: dict[str, dict[str, Any]] = report["providers"]
    for name, p in providers.items():
        console.print(f"\n[bold]{name}[/]: [{colours[p['state']]}]{p['state']}[/]")
        for root in p["roots"]:
            where = f"{root['logFiles']} log files" if root["exists"] else "missing"
            console.print(f"  logs  {escape(root['path'])}: {where}")
        credentials = p["credentials"] or {}
        for line in credentials.get("found", []):
            console.print(f"  auth  {escape(line)}")
        auth = credentials.get("auth")
        if auth:
            expiry = _expiry(auth["expiresAt"])
            plan = f", plan {auth['plan']}" if auth["plan"] else ""
            console.print(f"  auth  {auth['kind']} from {escape(auth['source'])}{plan}{expiry}")
        problem = credentials.get("problem")
        if problem:
            console.print(f"  [red]problem[/] {escape(problem['reason'])}")
        checked = p["live"]
        if checked is not None:
            state = checked["state"]
            outcome = "[green]ok[/]" if state == "ok" else f"[yellow]{state}[/]"
            console.print(f"  live  last checked {checked['ageSeconds']} s ago: {outcome}")
            if checked["reason"]:
                console.print(f"        {escape(checked['reason'])}")
        if p["reason"]:
            console.print(f"  why   {escape(p['reason'])}")
        if p["fix"]:
            console.print(f"  [bold]fix[/]   {escape(p['fix'])}")


def _expiry(expires_at: float | None) -> str:
    if expires_at is None:
        return ""
    left = expires_at - time.time()
    when = utc_text(expires_at)
    return f", expired {when}" if left <= 0 else f", valid until {when}"
