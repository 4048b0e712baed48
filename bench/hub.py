"""The hub benchmark: N agents (separate processes, each with its own generated history) send
into one hub over tcp with CURVE, all on this machine.

Run ``python -m bench.hub`` (``--agents 20`` by default; ``--help``). It:

1. makes a hub state folder (``[bus] listen`` on free ports, its keys) and N agent folders
   (``[bus] connect``, their own keys, each admitted by the hub), each agent with its own
   Claude corpus of ``--size-mb`` (seed = agent number, so no two histories are alike);
2. starts the hub's bus and store, then every agent's collector and watcher, and times the
   initial ingest until the hub holds every agent's tokens (ingest rate: records and MB a
   second);
3. appends ``--appends`` exchanges to each agent's history, spread over ``--seconds``, and times
   each one from its write to its commit event on the hub (append -> hub p50 / p99);
4. prints the hub's CPU seconds and RSS (bus + store), the database's size, and the figures,
   or ``--json``.

There is no ccusage ratio: ccusage has no hub. The one-machine figures (``bench.load``,
``bench.ingest``) are the comparison; run them in the same session on the same machine.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.corpus import prepare
from bench.stack import Stack, free_port_run
from bus.client import EventFollower
from bus.curve import admit, init_pair
from bus.endpoints import Endpoints
from bus.messages import UsageCommitted
from services.demo.corpus.claude import append_live

HUB = ("bus", "store")
AGENT = ("collector", "watcher")
TOKEN_SQL = (
    "SELECT coalesce(sum(input + output + cache_write_5m + cache_write_1h + cache_read), 0)"
    " FROM usage_by_slot"
)


def _hub_tokens(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(TOKEN_SQL).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _hub_usage(stack: Stack) -> tuple[float, int]:
    """CPU seconds and RSS bytes of the hub's processes together."""
    cpu, rss = 0.0, 0
    for pid in stack.pids().values():
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        cpu += times.user + times.system
        rss += proc.memory_info().rss
    return cpu, rss


def measure(
    agents: int, size_mb: float, appends: int, seconds: float, root: Path
) -> dict[str, Any]:
    """One run; the figures as a dict."""
    base = free_port_run(3)
    hub_home = root / "hub"
    hub_home.mkdir(parents=True)
    (hub_home / "config.toml").write_text(f'[bus]\nlisten = "tcp://127.0.0.1:{base}"\n')
    hub_pair, _ = init_pair(hub_home)
    hub = Stack(hub_home, {})
    stacks: list[Stack] = []
    corpora = []
    expected = 0
    for i in range(agents):
        home = root / f"agent{i}"
        home.mkdir(parents=True)
        pair, _ = init_pair(home)
        admit(hub_home, f"agent{i}", pair.public)
        (home / "config.toml").write_text(
            f'[bus]\nconnect = "tcp://127.0.0.1:{base}"\nhub_key = "{hub_pair.public}"\n'
        )
        corpus = prepare(size_mb, seed=100 + i, cache_dir=None, dest=root / f"claude{i}")
        corpora.append(corpus)
        expected += sum(corpus.expected_tokens().values())
        stacks.append(Stack(home, {"CLAUDE_CONFIG_DIR": str(corpus.claude_dir)}))
    jsonl = sum(c.jsonl_bytes() for c in corpora)
    records = sum(len(c.manifest.expected) for c in corpora)
    try:
        hub.start(HUB)
        time.sleep(2)
        cpu0, _ = _hub_usage(hub)
        started = time.monotonic()
        for stack in stacks:
            stack.start(AGENT)
        while _hub_tokens(hub.db_path) < expected:
            hub.check_alive()
            if time.monotonic() - started > 900:
                raise RuntimeError("the initial ingest took over 15 minutes")
            time.sleep(0.2)
        ingest_s = time.monotonic() - started
        cpu1, rss_ingest = _hub_usage(hub)
        latencies, sent = _appends(hub_home, corpora, appends, seconds)
        cpu2, rss_end = _hub_usage(hub)
    finally:
        for stack in stacks:
            stack.stop_all()
        hub.stop_all()
    db_bytes = sum(p.stat().st_size for p in hub_home.glob("otm.db*"))
    return {
        "agents": agents,
        "history_mb": round(jsonl / 1e6, 2),
        "records": records,
        "ingest_seconds": round(ingest_s, 2),
        "ingest_records_per_s": round(records / ingest_s, 1),
        "ingest_mb_per_s": round(jsonl / 1e6 / ingest_s, 2),
        "hub_cpu_seconds_ingest": round(cpu1 - cpu0, 2),
        "hub_cpu_seconds_appends": round(cpu2 - cpu1, 2),
        "hub_rss_mb_after_ingest": round(rss_ingest / 1e6, 1),
        "hub_rss_mb_end": round(rss_end / 1e6, 1),
        "db_mb": round(db_bytes / 1e6, 2),
        "appended_records": sent,
        "lost": sent - len(latencies),
        "append_to_hub_p50_ms": _ms(statistics.median(latencies)) if latencies else None,
        "append_to_hub_p99_ms": _ms(_p99(latencies)) if latencies else None,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _appends(
    hub_home: Path, corpora: list[Any], appends: int, seconds: float
) -> tuple[list[float], int]:
    """Append to every agent's history in turn; seconds from each write to its hub commit."""
    run = hub_home / "run"
    local = Endpoints(
        publish=f"ipc://{run / 'bus-in.sock'}",
        subscribe=f"ipc://{run / 'bus-out.sock'}",
        replay=f"ipc://{run / 'store-replay.sock'}",
    )
    rng = random.Random(5)
    written: dict[str, float] = {}
    arrived: dict[str, float] = {}
    gap = seconds / max(1, appends * len(corpora))
    with EventFollower(("evt.usage.",), after=_head(hub_home), where=local) as follower:
        for _ in range(appends):
            for corpus in corpora:
                for record in append_live(corpus.claude_dir, rng):
                    written[f"claude:{record.message_id}"] = time.monotonic()
                _collect(follower, arrived, 0)
                time.sleep(gap)
        deadline = time.monotonic() + 30
        while set(written) - set(arrived) and time.monotonic() < deadline:
            _collect(follower, arrived, 200)
    return sorted(arrived[k] - written[k] for k in written if k in arrived), len(written)


def _collect(follower: EventFollower, arrived: dict[str, float], wait_ms: int) -> None:
    for _topic, event in follower.poll(wait_ms):
        if isinstance(event, UsageCommitted):
            now = time.monotonic()
            for record in event.records:
                arrived.setdefault(record.key, now)


def _head(hub_home: Path) -> int:
    conn = sqlite3.connect(f"file:{hub_home / 'otm.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    finally:
        conn.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> None:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--size-mb", type=float, default=1.0, help="each agent's history")
    parser.add_argument("--appends", type=int, default=10, help="exchanges per agent")
    parser.add_argument("--seconds", type=float, default=30.0, help="over which to append")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="otm-bench-hub-") as tmp:
        figures = measure(args.agents, args.size_mb, args.appends, args.seconds, Path(tmp))
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:<28}{value}")


if __name__ == "__main__":
    main()
