"""Per-file progress of the collector: what is committed, what is in flight, what to re-send.

DESIGN.md invariant 2: PUB/SUB can drop a batch anywhere (a bus restart, a store that is down),
so every batch stays pending until its commit comes back on ``evt.usage.*``. A batch pending too
long is checked against the committed cursor in the database: re-sent if the store never saw
it, forgotten if it was applied, and the file re-read from the committed cursor if the two
have diverged (another writer, a rebuilt database).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass, field

import msgspec

from bus.messages import FileCursor, UsageBatch

RESEND_AFTER_SECONDS = 2.0
FIRST_RESEND_AFTER_SECONDS = 0.25
"""Until a first commit comes back, re-check sooner: right after start-up, PUB/SUB may drop a
whole window of batches before the forwarder has passed the store's subscription on to us."""
MAX_IN_FLIGHT = 128
"""Batches awaiting commit before reading pauses: bounds memory and gives back-pressure."""

_cursor_decoder = msgspec.msgpack.Decoder(FileCursor)


def batch_id(source: str, before: FileCursor | None, after: FileCursor) -> str:
    """The same id for the same span of the same file, so a re-send is recognised."""
    start = 0 if before is None else before.offset
    text = f"{source}\0{after.dev}:{after.ino}\0{start}\0{after.offset}\0{after.head_sha1}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


@dataclass
class Pending:
    """A batch sent but not yet seen committed."""

    batch: UsageBatch
    sent_at: float


@dataclass
class Tracker:
    """Positions (committed or in flight) per file, and the pending batches."""

    positions: dict[str, FileCursor] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    acknowledged: bool = False
    """Whether a commit has come back since start-up (or since the store restarted)."""

    def load_committed(self, conn: sqlite3.Connection | None, machine: str) -> None:
        """Start from this machine's committed cursors (the collector always resumes from
        them; another machine's cursor for the same path is not ours)."""
        self.positions.clear()
        self.pending.clear()
        if conn is None:
            return
        for path, blob in conn.execute(
            "SELECT path, cursor FROM cursors WHERE machine = ?", (machine,)
        ):
            self.positions[path] = _cursor_decoder.decode(blob)

    def load_positions(self, cursors: dict[str, FileCursor]) -> None:
        """Start from committed cursors the hub sent (an agent has no database)."""
        self.positions.clear()
        self.pending.clear()
        self.positions.update(cursors)

    def postpone(self, items: list[Pending]) -> None:
        """Judge these overdue batches again one wait from now (the hub did not answer)."""
        now = time.monotonic()
        for item in items:
            for p in self.pending.values():
                if p.batch.source == item.batch.source:
                    p.sent_at = now

    def position(self, path: str) -> FileCursor | None:
        """Where the next batch of ``path`` starts."""
        return self.positions.get(path)

    def busy(self, path: str) -> bool:
        """Whether ``path`` has a batch in flight (new reads of it wait for its commit)."""
        return any(p.batch.source == path for p in self.pending.values())

    @property
    def full(self) -> bool:
        """Too many batches in flight: stop reading until commits come back."""
        return len(self.pending) >= MAX_IN_FLIGHT

    def sent(self, batch: UsageBatch) -> None:
        """Record a batch as in flight and move the file's position past it."""
        self.pending[batch.batch_id] = Pending(batch, time.monotonic())
        self.positions[batch.source] = batch.after

    def committed(self, batch_id: str) -> bool:
        """A commit came back; True if it was one of ours."""
        ours = self.pending.pop(batch_id, None) is not None
        self.acknowledged = self.acknowledged or ours
        return ours

    def expire_all(self) -> None:
        """Make every pending batch overdue now (the store restarted: it may never reply)."""
        self.acknowledged = False
        for item in self.pending.values():
            item.sent_at = float("-inf")

    def overdue(self) -> list[Pending]:
        """The oldest pending batch of each file, if it has waited past ``RESEND_AFTER_SECONDS``.

        Only the oldest one: the batches behind it start where it ends, so they can only be
        judged once it is settled.
        """
        wait = RESEND_AFTER_SECONDS if self.acknowledged else FIRST_RESEND_AFTER_SECONDS
        limit = time.monotonic() - wait
        oldest: dict[str, Pending] = {}
        for item in self.pending.values():
            oldest.setdefault(item.batch.source, item)
        return [p for p in oldest.values() if p.sent_at < limit]

    def reconcile(self, item: Pending, committed: FileCursor | None) -> list[UsageBatch]:
        """Settle an overdue batch from the committed cursor; return the batches to re-send."""
        batch = item.batch
        chain = [p for p in self.pending.values() if p.batch.source == batch.source]
        if committed == batch.before:
            now = time.monotonic()
            for p in chain:
                p.sent_at = now
            return [p.batch for p in chain]
        self.pending.pop(batch.batch_id, None)
        if committed != batch.after:
            # Diverged: drop everything in flight for the file and resume from the database.
            for p in chain:
                self.pending.pop(p.batch.batch_id, None)
            if committed is None:
                self.positions.pop(batch.source, None)
            else:
                self.positions[batch.source] = committed
        return []


def committed_cursor(conn: sqlite3.Connection | None, machine: str, path: str) -> FileCursor | None:
    """The store's committed cursor for one machine's file (read-only connection)."""
    if conn is None:
        return None
    row = conn.execute(
        "SELECT cursor FROM cursors WHERE machine = ? AND path = ?", (machine, path)
    ).fetchone()
    return None if row is None else _cursor_decoder.decode(row[0])
