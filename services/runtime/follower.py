"""The durable follower: every committed event exactly once, across restarts.

A consumer with effects of its own (the notifier's alert state, say) must neither miss an event
committed while it was down nor apply one twice. As eventsourcing's tracking records do, it
records the ``seq`` of each event it applied **in the same transaction as the effect**; on
restart it resumes after the recorded ``seq``, and ``bus.client.EventFollower`` reads every event
back from the store's log (so nothing PUB/SUB dropped is missed and nothing forged on the bus is
applied). A crash between the effect and the record is impossible (one transaction); a crash
before it means the event comes again and is applied then. When the store's log is replaced by
one with a lower head (``EventFollower.resets``), the recorded position moves back to that head,
or no event of the new log would ever be applied.

Two tracking backends share one contract (``tests/services/runtime/test_follower.py``):
``SQLiteTracking`` in the consumer's own database file (the store's database has one writer,
the store), and ``MemoryTracking`` for a consumer whose state is rebuilt at each start.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from bus.client import EventFollower, EventLog
from bus.endpoints import Endpoints
from bus.messages import Message

SKIP_RECORD_SECONDS = 5.0
"""How often the position is moved past events outside the follower's prefixes: never applied,
they would otherwise be replayed again after every restart."""
PAGE_EVENTS = 50
"""Committed events delivered per poll at most: a follower catching up on a long history holds
one page of them decoded at a time (a usage event can carry hundreds of records), so its memory
stays that of a page, not of the history."""

Effect = Callable[[sqlite3.Connection | None], None]
"""What applying one event does; it gets the transaction's connection (None in memory)."""


class Tracking(Protocol):
    """Where a follower records the last ``seq`` it applied, atomically with the effect."""

    def position(self) -> int:
        """The last ``seq`` applied (0 before any)."""
        ...

    def apply(self, seq: int, effect: Effect) -> bool:
        """Run ``effect`` and record ``seq`` in one transaction; False (and no effect) when
        ``seq`` was applied already. If ``effect`` raises, neither happens."""
        ...

    def skip_to(self, seq: int) -> None:
        """Record ``seq`` without an effect (events the follower does not care about)."""
        ...

    def reset_to(self, seq: int) -> None:
        """Record ``seq`` even if it is lower: the log was replaced by one ending there."""
        ...

    def close(self) -> None:
        """Release the backend."""
        ...


class MemoryTracking:
    """Tracking for a consumer whose state lives only in memory: it starts at ``after``."""

    def __init__(self, after: int = 0) -> None:
        self._position = after

    def position(self) -> int:
        """The last ``seq`` applied."""
        return self._position

    def apply(self, seq: int, effect: Effect) -> bool:
        """Run ``effect`` once per ``seq``, in order."""
        if seq <= self._position:
            return False
        effect(None)
        self._position = seq
        return True

    def skip_to(self, seq: int) -> None:
        """Move past ``seq`` without an effect."""
        self._position = max(self._position, seq)

    def reset_to(self, seq: int) -> None:
        """Move to ``seq``, back if need be."""
        self._position = seq

    def close(self) -> None:
        """Nothing to release."""


TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS tracking (
    follower TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID
"""


class SQLiteTracking:
    """Tracking in the consumer's own SQLite database, beside the state its effects write."""

    def __init__(self, conn: sqlite3.Connection, follower: str) -> None:
        self.conn = conn
        self.follower = follower
        conn.execute(TRACKING_TABLE)

    @classmethod
    def open(cls, path: Path, follower: str) -> SQLiteTracking:
        """Open (creating it 0600) the database at ``path`` for the follower named ``follower``."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # One commit per applied event: FULL would fsync each (a cold catch-up applies
        # thousands). NORMAL can lose the last commits on power loss, never split one: the
        # effect and its position go back together and those events come again from the log.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn, follower)

    def position(self) -> int:
        """The last ``seq`` recorded."""
        row = self.conn.execute(
            "SELECT seq FROM tracking WHERE follower = ?", (self.follower,)
        ).fetchone()
        return int(row[0]) if row else 0

    def apply(self, seq: int, effect: Effect) -> bool:
        """Run ``effect`` and record ``seq`` in one ``BEGIN IMMEDIATE`` transaction."""
        with self._transaction():
            if seq <= self.position():
                return False
            effect(self.conn)
            self._record(seq)
        return True

    def skip_to(self, seq: int) -> None:
        """Record ``seq`` (if it is further) without an effect."""
        with self._transaction():
            if seq > self.position():
                self._record(seq)

    def reset_to(self, seq: int) -> None:
        """Record ``seq``, lower or not."""
        with self._transaction():
            self._record(seq)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _record(self, seq: int) -> None:
        self.conn.execute(
            "INSERT INTO tracking (follower, seq) VALUES (?, ?) "
            "ON CONFLICT (follower) DO UPDATE SET seq = excluded.seq",
            (self.follower, seq),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


class DurableFollower:
    """Committed events with ``seq`` after the tracking's position, each delivered in order;
    the consumer applies each with ``apply`` so the position moves with its effect."""

    def __init__(
        self,
        prefixes: Sequence[str],
        tracking: Tracking,
        where: Endpoints | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.tracking = tracking
        self.events = EventFollower(
            prefixes=prefixes, after=tracking.position(), where=where, log=log, most=PAGE_EVENTS
        )
        self._resets = 0
        self._next_skip_record = 0.0

    @property
    def behind(self) -> bool:
        """Whether more committed events are waiting than the last ``poll`` delivered."""
        return self.events.behind

    @property
    def position(self) -> int:
        """The last ``seq`` applied, as recorded."""
        return self.tracking.position()

    def poll(self, timeout_ms: int) -> list[tuple[str, Message]]:
        """Events that became available within ``timeout_ms``, gaps filled, in ``seq`` order;
        none of them applied yet."""
        delivered = self.events.poll(timeout_ms)
        self._follow_reset()
        if not delivered:
            self._record_skipped()
        return delivered

    def catch_up(self) -> list[tuple[str, Message]]:
        """Everything committed after the position, fetched from the store's replay."""
        delivered = self.events.catch_up()
        self._follow_reset()
        return delivered

    def apply(self, event: Message, effect: Effect) -> bool:
        """Apply ``effect`` for ``event`` and record its ``seq`` atomically; False if it was
        applied before (a replayed copy)."""
        seq = getattr(event, "seq", None)
        if seq is None:
            raise ValueError(f"{type(event).__name__} is not a committed event (no seq)")
        return self.tracking.apply(int(seq), effect)

    def rewind(self) -> None:
        """Read again from the recorded position: an effect failed (a full disk, say), so its
        event and those after it must come again instead of being passed over. They are read
        back from the store's log at its next heartbeat."""
        self.events.last_seq = self.tracking.position()

    def close(self) -> None:
        """Close the sockets and the tracking."""
        self.events.close()
        self.tracking.close()

    def _follow_reset(self) -> None:
        # Before any event of the new log is applied: ``apply`` refuses seqs at or below the
        # recorded position.
        if self.events.resets != self._resets:
            self._resets = self.events.resets
            self.tracking.reset_to(self.events.last_seq)

    def _record_skipped(self) -> None:
        # Quiet moment: move the recorded position past events outside our prefixes, at most
        # every few seconds (each record is a write).
        seen = self.events.last_seq
        if seen <= self.tracking.position() or time.monotonic() < self._next_skip_record:
            return
        self._next_skip_record = time.monotonic() + SKIP_RECORD_SECONDS
        # Only an optimisation: a write that fails (a full disk) is simply tried again later.
        with contextlib.suppress(sqlite3.Error):
            self.tracking.skip_to(seen)
