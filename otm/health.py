"""Drawing ``otm status`` and ``otm doctor`` for people (the JSON forms are the queries' own)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from services.collector.live.source import utc_text
from services.queries.doctor import diagnose
from services.queries.status import collect_status
from services.queries.status_types import Drops
from services.runtime.installation import Runtime
from services.runtime.runner import DROPPED


def show_status(runtime: Runtime, as_json: bool) -> int:
    """Print ``otm status`` as JSON or as rich tables; the exit status (1: the database is
    damaged, and then only that one line is printed, unless as JSON)."""
    status = collect_status(runtime)
    damaged = [t for t in status["trouble"] if t["state"] == "damaged"]
    if as_json:
        sys.stdout.write(json.dumps(status, indent=2) + "\n")
        return 1 if damaged else 0
    if damaged:
        Console(stderr=True).print(
            f"[bold red]error:[/] {escape(damaged[0]['message'])}", soft_wrap=True
        )
        return 1
    console = Console()
    for trouble in status["trouble"]:
        line = f"{trouble['process']}: {trouble['message']}"
        console.print(f"[bold red]{escape(line)}[/]", soft_wrap=True)
    mode = " [yellow](demo data)[/]" if status["demo"] else ""
    console.print(f"[bold]OpenTokenMonitor[/] {status['database']}{mode}")
    console.print(f"head seq: [bold]{status['headSeq']}[/]")
    procs = Table("process", "pid", "state", "last seen", "counters", title="Processes")
    for p in status["processes"]:
        state = "[green]up[/]" if p["alive"] else "[red]down[/]"
        counters = ", ".join(
            f"{k}={v}"
            for k, v in sorted(p["counters"].items())
            if v and not k.startswith(DROPPED)  # summed up below the table
        )
        procs.add_row(
            p["process"], str(p["pid"]), state, f"{p['lastSeenSecondsAgo']}s ago", counters
        )
    console.print(procs)
    console.print(drop_line("bus garbage dropped", status["busGarbageDropped"]))
    console.print(drop_line("forged or unconfirmed events dropped", status["eventsRefused"]))
    ignored = status["unknownHeartbeatsIgnored"]
    if ignored:
        console.print(f"{ignored} heartbeats from unknown processes ignored")
    console.print(machines_table(status["machines"]))
    roots = Table("provider", "root", "exists", "log files", "unreadable dirs", title="Data roots")
    for r in status["roots"]:
        roots.add_row(
            r["provider"],
            r["path"],
            "yes" if r["exists"] else "no",
            str(r["files"]),
            str(len(r["unreadableDirs"])),
        )
    console.print(roots)
    providers = Table("provider", "state", "why", "fix", title="Providers")
    colours = {"available": "green", "partial": "yellow", "unavailable": "red"}
    for name, provider in status["providers"].items():
        state = f"[{colours[provider['state']]}]{provider['state']}[/]"
        providers.add_row(name, state, provider["reason"], provider["fix"])
    console.print(providers)
    if status["skipped"]:
        skips = Table("reason", "lines", title="Skipped input")
        for reason, count in status["skipped"].items():
            skips.add_row(reason, str(count))
        console.print(skips)
    else:
        console.print("skipped input: none")
    channels = status.get("alertChannels", [])
    if channels:
        table = Table(
            "channel", "delivered", "waiting", "failed", "problem", title="Alert channels"
        )
        for c in channels:
            counts = c["deliveries"]
            problem = c["problem"]
            text = ""
            if problem:
                fix = f" — fix: {problem['fix']}" if problem["fix"] else ""
                text = f"[red]{escape(problem['answer'])}[/]{escape(fix)}"
            table.add_row(
                c["channel"],
                str(counts.get("delivered", 0)),
                str(counts.get("pending", 0) + counts.get("held", 0)),
                str(counts.get("failed", 0)),
                text,
            )
        console.print(table)
    if status.get("pricedAs"):
        console.print(
            "[dim]priced as the known model in their name:[/] "
            + ", ".join(f"{m} as {known}" for m, known in sorted(status["pricedAs"].items()))
        )
    if status["unpricedModels"]:
        console.print(
            '[yellow]unpriced models[/] (add [pricing.overrides."<model>"] to config.toml): '
            + ", ".join(status["unpricedModels"])
        )
    return 0


def machines_table(machines: list[Any]) -> Table:
    """The machines seen: name, id prefix, its latest record and when it was last heard."""
    table = Table("machine", "id", "last record (UTC)", "last heard", title="Machines")
    for m in machines:
        heard = m["lastHeardSecondsAgo"]
        table.add_row(
            escape(m["name"]) + (" [dim](this one)[/]" if m["local"] else ""),
            m["id"][:8],
            (m["lastRecord"] or "-").replace("T", " ").removesuffix("Z"),
            "-" if heard is None else f"{heard}s ago",
        )
    return table


def drop_line(what: str, drops: Drops) -> str:
    """``what: N (process: reason n, ...; ...)``, or ``what: none``."""
    if not drops["total"]:
        return f"{what}: none"
    parts = "; ".join(
        f"{process}: " + ", ".join(f"{reason} {n}" for reason, n in reasons.items())
        for process, reasons in drops["byProcess"].items()
    )
    return f"{what}: {drops['total']} ({escape(parts)})"


def show_doctor(runtime: Runtime, provider: str, live: bool, as_json: bool) -> None:
    """Print ``otm doctor`` as JSON or as readable text."""
    report = diagnose(runtime, provider, live)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
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
            console.print(f"  logs   {escape(root['path'])}: {where}")
        credentials = p["credentials"] or {}
        if credentials.get("note"):
            console.print(f"  note   {escape(credentials['note'])}")
        for line in credentials.get("lookedAt", []):
            console.print(f"  looked {escape(line)}")
        auth = credentials.get("auth")
        if auth:
            expiry = _expiry(auth["expiresAt"])
            plan = f", plan {auth['plan']}" if auth["plan"] else ""
            console.print(f"  auth   {auth['kind']} from {escape(auth['source'])}{plan}{expiry}")
        problem = credentials.get("problem")
        # diagnose() gives the credentials' problem as the provider's reason when no poll has
        # succeeded: print that text once, not as both "problem" and "why".
        if problem and problem["reason"] != p["reason"]:
            console.print(f"  [red]problem[/] {escape(problem['reason'])}")
        checked = p["live"]
        if checked is not None:
            state = checked["state"]
            outcome = "[green]ok[/]" if state == "ok" else f"[yellow]{state}[/]"
            console.print(f"  live   last checked {checked['ageSeconds']} s ago: {outcome}")
            if checked["reason"]:
                console.print(f"         {escape(checked['reason'])}")
        if p["reason"]:
            console.print(f"  why    {escape(p['reason'])}")
        if p["fix"]:
            console.print(f"  [bold]fix[/]    {escape(p['fix'])}")
    _show_state_access(console, report["stateDir"], report.get("stateAccess", []))
    channels = report.get("alertChannels", [])
    if channels:
        console.print("\n[bold]alert channels[/]")
    for c in channels:
        delivered = c["deliveries"].get("delivered", 0)
        problem = c["problem"]
        state = "[red]failing[/]" if problem else "[green]ok[/]"
        console.print(f"  {escape(c['channel'])}: {state}, {delivered} delivered")
        if problem:
            console.print(f"        {escape(problem['answer'])}")
            if problem["fix"]:
                console.print(f"  [bold]fix[/]   {escape(problem['fix'])}")


def _show_state_access(console: Console, state: str, findings: list[dict[str, str]]) -> None:
    console.print(f"\n[bold]state folder[/] {escape(state)}")
    if not findings:
        console.print("  [green]private[/]: no other user can read it")
    for finding in findings:
        console.print(f"  [red]open[/]  {escape(finding['reason'])}")
        console.print(f"  [bold]fix[/]   {escape(finding['fix'])}")


def _expiry(expires_at: float | None) -> str:
    if expires_at is None:
        return ""
    left = expires_at - time.time()
    when = utc_text(expires_at)
    return f", expired {when}" if left <= 0 else f", valid until {when}"
