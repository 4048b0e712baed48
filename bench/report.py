"""The benchmark's figures as a rich table, next to the targets of the issue."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.corpus import TOKEN_FIELDS

MB = 1_000_000


@dataclass(frozen=True)
class Target:
    """One limit from the issue: ``path`` locates the measured value in the figures."""

    name: str
    path: tuple[str, ...]
    limit: float
    unit: str


TARGETS = (
    Target("warm report (median wall)", ("warm_report", "median_s"), 0.100, "s"),
    Target("cold ingest / ccusage", ("cold_ingest", "ratio_vs_ccusage"), 1.5, "x"),
    Target("append-to-stream p99", ("latency", "p99_s"), 0.250, "s"),
    Target("stack RSS (peak total)", ("rss", "peak_total_bytes"), 300 * MB, "bytes"),
)


def _lookup(figures: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = figures
    for part in path:
        value = value[part]
    return value


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: not measured)."""
    out = []
    for t in TARGETS:
        value = _lookup(figures, t.path)
        ok = None if value is None else bool(value <= t.limit)
        out.append({"name": t.name, "value": value, "limit": t.limit, "unit": t.unit, "ok": ok})
    return out


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds, or a dash."""
    return "—" if seconds is None else f"{seconds * 1000:,.0f} ms"


def secs(seconds: float | None) -> str:
    """Seconds with two decimals, or a dash."""
    return "—" if seconds is None else f"{seconds:,.2f} s"


def mb(n: int | None) -> str:
    """Bytes as MB (10**6), or a dash."""
    return "—" if n is None else f"{n / MB:,.1f} MB"


def times(ratio: float | None) -> str:
    """A ratio, or a dash."""
    return "—" if ratio is None else f"{ratio:,.2f}x"


def mark(ok: bool | None) -> str:
    """✓, ✗ or n/a."""
    return {True: "[green]✓[/]", False: "[red]✗[/]", None: "[dim]n/a[/]"}[ok]


def _target_cells(figures: dict[str, Any], name: str, shown: str) -> tuple[str, str]:
    for t in figures["targets"]:
        if t["name"] == name:
            return shown, mark(t["ok"])
    return "", ""


def render(figures: dict[str, Any], console: Console) -> None:
    """Print the figures table, then token differences and the machine."""
    table = Table(title="OpenTokenMonitor pipeline benchmark", title_justify="left")
    for column in ("phase", "figure", "measured", "target", ""):
        table.add_column(column)
    for row in _rows(figures):
        table.add_row(*row)
    console.print(table)
    _print_tokens(figures, console)
    m = figures["machine"]
    console.print(f"machine: {m['cpus']} cores, Python {m['python']}, {m['platform']}")


def _rows(f: dict[str, Any]) -> list[tuple[str, ...]]:
    c, cold, warm = f["corpus"], f["cold_ingest"], f["warm_report"]
    stopped, lat, rss, disk = f["stopped_report"], f["latency"], f["rss"], f["disk"]
    rows: list[tuple[str, ...]] = [
        ("corpus", "size / files", f"{mb(c['bytes'])} / {c['files']} files", "", ""),
        *_corpus_parts(c),
        *_ccusage_rows(f),
        (
            "cold ingest",
            f"launch → all committed (median of {len(cold['runs_s'])})",
            secs(cold["seconds"]),
            "",
            "",
        ),
        ("", "each run", ", ".join(f"{x:.2f}" for x in cold["runs_s"]) + " s", "", ""),
        ("", "batches lost and re-sent, each run", _resent(cold["batches_resent_by_run"]), "", ""),
        ("", "median run: launch → all ready", secs(cold["startup_s"]), "", ""),
        (
            "",
            "median run: collector ready → all committed",
            secs(cold["after_collector_ready_s"]),
            "",
            "",
        ),
        ("", "median run: CPU until all committed", _cpu(cold["cpu_s"]), "", ""),
        ("", "records / events", f"{cold['records']:,} / {cold['events']:,}", "", ""),
        ("", "launch / ccusage", times(cold["launch_ratio_vs_ccusage"]), "", ""),
        (
            "",
            f"into the running stack → all committed (median of {len(cold['runs_s'])})",
            secs(cold["into_running_s"]),
            "",
            "",
        ),
        (
            "",
            "each run",
            ", ".join(f"{x:.2f}" for x in cold["into_running_runs_s"]) + " s",
            "",
            "",
        ),
        (
            "",
            "into the running stack / ccusage",
            times(cold["ratio_vs_ccusage"]),
            *_target_cells(f, "cold ingest / ccusage", "≤ 1.50x"),
        ),
        *_token_rows(f["tokens"]),
        (
            "warm report",
            f"otm report daily --json{' (all providers)' if c.get('mixed') else ''} (median)",
            ms(warm["median_s"]),
            *_target_cells(f, "warm report (median wall)", "≤ 100 ms"),
        ),
        ("", "min", ms(warm["min_s"]), "", ""),
        ("", "ccusage / ours", times(warm["ccusage_over_ours"]), "", ""),
        ("", "stack stopped (median)", ms(stopped["median_s"]), "", ""),
        ("", "stack stopped (first run)", ms(stopped["runs_s"][0]), "", ""),
        ("latency", "received / appends", f"{lat['received']} / {lat['appends']}", "", ""),
        ("", "p50", ms(lat["p50_s"]), "", ""),
        ("", "p95", ms(lat["p95_s"]), "", ""),
        ("", "p99", ms(lat["p99_s"]), *_target_cells(f, "append-to-stream p99", "≤ 250 ms")),
        ("", "max", ms(lat["max_s"]), "", ""),
    ]
    for i, (name, peak) in enumerate(sorted(rss["peak_bytes"].items())):
        rows.append(("peak RSS" if i == 0 else "", name, mb(peak), "", ""))
    rows += [
        (
            "",
            "total (peak of the sum)",
            mb(rss["peak_total_bytes"]),
            *_target_cells(f, "stack RSS (peak total)", "≤ 300 MB"),
        ),
        ("", "sum of the peaks", mb(rss["sum_of_peaks_bytes"]), "", ""),
        ("disk", "database (with WAL)", mb(disk["db_bytes"]), "", ""),
    ]
    return rows


def _corpus_parts(c: dict[str, Any]) -> list[tuple[str, ...]]:
    """With ``--mixed``: each CLI's bytes, files and expected records."""
    rows: list[tuple[str, ...]] = []
    for name, part in c.get("by_provider", {}).items():
        shown = f"{mb(part['bytes'])} / {part['files']} / {part['records']:,}"
        rows.append(("", f"{name}: size / files / records", shown, "", ""))
    return rows


def _ccusage_rows(f: dict[str, Any]) -> list[tuple[str, ...]]:
    """ccusage's time: its Claude report, or with ``--mixed`` the sum of the three and each."""
    ccu = f["ccusage"]
    if not f["corpus"].get("mixed"):
        median = secs(ccu and ccu["median_s"])
        return [("ccusage", "claude daily --json --offline (median)", median, "", "")]
    label = "claude + codex + gemini daily, one after the other (median)"
    rows: list[tuple[str, ...]] = [("ccusage", label, secs(ccu and ccu["median_s"]), "", "")]
    if ccu is not None:
        rows.append(("", "each run", ", ".join(f"{x:.2f}" for x in ccu["runs_s"]) + " s", "", ""))
        for agent, times_s in ccu["by_provider"].items():
            speed = " --speed standard" if agent == "codex" else ""
            label = f"{agent} daily --json --offline{speed} (median)"
            rows.append(("", label, secs(times_s["median_s"]), "", ""))
    return rows


def _token_rows(tokens: dict[str, Any]) -> list[tuple[str, ...]]:
    """Whether our totals match ccusage's and the generator's (per provider with ``--mixed``)."""
    if "by_provider" not in tokens:
        return [
            ("", "tokens = ccusage totals", _match(tokens["match_ccusage"]), "", ""),
            ("", "tokens = generator truth", _match(tokens["match_ground_truth"]), "", ""),
        ]
    rows: list[tuple[str, ...]] = []
    for name, entry in tokens["by_provider"].items():
        fields = "/".join(f.removesuffix("Tokens") for f in entry["fields"])
        for label, key in (("ccusage", "match_ccusage"), ("generator truth", "match_ground_truth")):
            rows.append(("", f"{name} tokens = {label} ({fields})", _match(entry[key]), "", ""))
    summed = _match(tokens["all_is_sum_of_providers"])
    rows.append(("", "all-provider totals = sum of the providers'", summed, "", ""))
    return rows


def _cpu(cpu: dict[str, float]) -> str:
    busiest = sorted(cpu.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in busiest) + " s"


def _resent(by_run: list[int]) -> str:
    text = ", ".join(str(n) for n in by_run)
    return f"[red]{text}[/] (each waits 2 s)" if any(by_run) else text


def _match(ok: bool | None) -> str:
    return {True: "[green]identical[/]", False: "[red]differ[/]", None: "[dim]n/a[/]"}[ok]


CLAUDE_QUIRKS_NOTE = (
    "Both tools skip the invalid_utf8, microsecond_ts, null_key and spaced_usage lines; "
    "ccusage's daily report counts requestless duplicates twice, we count them once (README)."
)
QUIRK_NOTES = {
    "claude": CLAUDE_QUIRKS_NOTE,
    "codex": (
        "long_context changes prices only; archived_copy events are counted once by daily "
        "reports (twice only by a per-session report)."
    ),
    "gemini": (
        "no_total: responses logged without a total, whose input ccusage then reads as excluding "
        "the cache; long_context changes prices only."
    ),
}


def _print_tokens(f: dict[str, Any], console: Console) -> None:
    """When our totals differ from ccusage's, show by how much and which quirks could explain it
    (with ``--mixed``: for each provider that differs from ccusage or from the generator)."""
    tokens = f["tokens"]
    if "by_provider" not in tokens:
        if tokens["match_ccusage"] is not False:
            return
        _token_table(console, "token totals: ours vs ccusage", TOKEN_FIELDS, tokens)
        console.print(
            "[dim]quirk rows: the generator's tokens for records ccusage may count differently "
            f"(the winning copy's). {CLAUDE_QUIRKS_NOTE} --clean-corpus has none of these.[/]"
        )
        return
    for name, entry in tokens["by_provider"].items():
        if entry["match_ccusage"] is not False and entry["match_ground_truth"]:
            continue
        title = f"{name} token totals: ours vs ccusage and the generator"
        _token_table(console, title, tuple(entry["fields"]), entry)
        console.print(
            "[dim]quirk rows: the generator's tokens for records ccusage may count differently. "
            f"{QUIRK_NOTES[name]} --clean-corpus has none of these.[/]"
        )


def _token_table(
    console: Console, title: str, fields: tuple[str, ...], tokens: dict[str, Any]
) -> None:
    """Ours, ccusage's (if run), the difference and the generator's totals, then quirk rows."""
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for field in fields:
        table.add_column(field, justify="right")
    rows = [("ours", tokens["ours"])]
    if tokens["ccusage"] is not None:
        rows += [("ccusage", tokens["ccusage"]), ("ours - ccusage", tokens["diff_vs_ccusage"])]
    rows.append(("generator truth", tokens["ground_truth"]))
    for label, values in rows:
        table.add_row(label, *(f"{values[k]:,}" for k in fields))
    for quirk, values in sorted(tokens["quirks"].items()):
        table.add_row(f"[dim]quirk {quirk}[/]", *(f"[dim]{values[k]:,}[/]" for k in fields))
    console.print(table)


def print_figures(
    figures: dict[str, Any], as_json: bool, render_table: Callable[[dict[str, Any], Console], None]
) -> None:
    """A benchmark's figures on stdout: JSON for scripts, else tables wide enough to keep each
    row on one line in logs and pipes."""
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    out = Console()
    if not out.is_terminal:
        out.width = max(out.width, 120)
    render_table(figures, out)
