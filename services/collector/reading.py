"""The reading half of the collector: which files to read next, from which cursor, and what to
re-send. Free of sockets and logging so one-shot commands can run it in-process cheaply.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bus.messages import UsageBatch
from otm.runtime import Runtime
from services.collector.claude.adapter import ClaudeAdapter
from services.collector.tracker import Tracker, committed_cursor
from services.store.schema import connect_reader


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
