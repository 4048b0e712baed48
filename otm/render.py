"""Rich tables for people; the JSON shape stays the machine interface.

Every table is drawn from the report's JSON dict (the same one ``--json`` prints), ends with a
totals row, and is followed by one line per model that has no price. A report table is fitted
to the terminal (``otm.table_fit``): the richest of `STEPS` that fits is drawn, dates, dollars
and model names are never cut, a token column that is zero in every row is left out, and a
pipe gets the whole table at its own width. A report with no rows says where it looked.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from otm.table_fit import (
    Column,
    choose,
    compact_count,
    hidden_note,
    layout_width,
    make_table,
    model_list,
    short_ids,
    short_project,
    short_projects,
    terminal_width,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from rich.console import Console

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
    "machines": "by machine",
}


class Step:
    """How lean one layout is: each step of `STEPS` gives up a little more width.

    ``short_ids``: session ids and projects by their short forms, a gap block's status without
    its end; ``short_models``; ``compact``: token counts as ``12.3k``, ``1.76M``; ``drop``: the
    headers of the columns left out. (A plain class: ``dataclasses`` costs a piped report a
    few milliseconds.)
    """

    __slots__ = ("compact", "drop", "short_ids", "short_models")

    def __init__(
        self,
        short_ids: bool = False,
        short_models: bool = False,
        compact: bool = False,
        drop: frozenset[str] = frozenset(),
    ) -> None:
        self.short_ids = short_ids
        self.short_models = short_models
        self.compact = compact
        self.drop = drop


DROP_ORDER = (
    ("CLIs", "CLI"),
    ("Reasoning",),
    ("Entries",),
    ("Cache write",),
    ("Input",),
    ("Output",),
    ("Project",),
)
"""Columns given up for width, first to last: which CLI a row is (its models say it), the
detail columns, then all but the cache reads, the total and the cost. ``Project`` is dropped
only from the session report (where the session is the row's name)."""
STEPS = (
    Step(),
    Step(short_ids=True),
    Step(short_ids=True, short_models=True),
    *(
        Step(True, True, True, frozenset(name for group in DROP_ORDER[:i] for name in group))
        for i in range(len(DROP_ORDER) + 1)
    ),
)
"""Richest first, each leaner than the one before."""


def render_report(
    kind: str,
    report: dict[str, Any],
    provider: str,
    tz: str,
    demo: bool = False,
    dates: str = "",
    machines: str = "",
) -> None:
    """Print ``report`` (of ``kind``) as a table with a totals row fitted to the terminal (see
    ``otm.table_fit``), then its unpriced models; an empty report says where it looked
    (``dates``: the date options given, as the user spelt them; ``machines``: ``--machine``
    as given, named in the title)."""
    from services.queries.reports.build import ROWS_KEY

    title = f"{PROVIDER_TITLES.get(provider, provider)} usage {KIND_TITLES[kind]}"
    if machines:
        title += f" on {machines}"
    if demo:
        title += " (demo data)"
    width = terminal_width()
    if not report[ROWS_KEY[kind]]:
        from rich.console import Console

        console = Console(width=width or 100, soft_wrap=width is None, emoji=False)
        console.print(empty_report(kind, provider, demo, dates), highlight=False)
        return
    zone = ZoneInfo(tz)
    layouts = (
        block_layout(report, provider, zone, step)
        if kind == "blocks"
        else row_layout(kind, report, provider, step, zone)
        for step in STEPS
    )
    full = next(layouts)
    shown = choose(itertools.chain([full], layouts), width)
    lines = []
    if kind == "blocks":
        for b in report["blocks"]:
            if b["isActive"]:
                lines += _active_lines(b, zone)
    lines += unpriced_lines(report)
    if width is None:
        # No terminal: no colours to draw, and the full layout (nothing is hidden).
        import sys

        from otm.table_fit import draw_plain

        sys.stdout.write(draw_plain(title, shown) + "".join(plain(line) + "\n" for line in lines))
        return
    from rich.console import Console
    from rich.markup import escape

    table_width = layout_width(shown)
    # Narrower than even the leanest layout: drawn wider than the terminal (which wraps the
    # lines) rather than letting rich shrink, and so cut, its columns.
    console = Console(width=max(width, table_width), soft_wrap=False, emoji=False)
    styles = [("dim" if b["isGap"] else None) for b in report["blocks"]] if kind == "blocks" else ()
    console.print(make_table(escape(title), shown, styles))  # a machine may be named [x]
    note = hidden_note(shown, full, width)
    if note:
        console.print(f"[dim]{escape(note)}[/]")
    _print_lines(console, lines)


def empty_report(kind: str, provider: str, demo: bool, dates: str = "") -> str:
    """What an empty report prints instead of a table: where it looked (each CLI's roots, from
    the runtime's config) and which variable or setting names other places."""
    from services.runtime.installation import load_runtime

    runtime = load_runtime()
    providers = list(PROVIDER_TITLES)[:3] if provider == "all" else [provider]
    within = f" ({dates})" if dates else ""
    lines = [
        f"No {PROVIDER_TITLES.get(provider, provider)} usage to report {KIND_TITLES[kind]}{within}."
    ]
    if demo:
        lines.append(
            "This is demo mode (OTM_DEMO=1, or no CLI logs anywhere): it reports only its "
            "generated history, which `otm up` writes, and which has nothing here yet."
        )
    for name in providers:
        roots = runtime.roots.get(name, ())
        lines.append(f"{PROVIDER_TITLES[name]} logs were looked for in:")
        if not roots:
            lines.append("  (nowhere: demo mode reads only its own generated history)")
        for root in roots:
            state = "" if root.is_dir() else " (missing)"
            lines.append(f"  {root}{state}")
    setting = {
        "claude": "CLAUDE_CONFIG_DIR",
        "codex": "CODEX_HOME",
        "gemini": "GEMINI_DATA_DIR (or GEMINI_CLI_HOME)",
    }
    names = ", ".join(setting[n] for n in providers)
    sections = ", ".join(f"[{n}] roots" for n in providers)
    lines.append(
        f"To read logs kept elsewhere, set {names}, or {sections} in "
        f"{runtime.state / 'config.toml'}. --since/--until narrow the dates; `otm doctor` "
        "says what is missing."
    )
    from rich.markup import escape

    return escape("\n".join(lines))


Line = tuple[tuple[tuple[str, str | None], ...], bool]
"""A line printed under a table: its pieces of text, each with its style (or none), and
whether rich highlights its numbers on a terminal."""


def plain(line: Line) -> str:
    """The text of ``line``, as it prints where there is no terminal."""
    return "".join(text for text, _ in line[0])


def _print_lines(console: Console, lines: list[Line]) -> None:
    from rich.markup import escape

    for pieces, highlight in lines:
        markup = "".join(f"[{s}]{escape(t)}[/]" if s else escape(t) for t, s in pieces)
        console.print(markup, highlight=highlight)


def render_unpriced(console: Console, report: dict[str, Any]) -> None:
    """Print `unpriced_lines` of ``report`` on ``console``."""
    _print_lines(console, unpriced_lines(report))


def unpriced_lines(report: dict[str, Any]) -> list[Line]:
    """One line per model without a price (its tokens are counted, its dollars are not), then
    one per model priced as the known model inside its name (``aide-gpt-5 priced as gpt-5``)."""
    lines: list[Line] = []
    for item in report.get("unpriced", []):
        where = f"{item['provider']} " if "provider" in item else ""
        section = f'[pricing.overrides."{item["model"]}"]'
        text = (
            f" {where}{item['model']} ({item['tokens']:,} tokens) is not in genai-prices; its "
            f"cost is not included. Add {section} to config.toml."
        )
        lines.append(((("unpriced:", "yellow"), (text, None)), True))
    for model, known in report.get("pricedAs", {}).items():
        lines.append((((f"{model} priced as {known}", "dim"),), False))
    return lines


_NUMBER_COLUMNS = (
    ("Input", "inputTokens"),
    ("Output", "outputTokens"),
    ("Cache write", "cacheCreationTokens"),
    ("Cache read", "cacheReadTokens"),
    ("Reasoning", "reasoningTokens"),
)
_PERIOD_KEY = {"daily": ("Date", "date"), "weekly": ("Week", "week"), "monthly": ("Month", "month")}


def _count(step: Step) -> Any:
    return compact_count if step.compact else "{:,}".format


def _dollars(amount: float) -> str:
    return f"${amount:,.2f}"


def row_layout(
    kind: str,
    report: dict[str, Any],
    provider: str,
    step: Step,
    zone: ZoneInfo | None = None,
) -> list[Column]:
    """The columns of a daily/weekly/monthly/session/project/machines table at ``step`` (times
    shown in ``zone``, UTC by default): a numeric column that is zero in every row is left out
    at every step."""
    zone = zone or ZoneInfo("UTC")
    from services.queries.reports.build import ROWS_KEY

    rows = report[ROWS_KEY[kind]]
    totals = report["totals"]
    columns: list[Column] = []
    if kind == "session":
        ids = [r["sessionId"] for r in rows]
        paths = [r["projectPath"] for r in rows]
        columns.append(Column("Session", short_ids(ids) if step.short_ids else ids, "Total"))
        # One project may be spelt several ways here (each CLI its own): each is shortened.
        shown = [short_project(p) for p in paths] if step.short_ids else paths
        columns.append(Column("Project", shown))
        columns.append(Column("Last activity", [r["lastActivity"] for r in rows]))
    elif kind == "machines":
        columns.append(Column("Machine", [r["machine"] for r in rows], "Total"))
        columns.append(Column("Id", [r["machineId"][:8] for r in rows]))
        columns.append(Column("Last seen", [_seen(r["lastSeen"], zone) for r in rows]))
    elif kind == "project":
        paths = [r["project"] for r in rows]
        shown = short_projects(paths) if step.short_ids else paths
        columns.append(Column("Project", shown, "Total"))
        columns.append(Column("Last activity", [r["lastActivity"] for r in rows]))
    else:
        header, key = _PERIOD_KEY[kind]
        columns.append(Column(header, [r[key] for r in rows], "Total"))
    if provider == "all":
        columns.append(Column("CLIs", ["\n".join(r["providers"]) for r in rows]))
    columns.append(Column("Models", [model_list(r["modelsUsed"], step.short_models) for r in rows]))
    count = _count(step)
    for name, key in _NUMBER_COLUMNS:
        if totals.get(key):
            columns.append(Column(name, [count(r[key]) for r in rows], count(totals[key]), True))
    columns.append(
        Column("Total", [count(r["totalTokens"]) for r in rows], count(totals["totalTokens"]), True)
    )
    columns.append(
        Column(
            "Cost", [_dollars(r["totalCost"]) for r in rows], _dollars(totals["totalCost"]), True
        )
    )
    return _without(columns, step.drop if kind == "session" else step.drop - {"Project"})


def _without(columns: list[Column], drop: frozenset[str]) -> list[Column]:
    kept = [c for c in columns if c.header not in drop]
    if kept and columns[0] is not kept[0]:
        # The first column holds the totals row's label.
        first = kept[0]
        kept[0] = Column(first.header, first.cells, "Total", first.right, first.styles)
    return kept


def _seen(iso: str | None, tz: ZoneInfo) -> str:
    """A machine's last record time as a local date and minute ("-" before any)."""
    return "-" if iso is None else _local(iso, tz)


def _local(iso: str, tz: ZoneInfo) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


_BLOCK_COUNTS = (
    ("Input", "inputTokens"),
    ("Output", "outputTokens"),
    ("Cache write", "cacheCreationInputTokens"),
    ("Cache read", "cacheReadInputTokens"),
    ("Reasoning", "reasoningTokens"),
)


def block_layout(report: dict[str, Any], provider: str, tz: ZoneInfo, step: Step) -> list[Column]:
    """The columns of the blocks table at ``step`` (zero columns left out, as `row_layout`)."""
    rows = report["blocks"]
    columns = [Column("Start", [_local(b["startTime"], tz) for b in rows], "Total")]
    if provider == "all":
        columns.append(Column("CLI", [b.get("provider", "") for b in rows]))
    status = []
    for b in rows:
        if b["isGap"]:
            status.append("gap" if step.short_ids else f"gap until {_local(b['endTime'], tz)}")
        else:
            status.append("ACTIVE" if b["isActive"] else "")
    styles = ["bold green" if s == "ACTIVE" else None for s in status]
    columns.append(Column("Status", status, styles=styles))
    columns.append(Column("Models", [model_list(b["models"], step.short_models) for b in rows]))
    count = _count(step)
    gaps = [b["isGap"] for b in rows]

    def cells(values: list[Any], shown: Any) -> list[str]:
        # A gap holds nothing: its row is left blank rather than a row of zeros.
        return ["" if gap else shown(v) for v, gap in zip(values, gaps, strict=True)]

    entries = [b["entries"] for b in rows]
    columns.append(Column("Entries", cells(entries, "{:,}".format), f"{sum(entries):,}", True))
    for name, key in _BLOCK_COUNTS:
        values = [b["tokenCounts"].get(key, 0) for b in rows]
        if any(values):
            columns.append(Column(name, cells(values, count), count(sum(values)), True))
    tokens = [b["totalTokens"] for b in rows]
    columns.append(Column("Total", cells(tokens, count), count(sum(tokens)), True))
    cost = [b["costUSD"] for b in rows]
    columns.append(Column("Cost", cells(cost, _dollars), _dollars(sum(cost)), True))
    return _without(columns, step.drop - {"Project"})


def _active_lines(block: dict[str, Any], tz: ZoneInfo) -> list[Line]:
    """The lines under the table about an active block."""
    who = f"{block['provider']} " if "provider" in block else ""
    rest = f" until {_local(block['endTime'], tz)}"
    burn, projection = block["burnRate"], block["projection"]
    if burn is not None and projection is not None:
        rest += (
            f": {burn['tokensPerMinute']:,.0f} tokens/min, ${burn['costPerHour']:,.2f}/hour;"
            f" projected {projection['totalTokens']:,} tokens, ${projection['totalCost']:,.2f}"
            f" ({projection['remainingMinutes']} min left)"
        )
    lines: list[Line] = [(((f"Active {who}block", "bold"), (rest, None)), True)]
    status = block.get("tokenLimitStatus")
    if status is not None:
        colour = {"ok": "green", "warning": "yellow", "exceeds": "red"}[status["status"]]
        text = f"  token limit {status['limit']:,}: projected {status['percentUsed']:.1f}% "
        lines.append((((text, None), (status["status"], colour)), True))
    window = block.get("officialWindow")
    if window is not None:
        text = (
            f"  official {window['window']} window {_local(window['startTime'], tz)} - "
            f"{_local(window['endTime'], tz)}: {window['usedPercent']}% used "
            f"({window['totalTokens']:,} tokens, ${window['costUSD']:,.2f} logged in it)"
        )
        lines.append((((text, None),), True))
    return lines


def render_limits(report: dict[str, Any]) -> None:
    """Print rate-limit windows (use, countdown to reset, where and when each number came
    from), credits, and each provider's live check with its reason and fix when it failed."""
    from rich.console import Console
    from rich.table import Table

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
