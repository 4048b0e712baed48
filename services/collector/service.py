"""The collector process: on each refresh request, read what is new and publish it.

Reading always starts from the cursor the store committed (or from the end of a batch still in
flight), so killing the collector at any moment loses nothing and counts nothing twice.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import structlog

from bus.client import Publisher, Subscriber
from bus.messages import RefreshRequested, UsageBatch, UsageCommitted
from otm.process import Pulse, StopFlag
from otm.runtime import Runtime
from services.collector.claude.adapter import ClaudeAdapter
from services.collector.prices import PriceKeeper
from services.collector.tracker import Tracker, committed_cursor
from services.store.schema import connect_reader

PRICE_CHECK_SECONDS = 5.0


class Collector:
    """The reading half of the collector, independent of sockets (also used in-process)."""

    def __init__(self, runtime: Runtime, adapter: ClaudeAdapter) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.tracker = Tracker()
        self.dirty: dict[str, None] = {}
        self._db: sqlite3.Connection | None = None

    def db(self) -> sqlite3.Connection | None:
        """A read-only connection to the store's database, once it exists."""
        if self._db is None and Path(self.runtime.db_path).exists():
            try:
                self._db = connect_reader(str(self.runtime.db_path))
                self._db.execute("SELECT 1 FROM cursors LIMIT 1")
            except sqlite3.Error:
                self._db = None
        return self._db

    def resume(self) -> None:
        """Forget in-memory progress and start again from the committed cursors."""
        self.tracker.load_committed(self.db(), self.adapter.provider)

    def request(self, paths: tuple[str, ...]) -> None:
        """Mark files to read: the given ones, or every file of every root."""
        for path in paths or self.adapter.all_files():
            self.dirty[path] = None

    def next_batches(self, limit: int = 64) -> list[UsageBatch]:
        """Read dirty files (at most ``limit`` batches, never past the in-flight cap)."""
        out: list[UsageBatch] = []
        for path in list(self.dirty):
            if self.tracker.full or len(out) >= limit:
                break
            batch, more = self.adapter.read(path, self.tracker.position(path))
            if batch is not None:
                self.tracker.sent(batch)
                out.append(batch)
            if not more:
                self.dirty.pop(path, None)
        return out

    def resends(self) -> list[UsageBatch]:
        """Batches whose commit never came back and that the store has not applied."""
        out: list[UsageBatch] = []
        for item in self.tracker.overdue():
            committed = committed_cursor(self.db(), item.batch.source)
            out.extend(self.tracker.reconcile(item, committed))
            if not self.tracker.busy(item.batch.source):
                # Settled without a re-send: whatever is left of the file is read afresh.
                self.dirty[item.batch.source] = None
        return out


def run(runtime: Runtime) -> None:
    """Serve refresh requests until SIGTERM."""
    logger = structlog.get_logger().bind(process="collector")
    stop = StopFlag()
    publisher = Publisher(runtime.endpoints)
    subscriber = Subscriber(("cmd.refresh.claude", "evt.usage.claude"), runtime.endpoints)
    pulse = Pulse("collector", publisher)
    adapter = ClaudeAdapter(runtime.claude_roots)
    collector = Collector(runtime, adapter)
    prices = PriceKeeper(runtime.config.pricing.overrides)
    collector.resume()
    collector.request(())
    logger.info("ready", roots=[str(r) for r in runtime.claude_roots], demo=runtime.demo)
    next_price_check = 0.0
    try:
        while not stop.stopped:
            idle = not collector.dirty or collector.tracker.full
            for _topic, message in _receive(subscriber, timeout_ms=100 if idle else 0):
                if isinstance(message, RefreshRequested):
                    collector.request(message.paths)
                    pulse.counters[f"refresh_{message.reason}"] += 1
                elif isinstance(message, UsageCommitted):
                    collector.tracker.committed(message.batch_id)
            for batch in collector.next_batches():
                publisher.publish(batch)
                pulse.counters["batches_sent"] += 1
                pulse.counters["records_sent"] += len(batch.records)
                for observed in prices.new_models(batch.records):
                    publisher.publish(observed)
            for batch in collector.resends():
                publisher.publish(batch)
                pulse.counters["batches_resent"] += 1
            if time.monotonic() >= next_price_check:
                for observed in prices.drift(collector.db()):
                    publisher.publish(observed)
                    pulse.counters["prices_sent"] += 1
                next_price_check = time.monotonic() + PRICE_CHECK_SECONDS
            for problem, count in adapter.problems.items():
                pulse.counters[problem] = count
            pulse.counters["in_flight"] = len(collector.tracker.pending)
            pulse.beat()
    finally:
        logger.info("stopping", in_flight=len(collector.tracker.pending))
        subscriber.close()
        publisher.close()


def _receive(subscriber: Subscriber, timeout_ms: int) -> list[tuple[str, object]]:
    first = subscriber.recv(timeout_ms)
    if first is None:
        return []
    return [first, *subscriber.drain()]
