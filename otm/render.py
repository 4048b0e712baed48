"""Rich tables for people; the JSON shape stays the machine interface.

Every table is drawn from the report's JSON dict (the same one ``--json`` prints), ends with a
totals row, and is followed by one line per model that has no price.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

PROVIDER_TITLES = {
    "claude": "Claude Code",
    "codex": "Codex",
    "gemini": "Gemini CLI",
    "all": "AI coding CLIs",
}
KIND_TITLES = {
    "daily": "by day",
    "weekly": "by week",
    "monthly": "by month",
    "session": "by session",
    "project": "by project",
    "blocks": "in 5-hour blocks",
}
_TOKEN_COLUMNS = (
    ("Input", "inputTokens"),
    ("Output", "outputTokens"),
    ("Cache write", "cacheCreationTokens"),
    ("Cache read", "cacheReadTokens"),
)


def render_report(
    kind: str, report: dict[str, Any], provider: str, tz: str, demo: bool = False
) -> None:
    """Print ``report`` (of ``kind``) as a table with a totals row, then its unpriced models."""
    console = Console()
    title = f"{PROVIDER_TITLES.get(provider, provider)} usage {KIND_TITLES[kind]}"
    if demo:
        title += " (demo data)"
    if kind == "blocks":
        _render_blocks(console, title, report, provider, ZoneInfo(tz))
    else:
        _render_rows(console, title, kind, report, provider)
    render_unpriced(console, report)


def render_unpriced(console: Console, report: dict[str, Any]) -> None:
    """One line per model without a price: its tokens are counted, its dollars are not."""
    for item in report.get("unpriced", []):
        where = f"{item['provider']} " if "provider" in item else ""
        section = escape(f'[pricing.overrides."{item["model"]}"]')
        console.print(
            f"[yellow]unpriced:[/] {where}{escape(item['model'])} ({item['tokens']:,} tokens) is "
            f"not in genai-prices; its cost is not included. Add {section} to config.toml."
        )


def _heads(kind: str, row: dict[str, Any]) -> list[str]:
    if kind == "session":
        return [row["sessionId"], row["projectPath"], row["lastActivity"]]
    if kind == "project":
        return [row["project"], row["lastActivity"]]
    return [row[{"daily": "date", "weekly": "week", "monthly": "month"}[kind]]]


_HEAD_COLUMNS = {
    "daily": ["Date"],
    "weekly": ["Week"],
    "monthly": ["Month"],
    "session": ["Session", "Project", "Last activity"],
    "project": ["Project", "Last activity"],
}


def _render_rows(
    console: Console, title: str, kind: str, report: dict[str, Any], provider: str
) -> None:
    from services.queries.reports.build import ROWS_KEY

    totals = report["totals"]
    reasoning = "reasoningTokens" in totals
    multi = provider == "all"
    heads = _HEAD_COLUMNS[kind]
    table = Table(title=title, show_footer=False)
    for name in heads:
        table.add_column(name, justify="left")
    if multi:
        table.add_column("CLIs", justify="left")
    table.add_column("Models", justify="left", overflow="fold")
    numbers = [*_TOKEN_COLUMNS, *((("Reasoning", "reasoningTokens"),) if reasoning else ())]
    numbers.append(("Total", "totalTokens"))
    for name, _ in numbers:
        table.add_column(name, justify="right")
    table.add_column("Cost", justify="right")
    for row in report[ROWS_KEY[kind]]:
        cells = _heads(kind, row)
        if multi:
            cells.append("\n".join(row["providers"]))
        cells.append("\n".join(row["modelsUsed"]))
        cells += [f"{row[key]:,}" for _, key in numbers]
        cells.append(f"${row['totalCost']:,.2f}")
        table.add_row(*cells)
    table.add_section()
    blanks = [""] * (len(heads) - 1 + (1 if multi else 0) + 1)
    table.add_row(
        "[bold]Total[/]",
        *blanks,
        *(f"{totals[key]:,}" for _, key in numbers),
        f"[bold]${totals['totalCost']:,.2f}[/]",
    )
    console.print(table)


def _local(iso: str, tz: ZoneInfo) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _render_blocks(
    console: Console, title: str, report: dict[str, Any], provider: str, tz: ZoneInfo
) -> None:
    multi = provider == "all"
    rows = report["blocks"]
    reasoning = any("reasoningTokens" in b["tokenCounts"] for b in rows)
    table = Table(title=title, show_footer=False)
    table.add_column("Start", justify="left")
    if multi:
        table.add_column("CLI", justify="left")
    table.add_column("Status", justify="left")
    table.add_column("Models", justify="left", overflow="fold")
    counts = [
        ("Input", "inputTokens"),
        ("Output", "outputTokens"),
        ("Cache write", "cacheCreationInputTokens"),
        ("Cache read", "cacheReadInputTokens"),
    ]
    if reasoning:
        counts.append(("Reasoning", "reasoningTokens"))
    for name in ("Entries", *(n for n, _ in counts), "Total", "Cost"):
        table.add_column(name, justify="right")
    sums = {key: 0 for _, key in counts}
    entries = total = 0
    cost = 0.0
    for b in rows:
        cells = [_local(b["startTime"], tz)]
        if multi:
            cells.append(b["provider"])
        if b["isGap"]:
            cells.append(f"gap until {_local(b['endTime'], tz)}")
        else:
            cells.append("[bold green]ACTIVE[/]" if b["isActive"] else "")
        cells.append("\n".join(b["models"]))
        cells.append(f"{b['entries']:,}")
        cells += [f"{b['tokenCounts'][key]:,}" for _, key in counts]
        cells += [f"{b['totalTokens']:,}", f"${b['costUSD']:,.2f}"]
        table.add_row(*cells, style="dim" if b["isGap"] else None)
        entries += b["entries"]
        total += b["totalTokens"]
        cost += b["costUSD"]
        for _, key in counts:
            sums[key] += b["tokenCounts"][key]
    table.add_section()
    blanks = [""] * (2 + (1 if multi else 0))
    table.add_row(
        "[bold]Total[/]",
        *blanks,
        f"{entries:,}",
        *(f"{sums[key]:,}" for _, key in counts),
        f"{total:,}",
        f"[bold]${cost:,.2f}[/]",
    )
    console.print(table)
    for b in rows:
        if b["isActive"]:
            _render_active(console, b, tz)


def _render_active(console: Console, block: dict[str, Any], tz: ZoneInfo) -> None:
    who = f"{block['provider']} " if "provider" in block else ""
    line = f"[bold]Active {who}block[/] until {_local(block['endTime'], tz)}"
    burn, projection = block["burnRate"], block["projection"]
    if burn is not None and projection is not None:
        line += (
            f": {burn['tokensPerMinute']:,.0f} tokens/min, ${burn['costPerHour']:,.2f}/hour;"
            f" projected {projection['totalTokens']:,} tokens, ${projection['totalCost']:,.2f}"
            f" ({projection['remainingMinutes']} min left)"
        )
    console.print(line)
    status = block.get("tokenLimitStatus")
    if status is not None:
        colour = {"ok": "green", "warning": "yellow", "exceeds": "red"}[status["status"]]
        console.print(
            f"  token limit {status['limit']:,}: projected {status['percentUsed']:.1f}% "
            f"[{colour}]{status['status']}[/]"
        )
    window = block.get("officialWindow")
    if window is not None:
        console.print(
            f"  official {window['window']} window {_local(window['startTime'], tz)} - "
            f"{_local(window['endTime'], tz)}: {window['usedPercent']}% used "
            f"({window['totalTokens']:,} tokens, ${window['costUSD']:,.2f} logged in it)"
        )


def render_limits(report: dict[str, Any]) -> None:
    """Print rate-limit windows (use, countdown to reset, where and when each number came
    from), credits, and each provider's live check with its reason and fix when it failed."""
    console = Console()
    if report["limits"]:
        table = Table(title="Rate-limit windows")
        for name in ("Provider", "Window", "Used", "Resets in", "Source", "Observed"):
            table.add_column(name, justify="right" if name in ("Used", "Resets in") else "left")
        for w in report["limits"]:
            used = "unknown (reset)" if w["usedPercent"] is None else f"{w['usedPercent']:.0f}%"
            if w["estimated"]:
                used += " (estimate)"
            resets = "—" if w["resetsInSeconds"] is None else _duration(w["resetsInSeconds"])
            observed = _duration(w["ageSeconds"]) + " ago"
            if w["stale"]:
                observed += f" [yellow](stale: {w['staleReason']})[/]"
            table.add_row(w["provider"], w["window"], used, resets, w["source"], observed)
        console.print(table)
    else:
        console.print(
            "No rate-limit windows observed yet. They come from the providers' endpoints "
            "(`otm refresh`, or `otm up` polls them), from Codex CLI's session logs and from "
            "`otm statusline` in Claude Code. `otm doctor` says what is missing."
        )
    for c in report.get("credits", []):
        amount = "unlimited" if c["unlimited"] else c["balance"] or c["used"] or "?"
        limit = f" of {c['limit']}" if c["limit"] else ""
        console.print(f"{c['provider']} {c['name']}: {amount}{limit} {c['currency']}".rstrip())
    for provider, live in report.get("live", {}).items():
        if live["state"] == "ok":
            console.print(
                f"{provider}: live limits checked {_duration(live['ageSeconds'])} ago [green]ok[/]"
            )
        else:
            console.print(
                f"{provider}: live limits [yellow]{live['state']}[/] "
                f"({_duration(live['ageSeconds'])} ago): {live['reason']}\n  fix: {live['fix']}"
            )


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
