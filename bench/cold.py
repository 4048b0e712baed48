"""Cold start: from launching the stack on a fresh state until the API's totals equal ccusage's.

Run ``python -m bench.cold --size-mb 300 --mixed`` (``--help`` for the options). In one run, on
the same files (a generated corpus, cached under ``bench/.cache/``), it times:

1. ccusage's own scans: ``ccusage claude daily``, and with ``--mixed`` also ``codex daily`` and
   ``gemini daily``, one after the other (their sum is one round; the median of the rounds);
2. ``otm up`` on an empty ``OTM_HOME`` (``--mode pipeline``: the processes that turn logs into
   answers, ``bus store collector watcher scheduler api``, each launched as ``otm <name>``),
   from the launch until ``GET /v1/usage/daily?provider=<p>`` answers, for every provider, the
   totals ccusage printed.

While the stack ingests, the bench watches the committed cursors in the database (a cheap
read-only query every 25 ms) and asks the API only once every byte is committed, so its own
polling does not slow what it measures; the time is when the API's answer matched.

The corpus is the clean one by default (no edge cases: every counting rule of both tools agrees
on it, so the totals can be equal); ``--edge-cases`` uses the full corpus, where the known
ccusage quirks make them differ: the time is then when the API answers once everything is
committed, and the difference is reported.

``measure(size_mb, cache_dir)`` returns the figures as a dict for an all-in-one bench command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import ccusage, corpus, ingest, mixed
from bench.corpus import TOKEN_FIELDS
from bench.rss import cpu_seconds
from bench.stack import PIPELINE, Stack

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
POLL_SECONDS = 0.025
PIPELINE_WITH_API = (*PIPELINE, "api")
Figures = dict[str, Any]


def cores() -> dict[str, int | None]:
    """The machine's cores, and those this process may run on."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_count": os.cpu_count(), "usable": usable}


def _fields(provider: str, is_mixed: bool) -> tuple[str, ...]:
    return mixed.FIELDS[provider] if is_mixed else TOKEN_FIELDS


def _api_totals(port: int, provider: str, fields: tuple[str, ...]) -> dict[str, int] | None:
    """The API's daily totals of one provider, or ``None`` while it does not answer."""
    url = f"http://127.0.0.1:{port}/v1/usage/daily?provider={provider}&tz=UTC"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            report = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return mixed.pick(report, fields)


class _Launched:
    """The stack of one cold run: ``otm up`` (one process group) or the processes one by one."""

    def __init__(self, mode: str, stack: Stack) -> None:
        self.mode = mode
        self.stack = stack
        self.up: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.mode == "pipeline":
            self.stack.start(PIPELINE_WITH_API)
            return
        log = (self.stack.logs / "up.out").open("ab")
        self.up = subprocess.Popen(
            [sys.executable, "-m", "otm", "up"],
            env=self.stack.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        if self.up is None:
            self.stack.check_alive()
        elif self.up.poll() is not None:
            tail = (self.stack.logs / "up.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"otm up exited with {self.up.returncode}:\n{tail}")

    def cpu(self) -> dict[str, float]:
        if self.up is None:
            return {n: cpu_seconds(p) for n, p in sorted(self.stack.pids().items())}
        import psutil

        out: dict[str, float] = {}
        try:
            children = psutil.Process(self.up.pid).children(recursive=True)
        except psutil.Error:
            return out
        for child in children:
            try:
                name = " ".join(child.cmdline()[-1:])
            except psutil.Error:
                continue
            out[name] = cpu_seconds(child.pid)
        out["up"] = cpu_seconds(self.up.pid)
        return out

    def stop(self) -> None:
        if self.up is None:
            self.stack.stop_all()
            return
        if self.up.poll() is None:
            os.killpg(self.up.pid, signal.SIGTERM)
            try:
                self.up.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.up.pid, signal.SIGKILL)
                self.up.wait(5)
        with contextlib.suppress(ProcessLookupError):  # a child that outlived otm up
            os.killpg(self.up.pid, signal.SIGKILL)


def cold_run(
    home: Path,
    data: mixed.MixedCorpus | corpus.Corpus,
    theirs: dict[str, dict[str, int]],
    mode: str,
    timeout: float,
) -> Figures:
    """One cold start on the empty state dir ``home``, timed until the API matches ``theirs``
    (each provider's totals), or until it answers once ingested when ``theirs`` is empty."""
    stack = Stack(home, data.data_dirs(data.root))
    port = int(stack.env["OTM_API_PORT"])
    files = data.log_files(data.root)
    is_mixed = isinstance(data, mixed.MixedCorpus)
    providers = mixed.PROVIDERS if is_mixed else ("claude",)
    launched = _Launched(mode, stack)
    began = time.monotonic()
    launched.start()
    try:
        ingested = ingest.wait_ingested(stack.db_path, files, timeout, launched.check_alive)
        deadline = time.monotonic() + timeout
        while True:
            ours = {p: _api_totals(port, p, _fields(p, is_mixed)) for p in providers}
            answered = time.monotonic()
            if all(v is not None for v in ours.values()) and (not theirs or ours == theirs):
                break
            launched.check_alive()
            if answered > deadline:
                raise TimeoutError(f"the API's totals {ours} never equalled ccusage's {theirs}")
            time.sleep(POLL_SECONDS)
        cpu = launched.cpu()
    finally:
        launched.stop()
    return {
        "seconds": answered - began,
        "ingested_s": ingested - began,
        "cpu_s": cpu,
        "ours": ours,
        "equal": bool(theirs) and ours == theirs,
    }


def measure(
    size_mb: float,
    cache_dir: Path | None = DEFAULT_CACHE,
    *,
    is_mixed: bool = True,
    seed: int = 1,
    runs: int = 3,
    ccusage_runs: int = 3,
    mode: str = "up",
    edge_cases: bool = False,
    timeout: float = 1800.0,
    binary: Path | None = None,
    log: Console | None = None,
) -> Figures:
    """Cold start against ccusage's scans on one corpus, ``runs`` times each (medians)."""
    say = (log or Console(stderr=True, quiet=True)).print
    with tempfile.TemporaryDirectory(prefix="otm-cold-") as tmp:
        work = Path(tmp)
        say(f"corpus: {size_mb:g} MB, {'mixed' if is_mixed else 'claude'}")
        data: mixed.MixedCorpus | corpus.Corpus
        if is_mixed:
            data = mixed.prepare(size_mb, seed, cache_dir, work / "data", edge_cases)
            dirs = data.ccusage_dirs()
        else:
            data = corpus.prepare(size_mb, seed, cache_dir, work / "claude", edge_cases)
            dirs = {"claude": {"CLAUDE_CONFIG_DIR": str(data.root)}}
        exe = binary or ccusage.ensure_installed(cache_dir or work / "ccusage")
        say(f"ccusage {ccusage.VERSION}: {', '.join(dirs)} daily x{ccusage_runs}")
        home = work / "ccusage-home"
        home.mkdir()
        theirs_runs = ccusage.daily_each(exe, dirs, home, ccusage_runs)
        rounds = [sum(r) for r in zip(*(x.seconds for x in theirs_runs.values()), strict=True)]
        theirs = {p: mixed.pick(r.report, _fields(p, is_mixed)) for p, r in theirs_runs.items()}
        results = []
        for i in range(runs):
            say(f"cold start {i + 1}/{runs} ({mode})")
            results.append(
                cold_run(work / f"home-{i}", data, {} if edge_cases else theirs, mode, timeout)
            )
        ours_s = statistics.median(r["seconds"] for r in results)
        theirs_s = statistics.median(rounds)
        last = results[-1]
        return {
            "corpus": {
                "size_mb": size_mb,
                "bytes": data.jsonl_bytes(),
                "files": len(data.transcripts()),
                "mixed": is_mixed,
                "edge_cases": edge_cases,
            },
            "cores": cores(),
            "mode": mode,
            "ccusage": {
                "version": ccusage.VERSION,
                "median_s": theirs_s,
                "runs_s": rounds,
                "by_provider_s": {p: statistics.median(r.seconds) for p, r in theirs_runs.items()},
                "totals": theirs,
            },
            "cold": {
                "median_s": ours_s,
                "runs_s": [r["seconds"] for r in results],
                "ingested_runs_s": [r["ingested_s"] for r in results],
                "cpu_s_last_run": last["cpu_s"],
                "totals": last["ours"],
                "equal_totals": all(r["equal"] for r in results),
            },
            "ratio_vs_ccusage": ours_s / theirs_s,
            "target_ratio": 1.5,
        }


def render(f: Figures) -> str:
    """A few lines for people."""
    c, cold, ccu = f["corpus"], f["cold"], f["ccusage"]
    runs = ", ".join(f"{s:.2f}" for s in cold["runs_s"])
    theirs = ", ".join(f"{s:.2f}" for s in ccu["runs_s"])
    ok = "ok" if f["ratio_vs_ccusage"] <= f["target_ratio"] else "NOT MET"
    return "\n".join(
        [
            f"corpus      {c['bytes'] / 1e6:.0f} MB, {c['files']} files"
            f"{' (mixed)' if c['mixed'] else ''}; cores {f['cores']['cpu_count']}"
            f" (usable {f['cores']['usable']})",
            f"ccusage     {ccu['median_s']:.2f} s median of [{theirs}]"
            f" ({', '.join(f'{p} {s:.2f}' for p, s in ccu['by_provider_s'].items())})",
            f"otm {f['mode']:<8}{cold['median_s']:.2f} s median of [{runs}]"
            f"; every byte committed after {statistics.median(cold['ingested_runs_s']):.2f} s",
            f"totals      {'equal to ccusage' if cold['equal_totals'] else 'NOT equal'}",
            f"ratio       {f['ratio_vs_ccusage']:.2f}x ccusage (target <= "
            f"{f['target_ratio']}x: {ok})",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Measure and print (``--json`` for the figures as JSON)."""
    p = argparse.ArgumentParser(prog="python -m bench.cold", description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=float, required=True, help="corpus size (10**6 bytes)")
    p.add_argument("--mixed", action="store_true", help="Claude, Codex and Gemini (70/20/10)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--runs", type=int, default=3, help="cold starts (median)")
    p.add_argument("--ccusage-runs", type=int, default=3, help="ccusage rounds (median)")
    p.add_argument("--mode", choices=("up", "pipeline"), default="up")
    p.add_argument("--edge-cases", action="store_true", help="the full corpus (quirks differ)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--ccusage", type=Path, help="use this ccusage binary")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    figures = measure(
        args.size_mb,
        args.cache_dir,
        is_mixed=args.mixed,
        seed=args.seed,
        runs=args.runs,
        ccusage_runs=args.ccusage_runs,
        mode=args.mode,
        edge_cases=args.edge_cases,
        timeout=args.timeout,
        binary=args.ccusage,
        log=Console(stderr=True),
    )
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
