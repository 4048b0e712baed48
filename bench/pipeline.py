"""The pipeline benchmark: cold ingest, warm report, append-to-stream latency and memory.

Run ``python -m bench.pipeline --size-mb 200`` (``--help`` for the options). On a generated
corpus it measures, with the real processes running as subprocesses:

1. cold ingest through the running stack, against ``ccusage claude daily --json --offline`` on
   the same files, and whether both count the same tokens;
2. ``otm report daily --json`` with the stack running (and stopped), against ccusage;
3. the latency from a transcript write to its committed event on the bus;
4. each process's peak RSS, the database size and the corpus size;

and prints them next to the targets of the issue.

With ``--mixed`` the corpus is the 70/20/10 Claude Code / Codex CLI / Gemini CLI tree of
``bench.mixed``, the stack reads all three, ingest waits for every log file of the three, ccusage's
time is the sum of ``ccusage claude daily``, ``codex daily`` and ``gemini daily`` run one after
the other, the warm report covers every provider (``--provider all``, the default), and tokens
are compared per provider. The latency phase still appends Claude exchanges.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from bench import ccusage, corpus, ingest, latency, mixed, report
from bench.corpus import TOKEN_FIELDS, Corpus, FileId
from bench.rss import RssSampler, cpu_seconds
from bench.stack import PIPELINE, Stack
from bus.endpoints import endpoints

DESCRIPTION = "Benchmark the running OpenTokenMonitor pipeline against ccusage."
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
HEARTBEAT_WAIT_SECONDS = 1.2
"""Long enough for every process's next heartbeat (1 s apart) to carry its final counters."""
Figures = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=DESCRIPTION)
    p.add_argument("--size-mb", type=float, required=True, help="corpus size (10**6 bytes)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument(
        "--mixed",
        action="store_true",
        help="a 70/20/10 Claude Code / Codex CLI / Gemini CLI corpus; the stack reads all three",
    )
    p.add_argument("--appends", type=int, default=200, help="latency samples (default 200)")
    p.add_argument("--keep", type=Path, help="work in this (new or empty) dir and keep it")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--no-ccusage", action="store_true", help="skip every ccusage comparison")
    p.add_argument("--ccusage", type=Path, help="use this ccusage binary instead of installing")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="corpora and ccusage")
    p.add_argument("--no-cache", action="store_true", help="generate the corpus, do not keep it")
    p.add_argument(
        "--clean-corpus",
        action="store_true",
        help="no edge cases (no copies, bad lines, quirks): every counting rule agrees on it",
    )
    p.add_argument("--ccusage-runs", type=int, default=3, help="ccusage runs (median)")
    p.add_argument("--cold-runs", type=int, default=3, help="cold ingests, fresh state (median)")
    p.add_argument("--warm-runs", type=int, default=10, help="reports with the stack running")
    p.add_argument("--stopped-runs", type=int, default=5, help="reports with the stack stopped")
    p.add_argument("--with-api", action="store_true", help="also run (and measure) `otm api`")
    p.add_argument("--ingest-timeout", type=float, default=1800.0, help="seconds (default 1800)")
    args = p.parse_args(argv)
    counts = (args.ccusage_runs, args.cold_runs, args.warm_runs, args.stopped_runs, args.appends)
    if min(counts) < 1:
        p.error("run counts and --appends must be at least 1")
    return args


class Tree(Protocol):
    """A corpus copy the stack reads: `corpus.Corpus` (Claude only) or `mixed.MixedCorpus`."""

    @property
    def root(self) -> Path:
        """The copied tree (a copy of it can be read at another path: `data_dirs`)."""
        ...

    @property
    def claude_dir(self) -> Path:
        """The Claude config dir in ``root``, where the latency phase appends."""
        ...

    @property
    def from_cache(self) -> bool:
        """Whether the tree came from the cache."""
        ...

    def data_dirs(self, root: Path) -> dict[str, str]:
        """The stack's data variables for a copy of the tree at ``root``."""
        ...

    def log_files(self, root: Path) -> dict[FileId, int]:
        """Every log file the stack reads in a copy of the tree at ``root``, sized by identity."""
        ...

    def transcripts(self) -> dict[FileId, int]:
        """``log_files`` of ``root``, right now."""
        ...

    def jsonl_bytes(self) -> int:
        """Total size of the log files right now."""
        ...


@dataclass(frozen=True)
class Reference:
    """ccusage's side: wall time of each round (its agents' reports one after the other),
    each agent's times, and each agent's first JSON report."""

    seconds: list[float]
    by_agent: dict[str, list[float]]
    reports: dict[str, dict[str, Any]]


@contextlib.contextmanager
def work_dir(keep: Path | None) -> Iterator[Path]:
    """A scratch directory, removed afterwards unless ``keep`` names it."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="otm-bench-") as tmp:
            yield Path(tmp)
        return
    keep.mkdir(parents=True, exist_ok=True)
    if any(keep.iterdir()):
        raise SystemExit(f"--keep {keep}: the directory is not empty")
    yield keep.resolve()


def machine() -> Figures:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def otm_command() -> list[str]:
    """The installed ``otm`` script, as a user runs it (``python -m otm`` if there is none)."""
    script = Path(sys.executable).parent / ("otm.exe" if os.name == "nt" else "otm")
    if script.is_file():
        return [str(script)]
    found = shutil.which("otm")
    return [found] if found else [sys.executable, "-m", "otm"]


def timed_runs(command: list[str], env: dict[str, str], runs: int) -> tuple[list[float], Any]:
    """Wall time of each of ``runs`` runs of ``command``, and the first run's JSON output."""
    seconds: list[float] = []
    first: Any = None
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        if first is None:
            first = json.loads(done.stdout)
    return seconds, first


def summary(seconds: list[float]) -> Figures:
    """Median, min and every run of a timing."""
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "runs_s": seconds}


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), interpolating between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def tokens_of(daily_report: dict[str, Any]) -> dict[str, int]:
    """The four token totals of a daily report (ours or ccusage's)."""
    totals = daily_report["totals"]
    return {f: int(totals[f]) for f in TOKEN_FIELDS}


def run_ccusage(args: argparse.Namespace, data: Tree, work: Path) -> Reference:
    """ccusage's daily report on the corpus, timed ``--ccusage-runs`` times; with ``--mixed``
    the Claude, Codex and Gemini reports one after the other, each round's time their sum."""
    binary = args.ccusage.resolve() if args.ccusage else ccusage.ensure_installed(args.cache_dir)
    home = work / "ccusage-home"
    home.mkdir()
    if isinstance(data, mixed.MixedCorpus):
        runs = ccusage.daily_each(binary, data.ccusage_dirs(), home, args.ccusage_runs)
        rounds = [sum(each) for each in zip(*(r.seconds for r in runs.values()), strict=True)]
        return Reference(
            rounds,
            {agent: r.seconds for agent, r in runs.items()},
            {agent: r.report for agent, r in runs.items()},
        )
    run = ccusage.daily(binary, data.root, home, args.ccusage_runs)
    return Reference(run.seconds, {"claude": run.seconds}, {"claude": run.report})


class Stacks:
    """One stack per cold run, each on a fresh OTM_HOME; the last one runs the later phases."""

    def __init__(self, work: Path, data: Tree) -> None:
        self.work = work
        self.data = data
        self.all: list[Stack] = []

    def new(self, root: Path | None = None) -> Stack:
        """A stack (not started) on a new, empty state dir, reading the tree at ``root`` (by
        default the corpus copy)."""
        home = self.work / f"home-{len(self.all) + 1}"
        stack = Stack(home, self.data.data_dirs(root or self.data.root))
        self.all.append(stack)
        return stack

    def pids(self) -> dict[str, int]:
        """The processes of the current stack (what the RSS sampler watches)."""
        return self.all[-1].pids() if self.all else {}

    def stop_all(self) -> None:
        """Stop every process of every stack."""
        for stack in self.all:
            stack.stop_all()


def cold_run(
    stack: Stack, names: tuple[str, ...], files: dict[FileId, int], timeout: float
) -> Figures:
    """Launch the stack on an empty state dir and time it until every byte is committed."""
    began, began_wall = time.monotonic(), time.time()
    stack.start(names)
    done = ingest.wait_ingested(stack.db_path, files, timeout, stack.check_alive)
    cpu = {name: cpu_seconds(pid) for name, pid in sorted(stack.pids().items())}
    ready = stack.ready_at()
    time.sleep(HEARTBEAT_WAIT_SECONDS)
    collector = ingest.counters(stack.db_path).get("collector", {})
    return {
        "seconds": done - began,
        "ready_s": {name: at - began_wall for name, at in sorted(ready.items())},
        "startup_s": max(ready.values(), default=began_wall) - began_wall,
        "after_collector_ready_s": began_wall + (done - began) - ready["collector"],
        "cpu_s": cpu,
        "batches_resent": collector.get("batches_resent", 0),
        "records": ingest.projection_records(stack.db_path),
        "events": ingest.head_seq(stack.db_path),
    }


def live_run(stack: Stack, names: tuple[str, ...], data: Tree, live: Path, timeout: float) -> float:
    """Time a corpus appearing under a running, ready stack until every byte is committed.

    The stack watches ``live`` before it exists; the corpus is copied aside first (not timed)
    and renamed into place in one step, as when a CLI's data folder is created or restored.
    """
    staging = live.with_name(live.name + "-staging")
    shutil.copytree(data.root, staging)
    files = data.log_files(staging)
    stack.start(names)
    wait_ready(stack, names, timeout)
    began = time.monotonic()
    staging.rename(live)
    done = ingest.wait_ingested(stack.db_path, files, timeout, stack.check_alive)
    return done - began


def wait_ready(stack: Stack, names: tuple[str, ...], timeout: float) -> None:
    """Wait until every process logged its ready line (and the collector heard the store)."""
    deadline = time.monotonic() + timeout
    while set(names) - set(stack.ready_at()):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError("the stack did not get ready")
        time.sleep(0.02)
    time.sleep(HEARTBEAT_WAIT_SECONDS)  # the store's first heartbeat has reached the collector


def cold_figures(runs: list[Figures]) -> Figures:
    """The median run's figures, with every run's time and re-sent batches."""
    ordered = sorted(runs, key=lambda r: float(r["seconds"]))
    median_run = ordered[(len(ordered) - 1) // 2]
    return {
        **median_run,
        "seconds": statistics.median(r["seconds"] for r in runs),
        "runs_s": [r["seconds"] for r in runs],
        "batches_resent_by_run": [r["batches_resent"] for r in runs],
    }


def running_phases(
    args: argparse.Namespace, stacks: Stacks, data: Tree, log: Console
) -> tuple[Figures, dict[str, Any]]:
    """Cold ingest, warm reports and latency, with the stack running; also peak RSS.

    Also returns our daily reports before any append: the warm one (``all``) and, with
    ``--mixed``, each provider's (`provider_reports`).
    """
    names = (*PIPELINE, "api") if args.with_api else PIPELINE
    files = data.transcripts()
    runs: list[Figures] = []
    with RssSampler(stacks.pids) as rss:
        for i in range(args.cold_runs):
            log.print(
                f"cold ingest {i + 1}/{args.cold_runs}: {len(files)} files, {len(names)} processes"
            )
            if stacks.all:
                stacks.all[-1].stop_all()
            runs.append(cold_run(stacks.new(), names, files, args.ingest_timeout))
        live_runs: list[float] = []
        for i in range(args.cold_runs):
            log.print(f"ingest into a running stack {i + 1}/{args.cold_runs}")
            stacks.all[-1].stop_all()
            live = stacks.work / f"live-{i + 1}"
            stack = stacks.new(live)
            live_runs.append(live_run(stack, names, data, live, args.ingest_timeout))
            stack.stop_all()
            # The later phases run on a stack reading the cached corpus copy, as before.
        stacks.all[-1].stop_all()
        stacks.new().start(names)
        wait_ready(stacks.all[-1], names, args.ingest_timeout)
        ingest.wait_ingested(
            stacks.all[-1].db_path, files, args.ingest_timeout, stacks.all[-1].check_alive
        )
        stack = stacks.all[-1]
        log.print(f"warm report x{args.warm_runs}")
        warm_runs, warm = timed_runs(
            [*otm_command(), "report", "daily", "--json"], stack.env, args.warm_runs
        )
        ours = {"all": warm, **(provider_reports(stack.env) if args.mixed else {})}
        log.print(f"latency: {args.appends} appends")
        measured = latency.measure(
            data.claude_dir,
            endpoints(stack.home),
            ingest.head_seq(stack.db_path),
            args.appends,
            seed=args.seed,
        )
        time.sleep(HEARTBEAT_WAIT_SECONDS)
        reported = ingest.counters(stack.db_path)
    figures = {
        "counters": reported,
        "cold_ingest": {
            **cold_figures(runs),
            "into_running_s": statistics.median(live_runs),
            "into_running_runs_s": live_runs,
        },
        "warm_report": summary(warm_runs),
        "latency": latency_figures(measured),
        "rss": {
            "peak_bytes": dict(rss.peaks),
            "peak_total_bytes": rss.peak_total,
            "sum_of_peaks_bytes": rss.sum_of_peaks,
        },
    }
    return figures, ours


def latency_figures(measured: latency.Latencies) -> Figures:
    """Percentiles of the append-to-event latencies."""
    values = measured.seconds
    return {
        "appends": measured.appends,
        "received": len(values),
        "missing": measured.missing,
        "missing_keys": measured.missing_keys,
        "p50_s": percentile(values, 50),
        "p95_s": percentile(values, 95),
        "p99_s": percentile(values, 99),
        "max_s": max(values) if values else None,
    }


def token_figures(data: Corpus, ours: dict[str, Any], theirs: dict[str, Any] | None) -> Figures:
    """Our totals against ccusage's and against the generator's ground truth."""
    mine = tokens_of(ours)
    truth = data.expected_tokens()
    out: Figures = {
        "ours": mine,
        "ground_truth": truth,
        "match_ground_truth": mine == truth,
        "ccusage": None,
        "diff_vs_ccusage": None,
        "match_ccusage": None,
        "quirks": data.quirk_tokens(),
    }
    if theirs is not None:
        other = tokens_of(theirs)
        out["ccusage"] = other
        out["diff_vs_ccusage"] = {f: mine[f] - other[f] for f in TOKEN_FIELDS}
        out["match_ccusage"] = mine == other
    return out


def db_bytes(db: Path) -> int:
    """The database on disk, with its WAL and shared-memory files."""
    paths = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return sum(p.stat().st_size for p in paths if p.exists())


def corpus_figures(args: argparse.Namespace, data: Tree) -> Figures:
    """What was read: size and files before any append, and the generator's record count
    (with ``--mixed``, also each CLI's part)."""
    out: Figures = {
        "size_mb": args.size_mb,
        "seed": args.seed,
        "edge_cases": not args.clean_corpus,
        "bytes": data.jsonl_bytes(),
        "files": len(data.transcripts()),
        "from_cache": data.from_cache,
    }
    if isinstance(data, mixed.MixedCorpus):
        parts = data.figures()
        out["mixed"] = True
        out["expected_records"] = sum(part["records"] for part in parts.values())
        out["by_provider"] = parts
    elif isinstance(data, Corpus):
        out["expected_records"] = len(data.manifest.expected)
    return out


def prepare(args: argparse.Namespace, work: Path) -> Tree:
    """The corpus copy this run reads (generated, or copied from the cache)."""
    cache = None if args.no_cache else args.cache_dir
    edge_cases = not args.clean_corpus
    if args.mixed:
        return mixed.prepare(args.size_mb, args.seed, cache, work / "data", edge_cases)
    return corpus.prepare(args.size_mb, args.seed, cache, work / "claude", edge_cases)


def provider_reports(env: dict[str, str]) -> dict[str, Any]:
    """Our daily report of each provider alone (``--provider claude``, ...), not timed."""
    out: dict[str, Any] = {}
    for provider in mixed.PROVIDERS:
        command = [*otm_command(), "report", "daily", "--json", "--provider", provider]
        out[provider] = timed_runs(command, env, 1)[1]
    return out


def ccusage_figures(ccu: Reference | None, mixed_run: bool) -> Figures | None:
    """ccusage's version and times (with ``--mixed``: of the summed rounds, and each agent's)."""
    if ccu is None:
        return None
    out: Figures = {"version": ccusage.VERSION, **summary(ccu.seconds)}
    if mixed_run:
        out["by_provider"] = {agent: summary(s) for agent, s in ccu.by_agent.items()}
    return out


def run(args: argparse.Namespace, log: Console) -> Figures:
    """Every phase, in order; the stack is always stopped, the scratch dir always removed."""
    figures: Figures = {"machine": machine()}
    with work_dir(args.keep) as work:
        kind = "mixed (claude 70% / codex 20% / gemini 10%)" if args.mixed else "claude"
        log.print(f"corpus: {args.size_mb:g} MB, seed {args.seed}, {kind}")
        data = prepare(args, work)
        figures["corpus"] = corpus_figures(args, data)
        ccu = None
        if not args.no_ccusage:
            agents = "claude, codex and gemini daily" if args.mixed else "claude daily"
            log.print(f"ccusage {ccusage.VERSION} {agents} x{args.ccusage_runs}")
            ccu = run_ccusage(args, data, work)
        stacks = Stacks(work, data)
        try:
            running, ours = running_phases(args, stacks, data, log)
        finally:
            stacks.stop_all()
        stack = stacks.all[-1]
        figures.update(running)
        log.print(f"report with the stack stopped x{args.stopped_runs}")
        stopped, _ = timed_runs(
            [*otm_command(), "report", "daily", "--json"], stack.env, args.stopped_runs
        )
        figures["stopped_report"] = summary(stopped)
        if isinstance(data, mixed.MixedCorpus):
            theirs = None if ccu is None else ccu.reports
            figures["tokens"] = mixed.token_figures(data, ours, theirs)
        elif isinstance(data, Corpus):
            figures["tokens"] = token_figures(
                data, ours["all"], None if ccu is None else ccu.reports["claude"]
            )
        figures["ccusage"] = ccusage_figures(ccu, args.mixed)
        figures["disk"] = {
            "db_bytes": db_bytes(stack.db_path),
            "corpus_bytes": figures["corpus"]["bytes"],
        }
    add_ratios(figures)
    figures["targets"] = report.targets(figures)
    return figures


def add_ratios(figures: Figures) -> None:
    """ours/ccusage for cold ingest, ccusage/ours for the warm report (None without ccusage)."""
    ccu = figures["ccusage"]
    cold, warm = figures["cold_ingest"], figures["warm_report"]
    cold["launch_ratio_vs_ccusage"] = None if ccu is None else cold["seconds"] / ccu["median_s"]
    cold["ratio_vs_ccusage"] = None if ccu is None else cold["into_running_s"] / ccu["median_s"]
    warm["ccusage_over_ours"] = None if ccu is None else ccu["median_s"] / warm["median_s"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures (a table, or JSON with ``--json``)."""
    args = parse_args(argv)
    log = Console(stderr=True)
    report.print_figures(run(args, log), args.json, report.render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
