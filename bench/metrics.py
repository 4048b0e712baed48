"""The ``/metrics`` benchmark: one Prometheus scrape of the running stack, next to ccusage's
daily report on the same files in the same run.

Run ``python -m bench.metrics --sizes 30,300``. For each size it starts the pipeline and the api
on the cached Claude corpus (``bench.corpus``), waits until every byte is committed, then times
``--runs`` scrapes of ``GET /metrics`` (OpenMetrics, as Prometheus asks) and ``--ccusage-runs``
runs of ``ccusage claude daily --json --offline -z UTC``, and checks that the scrape's dollars
equal ``otm report daily``'s (ccusage's are shown beside them: the corpus holds the cases
README's "Deliberate differences" table counts apart). Medians; the ratio is ccusage's median
over ours (what a Prometheus scrape costs against the one command a user would otherwise run).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from bench import ccusage
from bench.corpus import sizes
from bench.ingest import wait_ingested
from bench.pipeline import wait_ready
from bench.report import print_figures
from bench.stack import PIPELINE, Stack
from bench.statusline import claude_corpus

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
WITH_API = (*PIPELINE, "api")
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
Figures = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="30", help="corpus sizes in MB (default 30)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--runs", type=int, default=21, help="timed scrapes (default 21)")
    p.add_argument("--ccusage-runs", type=int, default=3, help="ccusage runs (default 3)")
    p.add_argument("--no-ccusage", action="store_true", help="skip ccusage")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="corpora, ccusage")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--timeout", type=float, default=1800.0, help="catch-up seconds")
    return p.parse_args(argv)


def scrape_cost(text: str) -> float:
    """The sum of ``otm_cost_usd_total`` in an OpenMetrics scrape."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "otm_cost_usd"
        for sample in family.samples
        if sample.name == "otm_cost_usd_total"
    )


def measure_size(size_mb: float, args: argparse.Namespace, log: Console) -> Figures:
    """Scrape and ccusage timings on one corpus size."""
    claude_dir, _ = claude_corpus(args.cache_dir, size_mb, args.seed)
    with tempfile.TemporaryDirectory(prefix="otm-bench-metrics-") as tmp:
        stack = Stack(Path(tmp) / "state", {"CLAUDE_CONFIG_DIR": str(claude_dir)})
        try:
            stack.start(WITH_API)
            wait_ready(stack, WITH_API, args.timeout)
            files = sizes((claude_dir / "projects").rglob("*.jsonl"))
            log.print(f"{size_mb} MB: stack up; waiting for every byte of {len(files)} files")
            wait_ingested(stack.db_path, files, args.timeout, stack.check_alive)
            url = f"http://127.0.0.1:{stack.env['OTM_API_PORT']}"
            report_cost = _priced_report_cost(url, args.timeout)
            seconds, text = _scrapes(url, args.runs)
        finally:
            stack.stop_all()
        figures: Figures = {
            "sizeMb": size_mb,
            "scrapeBytes": len(text.encode()),
            "scrapeMedianSeconds": statistics.median(seconds),
            "scrapeMaxSeconds": max(seconds),
            "scrapeCostUsd": scrape_cost(text),
            "reportCostUsd": report_cost,
        }
        if not args.no_ccusage:
            binary = ccusage.ensure_installed(args.cache_dir)
            empty = Path(tmp) / "ccusage-home"
            empty.mkdir()
            run = ccusage.daily(binary, claude_dir, empty, args.ccusage_runs)
            figures["ccusageMedianSeconds"] = statistics.median(run.seconds)
            figures["ccusageCostUsd"] = float(run.report["totals"]["totalCost"])
            figures["ratio"] = figures["ccusageMedianSeconds"] / figures["scrapeMedianSeconds"]
    return figures


def _priced_report_cost(url: str, timeout: float) -> float:
    """The daily report's dollars once every model has its price: the collector commits
    prices from a child process, possibly after the records they price."""
    deadline = time.monotonic() + timeout
    while True:
        daily = httpx.get(f"{url}/v1/usage/daily", params={"provider": "claude"}, timeout=60)
        report = daily.json()
        if "unpriced" not in report or time.monotonic() > deadline:
            return float(report["totals"]["totalCost"])
        time.sleep(0.5)


def _scrapes(url: str, runs: int) -> tuple[list[float], str]:
    """Wall seconds of ``runs`` scrapes, one after another, and the last scrape's text."""
    seconds: list[float] = []
    text = ""
    with httpx.Client(headers={"Accept": OPENMETRICS}, timeout=60) as client:
        client.get(f"{url}/metrics").raise_for_status()  # warm: imports, first connection
        for _ in range(runs):
            began = time.perf_counter()
            response = client.get(f"{url}/metrics")
            seconds.append(time.perf_counter() - began)
            response.raise_for_status()
            text = response.text
    return seconds, text


def render(figures: Figures, console: Console) -> None:
    """One row per size."""
    table = Table(title="GET /metrics (one scrape) vs ccusage claude daily --json")
    columns = ("MB", "scrape ms", "max ms", "bytes", "ccusage ms", "ratio", "$ scrape", "$ report")
    for column in (*columns, "$ ccusage"):
        table.add_column(column, justify="right")
    for row in figures["sizes"]:
        ccu = row.get("ccusageMedianSeconds")
        table.add_row(
            f"{row['sizeMb']:g}",
            f"{row['scrapeMedianSeconds'] * 1000:.1f}",
            f"{row['scrapeMaxSeconds'] * 1000:.1f}",
            str(row["scrapeBytes"]),
            "-" if ccu is None else f"{ccu * 1000:.0f}",
            "-" if ccu is None else f"{row['ratio']:.0f}x",
            f"{row['scrapeCostUsd']:.6f}",
            f"{row['reportCostUsd']:.6f}",
            "-" if ccu is None else f"{row['ccusageCostUsd']:.6f}",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    log = Console(stderr=True)
    rows = [measure_size(float(s), args, log) for s in args.sizes.split(",") if s.strip()]
    print_figures({"sizes": rows}, args.json, render)


if __name__ == "__main__":
    main()
