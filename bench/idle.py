"""The idle benchmark: what the whole stack costs while nothing happens.

Run ``python -m bench.idle --size-mb 10 --seconds 60`` (``--help`` for the options). For each
``--size-mb`` it:

1. copies the cached Claude corpus of that size (``bench.corpus``; generated on first use);
2. starts every process of the stack (``services.processes`` without ``demo``, which only
   works in demo mode) on a fresh state folder, as ``bench.stack`` does, and waits until they
   are ready and every byte of the corpus is committed (``bench.ingest``), then ``--settle``
   seconds more so start-up work (fast first heartbeats, the watcher's repeated full refresh,
   price loading) is over;
3. samples, over ``--seconds`` seconds, each process's
   * **CPU**: user + system time (its threads and children) over wall time, in % of one core;
   * **disk writes**: ``write_bytes`` of ``/proc/<pid>/io`` (bytes the process sent, or will
     send, to the block device: the page cache pages it dirtied), as MB per hour;
   * **RSS**: resident memory (with its children) at the end, and the most seen meanwhile;
   * **wakes**: voluntary context switches per second, read per thread from
     ``/proc/<pid>/task/<tid>/status``. A thread switches voluntarily each time it blocks
     (waiting on ``epoll``, a lock or a sleep), so an idle loop that wakes up N times a second
     shows about N. A process's figure adds up its threads: its loop (the main thread, or the
     heartbeat thread of a blocking service), ZeroMQ's I/O thread (which wakes for every
     message the process sends or receives) and any library thread (uvicorn's, watchdog's).
     The goal "no loop wakes more than once a second" is checked against each process's
     busiest thread, leaving out the relays that wake once per message passing through and
     never on their own: ZeroMQ's I/O threads and the bus's forwarder (both shown apart);
   and the growth of every file under the state folder (database, its ``-wal``, the logs);
4. prints a table per process with the totals against the issue's goals (0.5 % of one core,
   1 MB written an hour, 250 MB RSS, one wake a second per loop), or ``--json``.

With two or more sizes the total RSS of each is compared: it should stay flat as the history
grows. ``--runs`` repeats each size on a fresh stack and reports the median of every figure.

``measure(size_mb, seconds, cache_dir)`` does one run and returns the figures as a dict, for
other scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from bench import corpus, ingest
from bench.report import print_figures
from bench.stack import Stack
from bus.forwarder import FORWARDER_THREAD
from services.processes import PROCESSES

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
IDLE_STACK = tuple(p.name for p in PROCESSES if p.name != "demo")
"""Every process ``otm up`` starts, except the demo (it works only in demo mode)."""
MB = 1_000_000
SAMPLE_SECONDS = 1.0
"""How often RSS is sampled during the measurement (CPU, writes and wakes are differences)."""
READY_TIMEOUT_SECONDS = 120.0
SETTLE_SECONDS = 10.0
GOAL_CPU_PERCENT = 0.5
GOAL_WRITE_MB_PER_HOUR = 1.0
GOAL_RSS_MB = 250.0
GOAL_LOOP_WAKES_PER_SECOND = 1.0
ZMQ_IO_THREAD = "ZMQbg/"
"""How ZeroMQ names its background threads (``ZMQbg/IO/0``, ``ZMQbg/Reaper``)."""
RELAY_THREADS = (ZMQ_IO_THREAD, FORWARDER_THREAD)
"""Threads that wake once per message passing through (ZeroMQ's I/O, the bus's forwarder):
what the heartbeats cost, shown apart from the loops that wake on their own."""
GOAL_RSS_GROWTH = 0.10
"""Flat as history grows: the larger corpus's total RSS within 10 % of the smaller's."""

Figures = dict[str, Any]


@dataclass
class Sample:
    """One process's cumulative counters at one moment."""

    at: float
    cpu_s: float
    write_bytes: int
    rss: int
    wakes: dict[int, tuple[str, int]] = field(default_factory=dict)
    pss: int = 0
    """Proportional set size: RSS with each shared page (libpython's, libzmq's, libssl's…)
    divided among the processes sharing it, so the stack's total counts it once."""
    """Voluntary context switches of each thread, by thread id, with the thread's name."""


def _family(pid: int) -> list[psutil.Process]:
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def thread_wakes(pid: int) -> dict[int, tuple[str, int]]:
    """Each thread's name and voluntary context switches so far (empty if the process is gone)."""
    out: dict[int, tuple[str, int]] = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                name = (task / "comm").read_text().strip()
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        out[int(task.name)] = (name, int(line.split()[1]))
    return out


def sample(pid: int) -> Sample:
    """The counters of a process and its children now (zeros for whatever is gone)."""
    cpu = 0.0
    written = rss = pss = 0
    wakes: dict[int, tuple[str, int]] = {}
    try:
        family = _family(pid)
    except psutil.Error:
        family = []
    for proc in family:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            cpu += t.user + t.system
            written += proc.io_counters().write_bytes
            rss += proc.memory_info().rss
            pss += getattr(proc.memory_full_info(), "pss", 0)
            wakes.update(thread_wakes(proc.pid))
    return Sample(time.monotonic(), cpu, written, rss, wakes, pss)


def state_files(home: Path) -> dict[str, int]:
    """The size of every file under the state folder, by path relative to it."""
    out: dict[str, int] = {}
    for path in home.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_socket():
                out[str(path.relative_to(home))] = path.stat().st_size
    return out


def process_figures(first: Sample, last: Sample, rss_max: int) -> Figures:
    """One process's figures between two samples."""
    seconds = max(last.at - first.at, 1e-9)
    threads: dict[str, float] = {}
    for tid, (name, count) in last.wakes.items():
        before = first.wakes.get(tid, (name, 0))[1]
        label = "main" if tid == min(last.wakes) else f"{name}:{tid}"
        threads[label] = (count - before) / seconds
    busiest = max(threads.items(), key=lambda kv: kv[1], default=("—", 0.0))
    loops = {k: v for k, v in threads.items() if not k.startswith(RELAY_THREADS)}
    busiest_loop = max(loops.items(), key=lambda kv: kv[1], default=("—", 0.0))
    return {
        "cpu_percent": 100 * (last.cpu_s - first.cpu_s) / seconds,
        "write_mb_per_hour": (last.write_bytes - first.write_bytes) / MB * 3600 / seconds,
        "rss_mb": last.rss / MB,
        "rss_max_mb": rss_max / MB,
        "pss_mb": last.pss / MB,
        "wakes_per_s": sum(threads.values()),
        "busiest_thread": busiest[0],
        "busiest_thread_wakes_per_s": busiest[1],
        "busiest_loop": busiest_loop[0],
        "busiest_loop_wakes_per_s": busiest_loop[1],
        "threads": threads,
    }


def totals(processes: dict[str, Figures], growth_mb_per_hour: float) -> Figures:
    """The whole stack's figures."""
    return {
        "cpu_percent": sum(p["cpu_percent"] for p in processes.values()),
        "write_mb_per_hour": sum(p["write_mb_per_hour"] for p in processes.values()),
        "state_growth_mb_per_hour": growth_mb_per_hour,
        "rss_mb": sum(p["rss_mb"] for p in processes.values()),
        "pss_mb": sum(p["pss_mb"] for p in processes.values()),
        "busiest_loop_wakes_per_s": max(
            (p["busiest_loop_wakes_per_s"] for p in processes.values()), default=0.0
        ),
        "busiest_zmq_wakes_per_s": _busiest(processes, ZMQ_IO_THREAD),
        "forwarder_wakes_per_s": _busiest(processes, FORWARDER_THREAD),
    }


def _busiest(processes: dict[str, Figures], prefix: str) -> float:
    """The most wakes a second of any thread whose name starts with ``prefix``."""
    return max(
        (
            wakes
            for p in processes.values()
            for name, wakes in p["threads"].items()
            if name.startswith(prefix)
        ),
        default=0.0,
    )


def goals(total: Figures) -> list[Figures]:
    """Each idle goal of the issue with the measured value and whether it is met."""
    rows = (
        ("CPU, whole stack (% of one core)", total["cpu_percent"], GOAL_CPU_PERCENT),
        ("disk writes (MB/hour, /proc io)", total["write_mb_per_hour"], GOAL_WRITE_MB_PER_HOUR),
        ("state folder growth (MB/hour)", total["state_growth_mb_per_hour"], 1.0),
        ("RSS, whole stack (MB)", total["rss_mb"], GOAL_RSS_MB),
        ("PSS, whole stack (MB; shared pages once)", total["pss_mb"], None),
        ("busiest loop (wakes/s)", total["busiest_loop_wakes_per_s"], GOAL_LOOP_WAKES_PER_SECOND),
        # ZeroMQ's I/O threads wake for every message sent or received, ours or not: shown
        # apart, as what the heartbeats (and any client on the bus) cost.
        ("busiest ZeroMQ I/O thread (wakes/s)", total["busiest_zmq_wakes_per_s"], None),
        ("bus forwarder, one per message (wakes/s)", total["forwarder_wakes_per_s"], None),
    )
    return [
        {"name": n, "value": v, "limit": lim, "ok": lim is None or v <= lim} for n, v, lim in rows
    ]


def _wait_caught_up(stack: Stack, files: dict[corpus.FileId, int], timeout: float) -> float:
    began = time.monotonic()
    deadline = began + timeout
    while set(stack.procs) - set(stack.ready_at()):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError("the stack did not get ready")
        time.sleep(0.05)
    ingest.wait_ingested(stack.db_path, files, deadline - time.monotonic(), stack.check_alive)
    return time.monotonic() - began


def measure(
    size_mb: float,
    seconds: float,
    cache_dir: Path | None,
    *,
    seed: int = 1,
    settle: float = SETTLE_SECONDS,
    work: Path | None = None,
) -> Figures:
    """Start the stack on a corpus of ``size_mb``, wait until it has caught up, and measure it
    idle for ``seconds``: per process and in total, as a JSON-ready dict."""
    with _work_dir(work) as scratch:
        data = corpus.prepare(size_mb, seed, cache_dir, scratch / "claude")
        # A HOME of its own: the watcher watches the nearest existing parent of each missing
        # root (~/.codex, ~/.gemini), and this machine's own HOME is busy with other work.
        user = scratch / "user"
        user.mkdir(exist_ok=True)
        stack = Stack(scratch / "home", {**corpus.Corpus.data_dirs(data.root), "HOME": str(user)})
        try:
            stack.start(IDLE_STACK)
            caught_up = _wait_caught_up(stack, data.transcripts(), READY_TIMEOUT_SECONDS)
            time.sleep(settle)
            stack.check_alive()
            return _measure_running(stack, data, seconds, caught_up, size_mb)
        finally:
            stack.stop_all()


def _measure_running(
    stack: Stack, data: corpus.Corpus, seconds: float, caught_up: float, size_mb: float
) -> Figures:
    pids = stack.pids()
    files_before = state_files(stack.home)
    first = {name: sample(pid) for name, pid in pids.items()}
    rss_max = {name: s.rss for name, s in first.items()}
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(SAMPLE_SECONDS, left))
        for name, pid in pids.items():
            rss_max[name] = max(rss_max[name], sample(pid).rss)
    last = {name: sample(pid) for name, pid in pids.items()}
    files_after = state_files(stack.home)
    stack.check_alive()
    measured = last[IDLE_STACK[0]].at - first[IDLE_STACK[0]].at
    growth = {
        path: size - files_before.get(path, 0)
        for path, size in sorted(files_after.items())
        if size != files_before.get(path, 0)
    }
    processes = {
        name: process_figures(first[name], last[name], rss_max[name]) for name in IDLE_STACK
    }
    total = totals(processes, sum(growth.values()) / MB * 3600 / measured)
    return {
        "corpus": {
            "size_mb": size_mb,
            "bytes": data.jsonl_bytes(),
            "files": len(data.transcripts()),
        },
        "caught_up_s": caught_up,
        "seconds": measured,
        "processes": processes,
        "totals": total,
        "state_growth_bytes": growth,
        "goals": goals(total),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


@contextlib.contextmanager
def _work_dir(work: Path | None) -> Iterator[Path]:
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        yield work
        return
    with tempfile.TemporaryDirectory(prefix="otm-idle-") as tmp:
        yield Path(tmp)


def median_of(runs: list[Figures]) -> Figures:
    """One figure set whose every number is the median of the runs' (the first run's text)."""
    if len(runs) == 1:
        return runs[0]

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, bool):
            return all(values)
        if isinstance(first, int | float):
            return statistics.median(values)
        if isinstance(first, dict):
            keys = [k for k in first if all(k in v for v in values)]
            return {k: merge([v[k] for v in values]) for k in keys}
        if isinstance(first, list) and all(len(v) == len(first) for v in values):
            return [merge(list(items)) for items in zip(*values, strict=True)]
        return first

    merged: Figures = merge(runs)
    merged["goals"] = goals(merged["totals"])
    merged["runs"] = len(runs)
    return merged


def run(args: argparse.Namespace, log: Console) -> Figures:
    """Measure every size ``--runs`` times; the medians, and the RSS comparison across sizes."""
    by_size = []
    for size in args.size_mb:
        runs = []
        for i in range(args.runs):
            log.print(f"[dim]{size:g} MB corpus, run {i + 1} of {args.runs}…[/dim]")
            runs.append(measure(size, args.seconds, args.cache_dir, settle=args.settle))
        by_size.append(median_of(runs))
    out: Figures = {"sizes": by_size}
    if len(by_size) > 1:
        small, large = by_size[0]["totals"]["rss_mb"], by_size[-1]["totals"]["rss_mb"]
        growth = (large - small) / small if small else 0.0
        out["rss_growth"] = {
            "smallest_mb": small,
            "largest_mb": large,
            "growth": growth,
            "ok": growth <= GOAL_RSS_GROWTH,
        }
    return out


def render(figures: Figures, out: Console) -> None:
    """A table per corpus size: each process, the totals, and the goals."""
    for fig in figures["sizes"]:
        runs = fig.get("runs", 1)
        title = (
            f"idle stack, {fig['corpus']['size_mb']:g} MB corpus "
            f"({fig['corpus']['files']} files), {fig['seconds']:.0f} s"
            + (f", median of {runs} runs" if runs > 1 else "")
        )
        table = Table(title=title)
        for column in ("process", "CPU %", "writes MB/h", "RSS MB", "wakes/s", "busiest loop"):
            table.add_column(column, justify="left" if column == "process" else "right")
        for name, p in fig["processes"].items():
            table.add_row(
                name,
                f"{p['cpu_percent']:.2f}",
                f"{p['write_mb_per_hour']:.2f}",
                f"{p['rss_mb']:.0f}",
                f"{p['wakes_per_s']:.1f}",
                f"{p['busiest_loop']} {p['busiest_loop_wakes_per_s']:.1f}/s",
            )
        t = fig["totals"]
        table.add_section()
        table.add_row(
            "total",
            f"{t['cpu_percent']:.2f}",
            f"{t['write_mb_per_hour']:.2f}",
            f"{t['rss_mb']:.0f}",
            f"{sum(p['wakes_per_s'] for p in fig['processes'].values()):.1f}",
            f"max {t['busiest_loop_wakes_per_s']:.1f}/s",
        )
        out.print(table)
        goal_table = Table(title="against the goals")
        for column in ("goal", "measured", "limit", ""):
            goal_table.add_column(column, justify="left" if column == "goal" else "right")
        for g in fig["goals"]:
            if g["limit"] is None:
                goal_table.add_row(g["name"], f"{g['value']:.2f}", "—", "(shown)")
                continue
            mark = "[green]met[/green]" if g["ok"] else "[red]NOT MET[/red]"
            goal_table.add_row(g["name"], f"{g['value']:.2f}", f"{g['limit']:g}", mark)
        out.print(goal_table)
        if fig["state_growth_bytes"]:
            grown = ", ".join(f"{p} {b:+,} B" for p, b in fig["state_growth_bytes"].items())
            out.print(f"state folder growth: {grown}")
    growth = figures.get("rss_growth")
    if growth is not None:
        mark = "[green]flat[/green]" if growth["ok"] else "[red]GROWS[/red]"
        out.print(
            f"RSS as history grows: {growth['smallest_mb']:.0f} MB → "
            f"{growth['largest_mb']:.0f} MB ({growth['growth']:+.0%}) {mark}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__.split("\n")[0])
    p.add_argument("--size-mb", type=float, nargs="+", default=[10.0], help="corpus sizes")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to measure, idle")
    p.add_argument("--settle", type=float, default=SETTLE_SECONDS, help="wait after catch-up")
    p.add_argument("--runs", type=int, default=1, help="runs per size (medians reported)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="corpus cache")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures (tables, or JSON with ``--json``)."""
    args = parse_args(argv)
    log = Console(stderr=True)
    print_figures(run(args, log), args.json, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
