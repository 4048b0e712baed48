"""Every speed and weight goal of issue 12 in one run: reports, statusline, cold, idle, load.

Run ``python -m bench.all`` for the issue's sizes (reports at 10, 30, 300 and 1,000 MB, the
statusline over 1 GB, cold start at 300 MB and 1 GB, idle and load over 10 MB: an hour or more on
two cores), or ``python -m bench.all --quick`` for a few minutes at small sizes. It calls each
benchmark's ``measure`` in turn (``bench.reports``, ``bench.statusline``, ``bench.cold``,
``bench.idle``, ``bench.load``), prints each one's own tables, then one table of every goal with
the figure measured, its ratio to ccusage where the goal is one, and whether it is met; with the
interpreter floor (``python -I -c pass``), the corpus sizes and the core count. ``--json`` prints
every figure instead. Exit status 0 whatever the figures: a benchmark reports, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import cold, idle, load, reports, statusline

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
Figures = dict[str, Any]
FULL = {
    "reports": "10,30,300,1000",
    "statusline": 1000.0,
    "cold": "300,1000",
    "idle": "10,300",
    "history": 10.0,
}
QUICK = {"reports": "10", "statusline": 10.0, "cold": "10", "idle": "10", "history": 10.0}
SHORT = {
    "CPU, whole stack (% of one core)": "CPU, % of a core",
    "disk writes (MB/hour, /proc io)": "writes, MB/h",
    "state folder growth (MB/hour)": "state growth, MB/h",
    "RSS, whole stack (MB)": "RSS, MB",
    "PSS, whole stack (MB; shared pages once)": "PSS, MB",
    "busiest loop (wakes/s)": "busiest loop, wakes/s",
    "busiest ZeroMQ I/O thread (wakes/s)": "ZeroMQ I/O, wakes/s",
}
"""The idle goals' names, short enough for a table at 80 columns."""
REPORTS_AT_1GB = 20.0
"""Issue 12: reports at least 20 times faster than ccusage at 1 GB."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.all", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    p.add_argument("--reports", help="report corpus sizes in MB (default 10,30,300,1000)")
    p.add_argument("--cold", help="cold-start corpus sizes in MB (default 300,1000)")
    p.add_argument("--statusline", type=float, help="statusline history in MB (default 1000)")
    p.add_argument("--idle-seconds", type=float, default=60.0, help="idle sampling (60)")
    p.add_argument("--load-seconds", type=float, default=60.0, help="load duration (60)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="corpora and ccusage")
    p.add_argument("--json", action="store_true", help="print every figure as JSON")
    return p.parse_args(argv)


def sizes(text: str) -> list[float]:
    """``10,30`` as ``[10.0, 30.0]``."""
    return [float(s) for s in text.split(",") if s]


def run(args: argparse.Namespace, log: Console) -> Figures:
    """Every benchmark in turn; their figures by name."""
    preset = QUICK if args.quick else FULL
    cache = args.cache_dir
    report_sizes = sizes(args.reports or str(preset["reports"]))
    cold_sizes = sizes(args.cold or str(preset["cold"]))
    status_mb = args.statusline or float(preset["statusline"])
    history = float(preset["history"])
    log.rule(f"reports at {', '.join(f'{s:g}' for s in report_sizes)} MB")
    figures: Figures = {"reports": reports.measure(report_sizes, cache)}
    log.rule(f"statusline over {status_mb:g} MB")
    status_args = statusline.parse_args(["--size", f"{status_mb:g}", "--cache-dir", str(cache)])
    figures["statusline"] = statusline.run(status_args, log)
    figures["cold"] = {}
    for size in cold_sizes:
        log.rule(f"cold start at {size:g} MB")
        figures["cold"][f"{size:g}"] = cold.measure(size, cache, log=log)
    idle_sizes = [f"{s:g}" for s in sizes(str(preset["idle"]))]
    log.rule(f"idle over {', '.join(idle_sizes)} MB (RSS flat as history grows)")
    idle_argv = ["--size-mb", *idle_sizes, "--seconds", f"{args.idle_seconds:g}"]
    figures["idle"] = idle.run(idle.parse_args([*idle_argv, "--cache-dir", str(cache)]), log)
    log.rule(f"load over {history:g} MB")
    figures["load"] = load.measure(1000.0, args.load_seconds, history, cache)
    figures["machine"] = {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    return figures


def goals(figures: Figures) -> list[tuple[str, str, str, bool | None]]:
    """Each goal: its name, what was measured, the limit, and whether it is met."""
    rows: list[tuple[str, str, str, bool | None]] = []
    for size, fig in figures["reports"]["sizes"].items():
        ratio = reports.ratios(fig)
        if not ratio:
            rows.append((f"reports {size} MB", "no ccusage", "> 1x", None))
            continue
        slowest = min(ratio, key=lambda k: ratio[k])  # "<kind>/<form>/<stack>/<way>"
        need = REPORTS_AT_1GB if float(size) >= 1000 else 1.0
        rows.append(
            (
                f"reports {size} MB, slowest",
                f"{ratio[slowest]:.1f}x ({slowest})",
                f">= {need:g}x" if need > 1 else "> 1x",
                ratio[slowest] >= need if need > 1 else ratio[slowest] > 1,
            )
        )
    over = figures["statusline"]["otm"]["stopped"]["over_floor"]
    rows.append(
        ("statusline median / floor", f"{over['median']:.2f}x", "<= 2.5x", over["median_ok"])
    )
    rows.append(("statusline p95 / floor", f"{over['p95']:.2f}x", "<= 3.5x", over["p95_ok"]))
    for size, fig in figures["cold"].items():
        ratio = fig["ratio_vs_ccusage"]
        rows.append(
            (
                f"cold start {size} MB",
                f"{fig['cold']['median_s']:.2f} s, {ratio:.2f}x ccusage",
                "<= 1.5x",
                ratio <= fig["target_ratio"],
            )
        )
    for fig in figures["idle"]["sizes"]:
        size = fig["corpus"]["size_mb"]
        for g in fig["goals"]:
            limit = "—" if g["limit"] is None else f"<= {g['limit']:g}"
            ok = None if g["limit"] is None else g["ok"]
            name = SHORT.get(g["name"], g["name"])
            rows.append((f"idle {size:g} MB: {name}", f"{g['value']:.2f}", limit, ok))
    growth = figures["idle"].get("rss_growth")
    if growth is not None:
        rows.append(
            (
                "idle: RSS as history grows",
                f"{growth['smallest_mb']:.0f} → {growth['largest_mb']:.0f} MB",
                f"<= +{idle.GOAL_RSS_GROWTH:.0%}",
                growth["ok"],
            )
        )
    latency = figures["load"]["latency_s"]
    p99 = latency.get("p99")
    rows.append(
        (
            "load: append → stream p99",
            "—" if p99 is None else f"{p99 * 1000:.0f} ms",
            "<= 250 ms",
            p99 is not None and p99 <= load.GOAL_P99_SECONDS,
        )
    )
    rows.append(
        ("load: exchanges lost", f"{figures['load']['lost']:,}", "0", figures["load"]["lost"] == 0)
    )
    return rows


def render(figures: Figures, out: Console) -> None:
    """Each benchmark's own tables, then the goals."""
    reports.render(figures["reports"], out)
    statusline.render(figures["statusline"], out)
    for fig in figures["cold"].values():
        out.print(cold.render(fig))
    idle.render(figures["idle"], out)
    load.print_figures(figures["load"], out)
    table = Table(title="issue 12, every goal")
    for column in ("goal", "measured", "limit", ""):
        table.add_column(column, justify="left" if column in ("goal", "measured") else "right")
    for name, measured, limit, ok in goals(figures):
        mark = "(shown)" if ok is None else "[green]met[/green]" if ok else "[red]NOT MET[/red]"
        table.add_row(name, measured, limit, mark)
    out.print(table)
    m = figures["machine"]
    floor = figures["statusline"]["otm"]["stopped"]["python_floor"]["median_s"]
    out.print(
        f"{m['cores']} cores ({m['usable_cores']} usable), Python {m['python']}; "
        f"python -I -c pass {floor * 1000:.0f} ms median"
    )


def main(argv: list[str] | None = None) -> int:
    """Run everything and print it."""
    args = parse_args(argv)
    figures = run(args, Console(stderr=True))
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        render(figures, Console())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
