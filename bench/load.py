"""The load benchmark: appended transcript lines at a steady rate through the whole stack.

Run ``python -m bench.load`` (``--help`` for the options; the issue's figure is the default,
1,000 lines a second for 60 s). It:

1. starts the stack (``bench.stack``: bus, store, collector, watcher, scheduler, api) on a
   fresh state folder over a cached Claude corpus of ``--size-mb`` (a history to sit on), and
   waits until it is caught up;
2. prepares exchanges as Claude Code writes them (``append_live`` into scratch folders: a
   snapshot line, the prompt, one to three lines of the reply), each given fresh ids;
3. appends them, line by line (one write per complete line, as Claude Code does), to
   ``--sessions`` transcripts at ``--rate`` lines a second for ``--seconds`` seconds, on a fixed
   schedule (open loop: a slow stack does not slow the writer down);
4. follows the API's Server-Sent-Event stream (``/v1/stream?prefix=evt.usage.``), as a UI does,
   and times each exchange from the write of its last line to the event holding its record at
   full size;
5. prints the latency percentiles, how many exchanges never arrived, the rate actually written,
   and the stack's RSS at the start, middle and end of the load (memory must stay flat), with
   the issue's goals (p99 <= 250 ms, nothing lost), or ``--json``.

``measure(...)`` does one run and returns the figures as a dict, for other scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench import corpus, ingest
from bench.pipeline import wait_ready
from bench.rss import tree_rss
from bench.stack import PIPELINE, Stack
from services.collector.claude.dedup import dedup_key
from services.demo.corpus.claude import append_live

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
NAMES = (*PIPELINE, "api")
GOAL_P99_SECONDS = 0.25
TEMPLATES = 200
"""Distinct exchanges prepared; they are written again and again with fresh ids."""
SETTLE_SECONDS = 10.0
"""How long after the last write an exchange may still arrive before it counts as lost."""
READY_TIMEOUT_SECONDS = 300.0
MB = 1024 * 1024
TOKEN_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
Figures = dict[str, Any]


@dataclass(frozen=True)
class Exchange:
    """One prepared exchange: its lines (parsed) and its reply's tokens."""

    lines: tuple[dict[str, Any], ...]
    tokens: int


@dataclass
class Waiting:
    """Written exchanges whose record has not come out of the stream at full size yet."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_key: dict[str, tuple[float, int]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)

    def add(self, key: str, written_at: float, tokens: int) -> None:
        """An exchange whose last line was written at ``written_at`` (monotonic)."""
        with self.lock:
            self.by_key[key] = (written_at, tokens)

    def settle(self, records: list[dict[str, Any]], received_at: float) -> None:
        """Time the waiting exchanges these streamed records complete."""
        with self.lock:
            for record in records:
                waiting = self.by_key.get(str(record.get("key")))
                if waiting is not None and _tokens(record) >= waiting[1]:
                    self.seconds.append(received_at - waiting[0])
                    del self.by_key[str(record["key"])]


def _tokens(record: dict[str, Any]) -> int:
    """A streamed record's tokens (the sum of its parts, as the reply's were counted)."""
    return sum(int(record.get(name) or 0) for name in TOKEN_FIELDS)


def prepare(count: int, seed: int) -> list[Exchange]:
    """``count`` exchanges as Claude Code writes them, each from a scratch folder of its own."""
    rng = random.Random(f"bench-load-{seed}")
    out = []
    with tempfile.TemporaryDirectory(prefix="otm-load-templates-") as tmp:
        for i in range(count):
            root = Path(tmp) / str(i)
            (record,) = append_live(root, rng)
            (path,) = root.rglob("*.jsonl")
            lines = tuple(json.loads(line) for line in path.read_text().splitlines())
            tokens = sum(getattr(record, name) for name in TOKEN_FIELDS)
            out.append(Exchange(lines, tokens))
    return out


def fresh_lines(exchange: Exchange, n: int, session: str) -> tuple[list[bytes], str]:
    """The exchange's lines with ids of their own (``n``), in ``session``, stamped now; and the
    reply's dedup key."""
    stamp = (
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{time.time_ns() // 1_000_000 % 1000:03d}Z"
    )
    message_id = request_id = ""
    out = []
    for j, source in enumerate(exchange.lines):
        line = dict(source)
        if "uuid" in line:
            line["uuid"] = f"load-{n:08d}-{j}"
            line["parentUuid"] = f"load-{n:08d}-{j - 1}" if j > 1 else None
            line["timestamp"] = stamp
            line["sessionId"] = session
        if "messageId" in line:
            line["messageId"] = f"load-{n:08d}-1"
        message = line.get("message")
        if isinstance(message, dict) and message.get("id"):
            message_id, request_id = f"msg_load_{n:08d}", f"req_load_{n:08d}"
            line["message"] = {**message, "id": message_id}
            line["requestId"] = request_id
        out.append(json.dumps(line, separators=(",", ":")).encode() + b"\n")
    return out, dedup_key(message_id, request_id, session, b"")


def follow_stream(
    url: str, waiting: Waiting, stop: threading.Event, ready: threading.Event
) -> None:
    """Read the API's stream until ``stop``, settling each usage event's records (a thread)."""
    client = httpx.Client(timeout=httpx.Timeout(5.0, read=None))
    with client, client.stream("GET", url) as response:
        ready.set()
        data: list[str] = []
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                event = json.loads("\n".join(data))
                data = []
                if isinstance(event, dict):
                    waiting.settle(list(event.get("records") or []), time.monotonic())


def write_load(
    live: Path,
    exchanges: list[Exchange],
    rate: float,
    seconds: float,
    sessions: int,
    waiting: Waiting,
) -> Figures:
    """Append exchanges at ``rate`` lines a second for ``seconds``; what was written."""
    project = live / "projects" / "-home-dev-load"
    project.mkdir(parents=True, exist_ok=True)
    names = [f"00000000-0000-4000-8000-{i:012d}" for i in range(sessions)]
    files = [(project / f"{name}.jsonl").open("ab", buffering=0) for name in names]
    began = time.monotonic()
    written = exchanges_written = 0
    behind = 0.0
    try:
        while time.monotonic() - began < seconds:
            n = exchanges_written
            lines, key = fresh_lines(exchanges[n % len(exchanges)], n, names[n % sessions])
            target = files[n % sessions]
            for line in lines:
                due = began + written / rate
                lag = time.monotonic() - due
                if lag < 0:
                    time.sleep(-lag)
                behind = max(behind, lag)
                target.write(line)
                written += 1
            waiting.add(key, time.monotonic(), exchanges[n % len(exchanges)].tokens)
            exchanges_written += 1
    finally:
        for f in files:
            f.close()
    took = time.monotonic() - began
    return {
        "lines": written,
        "exchanges": exchanges_written,
        "seconds": took,
        "lines_per_s": written / took,
        "writer_max_behind_s": behind,
    }


def stack_rss_mb(stack: Stack) -> float:
    """The whole stack's resident memory now."""
    return sum(tree_rss(pid) for pid in stack.pids().values()) / MB


def measure(
    rate: float,
    seconds: float,
    size_mb: float,
    cache_dir: Path,
    *,
    sessions: int = 8,
    seed: int = 1,
) -> Figures:
    """One run: the stack over a ``size_mb`` history, loaded at ``rate`` lines/s for ``seconds``."""
    exchanges = prepare(TEMPLATES, seed)
    with tempfile.TemporaryDirectory(prefix="otm-load-") as tmp:
        scratch = Path(tmp)
        data = corpus.prepare(size_mb, seed, cache_dir, scratch / "claude")
        user = scratch / "user"
        user.mkdir()
        stack = Stack(scratch / "home", {**corpus.Corpus.data_dirs(data.root), "HOME": str(user)})
        try:
            stack.start(NAMES)
            wait_ready(stack, NAMES, READY_TIMEOUT_SECONDS)
            ingest.wait_ingested(
                stack.db_path, data.transcripts(), READY_TIMEOUT_SECONDS, stack.check_alive
            )
            history_mb = data.jsonl_bytes() / 1e6
            return _load(stack, data.root, exchanges, rate, seconds, sessions) | {
                "corpus_mb": history_mb,
            }
        finally:
            stack.stop_all()


def _load(
    stack: Stack, live: Path, exchanges: list[Exchange], rate: float, seconds: float, sessions: int
) -> Figures:
    waiting = Waiting()
    stop, ready = threading.Event(), threading.Event()
    port = stack.env["OTM_API_PORT"]
    url = f"http://127.0.0.1:{port}/v1/stream?prefix=evt.usage."
    reader = threading.Thread(target=follow_stream, args=(url, waiting, stop, ready), daemon=True)
    reader.start()
    if not ready.wait(30):
        raise RuntimeError(f"the API's stream did not answer at {url}")
    rss = {"start": stack_rss_mb(stack)}
    middle = threading.Timer(seconds / 2, lambda: rss.__setitem__("middle", stack_rss_mb(stack)))
    middle.start()
    written = write_load(live, exchanges, rate, seconds, sessions, waiting)
    rss["end"] = stack_rss_mb(stack)
    deadline = time.monotonic() + SETTLE_SECONDS
    while waiting.by_key and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    stack.check_alive()
    with waiting.lock:
        latencies = sorted(waiting.seconds)
        lost = len(waiting.by_key)
    return {
        "rate": rate,
        "written": written,
        "arrived": len(latencies),
        "lost": lost,
        "latency_s": _percentiles(latencies),
        "rss_mb": rss,
        "cores": os.cpu_count(),
        "machine": platform.platform(),
    }


def _percentiles(values: list[float]) -> Figures:
    if not values:
        return {}
    cuts = (
        statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    )
    return {
        "p50": cuts[49],
        "p95": cuts[94],
        "p99": cuts[98],
        "max": values[-1],
    }


def print_figures(fig: Figures, out: Console) -> None:
    """The run as a person reads it, with the goals."""
    w, lat, rss = fig["written"], fig["latency_s"], fig["rss_mb"]
    out.print(
        f"{w['lines']:,} lines ({w['exchanges']:,} exchanges) in {w['seconds']:.1f} s = "
        f"{w['lines_per_s']:,.0f} lines/s (asked {fig['rate']:,.0f}; writer at most "
        f"{w['writer_max_behind_s'] * 1000:.0f} ms behind), over a {fig['corpus_mb']:.0f} MB "
        f"history, {fig['cores']} cores"
    )
    table = Table(title="append → API stream")
    for column in ("figure", "measured", "goal", ""):
        table.add_column(column, justify="left" if column == "figure" else "right")
    p99 = lat.get("p99")
    for name in ("p50", "p95", "p99", "max"):
        value = lat.get(name)
        shown = "—" if value is None else f"{value * 1000:.0f} ms"
        goal, mark = (
            ("250 ms", _mark(p99 is not None and p99 <= GOAL_P99_SECONDS))
            if name == "p99"
            else ("", "")
        )
        table.add_row(f"latency {name}", shown, goal, mark)
    table.add_row(
        "exchanges lost", f"{fig['lost']:,} of {w['exchanges']:,}", "0", _mark(fig["lost"] == 0)
    )
    growth = rss["end"] - rss["start"]
    table.add_row(
        "stack RSS start / middle / end",
        f"{rss['start']:.0f} / {rss.get('middle', float('nan')):.0f} / {rss['end']:.0f} MB",
        "flat",
        _mark(growth <= 0.1 * rss["start"]),
    )
    out.print(table)


def _mark(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]NOT MET[/red]"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=1000.0, help="lines a second (default 1000)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    p.add_argument("--size-mb", type=float, default=10.0, help="history under the load (MB)")
    p.add_argument("--sessions", type=int, default=8, help="transcripts written in turn")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    fig = measure(
        args.rate,
        args.seconds,
        args.size_mb,
        args.cache_dir,
        sessions=args.sessions,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(fig, indent=2))
    else:
        print_figures(fig, Console())
    return 0 if fig["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
