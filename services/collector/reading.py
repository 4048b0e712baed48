"""The reading half of the collector: which files to read next, from which cursor, and what to
re-send. Free of sockets and logging so one-shot commands can run it in-process cheaply.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import msgspec

from bus.messages import FileCursor, UsageBatch
from services.collector.adapter import Adapter
from services.collector.hub_cursors import HubCursors
from services.collector.tracker import Tracker, committed_cursor
from services.runtime.installation import Runtime
from services.store.database import connect_reader


class Collector:
    """The reading half of the collector, independent of sockets (also used in-process)."""

    def __init__(self, runtime: Runtime, adapters: Sequence[Adapter]) -> None:
        self.runtime = runtime
        self.adapters = {a.provider: a for a in adapters}
        self.tracker = Tracker()
        self.dirty: dict[str, Adapter] = {}
        self._db: sqlite3.Connection | None = None
        self.machine = runtime.machine
        self.hub: HubCursors | None = (
            HubCursors(runtime.endpoints) if runtime.endpoints.curve is not None else None
        )
        """On an agent: there is no database here, the committed cursors are the hub's."""
        self.resumed = self.hub is None
        """Whether the committed cursors are known (an agent reads nothing until they are)."""

    def db(self) -> sqlite3.Connection | None:
        """A read-only connection to the store's database, once it exists."""
        if self._db is None and Path(self.runtime.db_path).exists():
            try:
                self._db = connect_reader(str(self.runtime.db_path))
                # An older schema (the store migrates it at start) is not ready yet: its
                # cursors have no machine, and reading them would be reading someone's.
                self._db.execute("SELECT machine FROM cursors LIMIT 1")
            except sqlite3.Error:
                self._db = None
        return self._db

    def resume(self) -> None:
        """Forget in-memory progress and start again from the committed cursors (an agent
        whose hub does not answer tries again at its next read)."""
        if self.hub is None:
            self.tracker.load_committed(self.db(), self.machine.id)
            return
        cursors = self.hub.all(self.machine.id)
        self.resumed = cursors is not None
        if cursors is not None:
            self.tracker.load_positions(cursors)

    def request(self, provider: str | None = None, paths: tuple[str, ...] = ()) -> None:
        """Mark files to read: the given paths of ``provider``, or every file of its roots
        (of every provider's roots when ``provider`` is ``None``)."""
        adapters = list(self.adapters.values()) if provider is None else []
        if provider in self.adapters:
            adapters.append(self.adapters[provider])
        for adapter in adapters:
            for path in paths or adapter.all_files():
                if not paths or adapter.owns(path):
                    self.dirty[path] = adapter

    def next_batches(self, limit: int = 64) -> list[UsageBatch]:
        """Read dirty files (at most ``limit`` batches, never past the in-flight cap)."""
        out: list[UsageBatch] = []
        if not self.resumed:
            self.resume()
            if not self.resumed:
                return out  # the hub is away: the files wait, nothing is lost
        for path, adapter in list(self.dirty.items()):
            if self.tracker.full or len(out) >= limit:
                break
            batch, more = adapter.read(path, self.tracker.position(path))
            if batch is not None:
                batch = msgspec.structs.replace(
                    batch, machine=self.machine.id, machine_name=self.machine.name
                )
                self.tracker.sent(batch)
                out.append(batch)
            if not more:
                self.dirty.pop(path, None)
        return out

    def resends(self) -> list[UsageBatch]:
        """Batches whose commit never came back and that the store has not applied."""
        out: list[UsageBatch] = []
        overdue = self.tracker.overdue()
        hub: dict[str, FileCursor] | None = None
        if overdue and self.hub is not None:
            hub = self.hub.all(self.machine.id)
            if hub is None:
                # Unreachable: nothing can be settled; the batches stay pending and are judged
                # again once the hub answers (their commit may still come back meanwhile).
                self.tracker.postpone(overdue)
                return out
        for item in overdue:
            committed = (
                hub.get(item.batch.source)
                if hub is not None
                else committed_cursor(self.db(), self.machine.id, item.batch.source)
            )
            out.extend(self.tracker.reconcile(item, committed))
            adapter = self.adapters.get(item.batch.provider)
            if adapter is not None and not self.tracker.busy(item.batch.source):
                # Settled without a re-send: whatever is left of the file is read afresh.
                self.dirty[item.batch.source] = adapter
        return out

    @property
    def problems(self) -> dict[str, int]:
        """Every adapter's trouble counts, prefixed by provider when there are several."""
        out: dict[str, int] = {}
        for provider, adapter in self.adapters.items():
            for name, count in adapter.problems.items():
                out[name if provider == "claude" else f"{provider}_{name}"] = count
        return out
