"""The statusline benchmark: ``otm statusline`` against ``ccusage statusline`` on the same input.

Run ``python -m bench.statusline --size 1000`` (``--help`` for the options). It:

1. takes the cached Claude corpus of ``--size`` MB (``bench.corpus``; generated on first use),
   read in place, plus a small "live" Claude folder where a few exchanges are appended now, so
   today has usage (the corpus itself ends on a fixed date); both are in ``CLAUDE_CONFIG_DIR``;
2. brings the otm database up to date with ``otm report daily --json --provider claude`` (the
   one-shot catch-up), timed, and keeps its figure for today to check the statusline against;
3. writes Claude Code's status JSON for the live session (``transcript_path``, ``session_id``,
   model, session cost and ``rate_limits``);
4. times ``--runs`` runs of the installed ``otm statusline`` with the stack stopped and (unless
   ``--no-stack``) running: once with the same windows every run (the usual update: the spool
   is not rewritten) and once with a new percentage every run (the spool is written each time;
   with the stack running, the watcher, collector and store react to each write);
5. times ``ccusage statusline`` on the same stdin and corpus (``--no-ccusage`` skips it). It
   caches its line per session for ``--refresh-interval`` (1 s), so it is reported three ways:
   its first run, back-to-back runs (mostly cache hits) and runs spaced past the interval (each
   recomputed).

The state dir (database and live folder) is kept under ``--cache-dir`` next to the corpus, so a
second run only catches up what was appended. Each timed command is one warm-up run (which also
writes Python's bytecode caches, as an installed package has them) and then ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from rich.console import Console
from rich.table import Table

from bench import ccusage, corpus
from bench.ingest import wait_ingested
from bench.pipeline import otm_command, percentile, wait_ready
from bench.report import print_figures
from bench.stack import PIPELINE, Stack, stack_env
from services.demo.corpus.claude import append_live, generate
from services.queries.reports.timezones import local_timezone_name

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
LIVE_EXCHANGES = 3
"""Exchanges appended to the live session before each benchmark: today's usage."""
TODAY = re.compile(r"today \$(\d+\.\d\d)(\+\?)?")
Figures = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench.statusline", description=__doc__.split("\n")[0]
    )
    p.add_argument("--size", type=float, default=1000, help="corpus MB (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--runs", type=int, default=30, help="timed runs per case (default 30)")
    p.add_argument(
        "--with-stack",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time it with the stack running (default: yes)",
    )
    p.add_argument("--no-ccusage", action="store_true", help="skip ccusage")
    p.add_argument("--ccusage", type=Path, help="use this ccusage binary instead of installing")
    p.add_argument(
        "--ccusage-spaced-runs",
        type=int,
        default=3,
        help="ccusage runs spaced past its cache interval (default 3)",
    )
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="corpora and ccusage")
    p.add_argument("--no-cache", action="store_true", help="generate everything in a temp dir")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--timeout", type=float, default=3600.0, help="catch-up/stack seconds")
    args = p.parse_args(argv)
    if args.runs < 2 or args.ccusage_spaced_runs < 0 or args.size <= 0:
        p.error("--runs must be at least 2, --ccusage-spaced-runs 0 or more, --size positive")
    return args


# -- setting up -------------------------------------------------------------------------------


@contextmanager
def bench_dir(args: argparse.Namespace) -> Iterator[tuple[Path, Path]]:
    """``(corpus cache dir, state parent)``: under ``--cache-dir``, or a temp dir removed
    afterwards with ``--no-cache``."""
    if not args.no_cache:
        place = args.cache_dir / f"statusline-{args.size:g}-{args.seed}"
        place.mkdir(parents=True, exist_ok=True)
        yield args.cache_dir, place
        return
    with tempfile.TemporaryDirectory(prefix="otm-bench-statusline-") as tmp:
        yield Path(tmp) / "cache", Path(tmp) / "state"


def claude_corpus(cache_dir: Path, size_mb: float, seed: int) -> tuple[Path, bool]:
    """The cached corpus's Claude config dir (generated on first use) and whether it existed."""
    cached = corpus.cache_path(cache_dir, size_mb, seed)
    found = (cached / "manifest.json").is_file()
    if not found:
        corpus.generate_cached(
            cached,
            lambda scratch: msgspec.json.encode(
                generate(
                    scratch / "claude",
                    size_mb=size_mb,
                    seed=seed,
                    start=corpus.CORPUS_END,
                    days=corpus.CORPUS_DAYS,
                )
            ),
        )
    return cached / "claude", found


def live_session(live: Path, seed: int) -> Path:
    """Append `LIVE_EXCHANGES` exchanges to the live folder's session now; its transcript."""
    rng = random.Random(f"{seed}-{time.time_ns()}")
    for _ in range(LIVE_EXCHANGES):
        append_live(live, rng, datetime.now(UTC))
    return max((live / "projects").glob("*/*.jsonl"), key=lambda p: p.stat().st_mtime_ns)


def status_input(transcript: Path, used: float, now: float) -> bytes:
    """Claude Code's status JSON for the session in ``transcript``."""
    model = "claude-sonnet-4-5-20250929"
    for line in reversed(transcript.read_text(errors="replace").splitlines()):
        found = re.search(r'"model":"(claude-[^"]+)"', line)
        if found:
            model = found.group(1)
            break
    # Claude Code shows e.g. "Sonnet 4.5" for claude-sonnet-4-5-20250929.
    named = re.match(r"claude-([a-z]+)-(\d+)-(\d)(?:-|$)", model)
    display = f"{named.group(1).title()} {named.group(2)}.{named.group(3)}" if named else model
    data = {
        "hook_event_name": "Status",
        "session_id": transcript.stem,
        "transcript_path": str(transcript),
        "cwd": "/home/dev/api-server",
        "model": {"id": model, "display_name": display},
        "workspace": {"current_dir": "/home/dev/api-server", "project_dir": "/home/dev"},
        "version": "2.1.30",
        "output_style": {"name": "default"},
        "cost": {
            "total_cost_usd": 1.23,
            "total_duration_ms": 600_000,
            "total_api_duration_ms": 200_000,
            "total_lines_added": 10,
            "total_lines_removed": 2,
        },
        "exceeds_200k_tokens": False,
        "rate_limits": {
            "five_hour": {"used_percentage": used, "resets_at": int(now) + 7_980},
            "seven_day": {
                "used_percentage": 41,
                "resets_at": datetime.fromtimestamp(now + 273_600, UTC).isoformat(),
            },
        },
    }
    return json.dumps(data).encode()


def catch_up(env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """``otm report daily --json --provider claude`` (it catches up first): seconds, report."""
    began = time.perf_counter()
    done = subprocess.run(
        [*otm_command(), "report", "daily", "--json", "--provider", "claude"],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"otm report daily failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - began, json.loads(done.stdout)


def report_today(report: dict[str, Any]) -> str:
    """Today's dollars in the report (local date) as the statusline prints them."""
    today = datetime.now(ZoneInfo(local_timezone_name())).date().isoformat()
    cost = sum(row["totalCost"] for row in report["daily"] if row["date"] == today)
    return f"{cost:.2f}{'+?' if 'unpriced' in report else ''}"


def today_shown(line: str) -> str | None:
    """The statusline's today's dollars (``12.34`` or ``12.34+?``), if it shows them."""
    shown = TODAY.search(line)
    return None if shown is None else shown.group(1) + (shown.group(2) or "")


# -- timing -----------------------------------------------------------------------------------


def timed(
    command: list[str], stdins: list[bytes], env: dict[str, str], cwd: Path | None = None
) -> tuple[list[float], str]:
    """Wall seconds of one run per stdin, back to back, and the last run's first line."""
    seconds: list[float] = []
    line = ""
    for stdin in stdins:
        began = time.perf_counter()
        done = subprocess.run(command, input=stdin, env=env, cwd=cwd, capture_output=True)
        seconds.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]!r}")
        line = done.stdout.decode(errors="replace").partition("\n")[0]
    return seconds, line


def stats(seconds: list[float]) -> Figures:
    """Median, p95, max and min of a timing, with every run."""
    return {
        "median_s": statistics.median(seconds),
        "p95_s": percentile(seconds, 95),
        "max_s": max(seconds),
        "min_s": min(seconds),
        "runs_s": seconds,
    }


def otm_cases(
    command: list[str], transcript: Path, env: dict[str, str], runs: int
) -> dict[str, Figures]:
    """``otm statusline`` with unchanged windows, then with a new percentage every run, and
    the floor under both: the same interpreter starting and doing nothing (``-c pass``)."""
    now = time.time()
    same = status_input(transcript, 23.5, now)
    timed(command, [same], env)  # warm-up: bytecode caches, page cache, the spool file
    unchanged, line = timed(command, [same] * runs, env)
    changing = [status_input(transcript, 30 + i / 10, now) for i in range(runs)]
    written, _ = timed(command, changing, env)
    floor, _ = timed([sys.executable, "-I", "-c", "pass"], [b""] * runs, env)
    return {
        "unchanged": {**stats(unchanged), "line": line},
        "spool_written": stats(written),
        "python_floor": stats(floor),
        "over_floor": over_floor(unchanged, floor),
    }


FLOOR_TARGETS = {"median": 2.5, "p95": 3.5}
"""Issue 12: the statusline's median and p95 over ``python -I -c pass``'s, in the same run."""


def over_floor(seconds: list[float], floor: list[float]) -> Figures:
    """The statusline's median and p95 over the interpreter floor's, and whether each is
    within `FLOOR_TARGETS`."""
    median = statistics.median(seconds) / statistics.median(floor)
    p95 = (percentile(seconds, 95) or 0.0) / (percentile(floor, 95) or 1.0)
    return {
        "median": median,
        "p95": p95,
        "median_ok": median <= FLOOR_TARGETS["median"],
        "p95_ok": p95 <= FLOOR_TARGETS["p95"],
    }


def start_stack(stack: Stack, roots: list[Path], timeout: float, log: Console) -> None:
    """Start the pipeline and wait until it has every byte of every file under ``roots``."""
    stack.start(PIPELINE)
    wait_ready(stack, PIPELINE, timeout)
    files = corpus.sizes(p for root in roots for p in (root / "projects").rglob("*.jsonl"))
    log.print(f"stack up; waiting until it has every byte of {len(files)} files")
    wait_ingested(stack.db_path, files, timeout, stack.check_alive)


def run_ccusage(
    binary: Path, stdin: bytes, claude_dirs: str, work: Path, runs: int, spaced: int
) -> Figures:
    """``ccusage statusline``: its first run (no cache), back-to-back runs and spaced runs."""
    home = work / "ccusage-home"
    tmp = work / "ccusage-tmp"  # its per-session cache lives in $TMPDIR/ccusage-semaphore
    shutil.rmtree(tmp, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True)
    env = {**ccusage.isolated_env(home, {"CLAUDE_CONFIG_DIR": claude_dirs}), "TMPDIR": str(tmp)}
    command = [str(binary), "statusline"]
    first, line = timed(command, [stdin], env, cwd=home)
    back_to_back, _ = timed(command, [stdin] * runs, env, cwd=home)
    spaced_runs: list[float] = []
    for _ in range(spaced):
        time.sleep(1.2)  # past --refresh-interval (1 s): the line is computed again
        seconds, _ = timed(command, [stdin], env, cwd=home)
        spaced_runs += seconds
    return {
        "version": ccusage.VERSION,
        "first_s": first[0],
        "back_to_back": stats(back_to_back),
        "spaced": stats(spaced_runs) if spaced_runs else None,
        "line": line,
    }


# -- the run ----------------------------------------------------------------------------------


def machine() -> Figures:
    """What the figures were measured on, and how busy it was."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_before": load_average(),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (``None`` where the OS has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def run(args: argparse.Namespace, log: Console) -> Figures:
    """Every phase, in order; the stack is always stopped."""
    figures: Figures = {"machine": machine()}
    with bench_dir(args) as (cache_dir, place):
        log.print(f"corpus: {args.size:g} MB, seed {args.seed}")
        claude_dir, from_cache = claude_corpus(cache_dir, args.size, args.seed)
        live, home = place / "live", place / "home"
        transcript = live_session(live, args.seed)
        dirs = f"{claude_dir},{live}"
        env = stack_env(home, {"CLAUDE_CONFIG_DIR": dirs})
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files
        log.print("catching up the database (otm report daily)")
        catch_up_s, report = catch_up(env)
        db = home / "otm.db"
        figures["corpus"] = {
            "size_mb": args.size,
            "seed": args.seed,
            "bytes": sum(p.stat().st_size for p in (claude_dir / "projects").rglob("*.jsonl")),
            "from_cache": from_cache,
            "claude_dirs": dirs,
        }
        figures["database"] = {
            "bytes": sum(p.stat().st_size for p in home.glob("otm.db*")),
            "catch_up_s": catch_up_s,
            "report_today_usd": report_today(report),
        }
        command = [*otm_command(), "statusline"]
        log.print(f"otm statusline x{args.runs}, stack stopped")
        otm: Figures = {"stopped": otm_cases(command, transcript, env, args.runs), "running": None}
        if args.with_stack:
            stack = Stack(home, {"CLAUDE_CONFIG_DIR": dirs})
            try:
                start_stack(stack, [claude_dir, live], args.timeout, log)
                log.print(f"otm statusline x{args.runs}, stack running")
                otm["running"] = otm_cases(command, transcript, env, args.runs)
            finally:
                stack.stop_all()
        figures["otm"] = otm
        line = otm["stopped"]["unchanged"]["line"]
        figures["checks"] = {
            "line": line,
            "today_shown_usd": today_shown(line),
            "today_matches_report": today_shown(line) == figures["database"]["report_today_usd"],
            "database_exists": db.is_file(),
        }
        figures["ccusage"] = None
        if not args.no_ccusage:
            binary = args.ccusage.resolve() if args.ccusage else ccusage.ensure_installed(cache_dir)
            log.print(f"ccusage {ccusage.VERSION} statusline x{args.runs + 1}")
            stdin = status_input(transcript, 23.5, time.time())
            figures["ccusage"] = run_ccusage(
                binary, stdin, dirs, place, args.runs, args.ccusage_spaced_runs
            )
    figures["machine"]["load_after"] = load_average()
    figures["ratios"] = ratios(figures)
    return figures


def ratios(figures: Figures) -> Figures | None:
    """ccusage's time over otm's median (stack stopped, unchanged windows), per ccusage case."""
    ccu = figures["ccusage"]
    if ccu is None:
        return None
    ours = figures["otm"]["stopped"]["unchanged"]["median_s"]
    return {
        "first_run": ccu["first_s"] / ours,
        "back_to_back_median": ccu["back_to_back"]["median_s"] / ours,
        "spaced_median": None if ccu["spaced"] is None else ccu["spaced"]["median_s"] / ours,
    }


def render(figures: Figures, out: Console) -> None:
    """The figures as a table, then the lines and the ratios."""
    table = Table(title="statusline wall time (ms)")
    for column in ("case", "runs", "median", "p95", "max", "min"):
        table.add_column(column, justify="left" if column == "case" else "right")

    def row(name: str, s: Figures | None) -> None:
        if s is not None:
            cells = [f"{s[k] * 1000:.1f}" for k in ("median_s", "p95_s", "max_s", "min_s")]
            table.add_row(name, str(len(s["runs_s"])), *cells)

    for state, cases in figures["otm"].items():
        if cases is not None:
            row(f"otm, stack {state}", cases["unchanged"])
            row(f"otm, stack {state}, spool written each run", cases["spool_written"])
            row(f"python -I -c pass (floor), stack {state}", cases["python_floor"])
    ccu = figures["ccusage"]
    if ccu is not None:
        table.add_row("ccusage, first run", "1", f"{ccu['first_s'] * 1000:.1f}", "", "", "")
        row("ccusage, back to back (its cache)", ccu["back_to_back"])
        row("ccusage, spaced > 1 s (recomputed)", ccu["spaced"])
    out.print(table)
    db = figures["database"]
    out.print(
        f"corpus {figures['corpus']['bytes'] / 1e6:,.0f} MB, database {db['bytes'] / 1e6:,.0f} MB,"
        f" catch-up {db['catch_up_s']:.1f} s; report says today ${db['report_today_usd']}"
    )
    out.print(f"otm:     {figures['checks']['line']}")
    if ccu is not None:
        out.print(f"ccusage: {ccu['line']}")
    out.print(f"today matches otm report daily: {figures['checks']['today_matches_report']}")
    for state, cases in figures["otm"].items():
        if cases is not None:
            r = cases["over_floor"]
            out.print(
                f"otm statusline / python -I -c pass, stack {state}: median {r['median']:.2f}x"
                f" (target ≤ {FLOOR_TARGETS['median']}x {'ok' if r['median_ok'] else 'MISSED'}),"
                f" p95 {r['p95']:.2f}x (target ≤ {FLOOR_TARGETS['p95']}x"
                f" {'ok' if r['p95_ok'] else 'MISSED'})"
            )
    if figures["ratios"] is not None:
        r = figures["ratios"]
        spaced = "—" if r["spaced_median"] is None else f"{r['spaced_median']:.0f}x"
        out.print(
            f"ccusage / otm median: first run {r['first_run']:.0f}x, back to back"
            f" {r['back_to_back_median']:.2f}x, spaced {spaced}"
        )
    m = figures["machine"]
    if m["load_before"] is not None and m["load_after"] is not None:
        out.print(
            f"{m['cpus']} CPUs, load average before {m['load_before'][0]:.2f},"
            f" after {m['load_after'][0]:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures (a table, or JSON with ``--json``)."""
    args = parse_args(argv)
    log = Console(stderr=True)
    print_figures(run(args, log), args.json, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
