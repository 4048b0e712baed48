"""The store's writer: the one connection that appends to the log and updates projections.

Free of sockets, so ``otm report`` can catch the database up in-process when the stack is down.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

import msgspec

from bus.codec import encode
from bus.messages import (
    PROVIDERS,
    ActivityCommitted,
    AlertObserved,
    Heartbeat,
    LimitsObserved,
    Message,
    PriceObserved,
    ReplayReply,
    ReplayRequest,
    UsageBatch,
)
from services.store import log
from services.store.ingest import (
    AlreadyApplied,
    Committed,
    OutOfStep,
    Unchanged,
    activity_enabled,
    apply_alert,
    apply_batch,
    apply_limits,
    apply_price,
)
from services.store.machines import store_machine
from services.store.projections import trim_activity

MAX_REPLAY_PAGE = 5000
HEARTBEAT_SAVE_SECONDS = 300.0
"""A process's heartbeat is written down when it is new (or has a new pid) and then at most
this often: ``otm status`` asks the running store, and reads the table only when it is down."""
_heartbeat_encoder = msgspec.msgpack.Encoder()
_activity_decoder = msgspec.msgpack.Decoder(ActivityCommitted)


class Store:
    """The writer: owns the connection and the head ``seq``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.head = log.head(conn)
        self.machine = store_machine(conn).id
        """The store's own machine: the one a heartbeat naming no machine comes from."""
        self.heartbeats: dict[tuple[str, str], tuple[Heartbeat, float]] = {}
        """The latest heartbeat of each (machine, process) and when it came, kept in memory
        first: two machines' collectors never overwrite each other."""
        self._unsaved: set[tuple[str, str]] = set()
        self._saved: dict[tuple[str, str], tuple[int, float]] = {}
        """The pid and arrival time of each process's heartbeat last written down."""

    def apply(self, messages: list[Message]) -> tuple[list[Committed], list[int], list[str]]:
        """Apply observations in one transaction.

        Returns the new events, the seqs of batches that were already applied (to be
        acknowledged again) and the reasons for the batches rejected as out of step.
        """
        committed: list[Committed] = []
        acks: list[int] = []
        rejected: list[str] = []
        head = self.head
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for message in messages:
                outcome = self._apply_one(message)
                match outcome:
                    case Committed():
                        committed.extend(outcome.also)
                        committed.append(outcome)
                        self.head = outcome.seq
                    case AlreadyApplied(seq=seq):
                        acks.append(seq)
                    case OutOfStep(reason=reason):
                        rejected.append(reason)
                    case Unchanged():
                        pass
            self.conn.execute("COMMIT")
        except BaseException:
            self._roll_back()
            self.head = head  # nothing of the transaction was kept
            raise
        return committed, acks, rejected

    def _roll_back(self) -> None:
        # A failed COMMIT (a full disk) has already rolled back: ROLLBACK would then fail and
        # hide the error that matters.
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def configure_activity(self, *, enabled: bool, keep: int) -> int:
        """Apply ``[activity]`` at start: keep only ``keep`` prompts per provider, or, disabled,
        delete every kept prompt and empty the prompts of every ``evt.activity`` event in the
        log (their seqs stay, so the log stays gapless). Returns the events emptied."""
        scrubbed = 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            # Once scrubbed while disabled, nothing new was kept: no need to read the log again.
            was_enabled = activity_enabled(self.conn)
            self.conn.executemany(
                "INSERT OR REPLACE INTO activity_settings (name, value) VALUES (?, ?)",
                [("enabled", int(enabled)), ("keep", keep)],
            )
            if enabled:
                for provider in PROVIDERS:
                    trim_activity(self.conn, provider, keep)
            elif was_enabled:
                # Deleted text is overwritten with zeros, not just unlinked from the b-tree.
                self.conn.execute("PRAGMA secure_delete = ON")
                self.conn.execute("DELETE FROM activity")
                rows = self.conn.execute(
                    "SELECT seq, body FROM events WHERE topic LIKE 'evt.activity.%'"
                ).fetchall()
                for seq, body in rows:
                    event = _activity_decoder.decode(body)
                    if event.prompts:
                        empty = ActivityCommitted(
                            seq=event.seq, provider=event.provider, keep=event.keep, scrubbed=True
                        )
                        self.conn.execute(
                            "UPDATE events SET body = ? WHERE seq = ?", (encode(empty), seq)
                        )
                        scrubbed += 1
            self.conn.execute("COMMIT")
        except BaseException:
            self._roll_back()
            raise
        if scrubbed or (was_enabled and not enabled):
            # The old pages also live on in the write-ahead log until it is checkpointed.
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return scrubbed

    def _apply_one(self, message: Message) -> Committed | AlreadyApplied | OutOfStep | Unchanged:
        if isinstance(message, UsageBatch):
            return apply_batch(self.conn, self.head, message)
        if isinstance(message, PriceObserved):
            return apply_price(self.conn, self.head, message)
        if isinstance(message, LimitsObserved):
            return apply_limits(self.conn, self.head, message)
        if isinstance(message, AlertObserved):
            return apply_alert(self.conn, self.head, message)
        return Unchanged()

    def event(self, seq: int) -> tuple[str, bytes] | None:
        """The topic and body of one logged event."""
        row = self.conn.execute("SELECT topic, body FROM events WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def replay(self, request: ReplayRequest) -> ReplayReply:
        """Answer a replay request from the log."""
        limit = max(1, min(request.limit, MAX_REPLAY_PAGE))
        events = log.after(self.conn, request.after, request.prefix, limit)
        return ReplayReply(head=self.head, events=events)

    def note_heartbeats(self, beats: list[Heartbeat], received_at: float | None = None) -> None:
        """Remember the latest heartbeat of each process; the ones worth writing down (a process
        not saved yet, a new pid, a last beat, or the last save ``HEARTBEAT_SAVE_SECONDS`` old)
        are marked for ``save_heartbeats``."""
        now = time.time() if received_at is None else received_at
        for beat in beats:
            key = self.heartbeat_key(beat)
            self.heartbeats[key] = (beat, now)
            saved = self._saved.get(key)
            if (
                saved is None
                or saved[0] != beat.pid
                or beat.stopping
                or now - saved[1] >= HEARTBEAT_SAVE_SECONDS
            ):
                self._unsaved.add(key)

    def save_heartbeats(self, *, everything: bool = False) -> int:
        """Write the heartbeats marked by ``note_heartbeats`` (or, with ``everything``, every
        one in memory, as at stop) into ``process_status``: status only, not part of the log.

        Heartbeats come every few seconds and are answered from memory (``HeartbeatsRequest``), so
        writing each one would cost gigabytes a day for nothing. If the write fails (a full
        disk) they stay marked for the next try; returns how many were written."""
        names = sorted(self.heartbeats if everything else self._unsaved)
        if not names:
            return 0
        rows = [
            (*name, _heartbeat_encoder.encode(beat), received)
            for name in names
            for beat, received in (self.heartbeats[name],)
        ]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "INSERT OR REPLACE INTO process_status (machine, process, heartbeat, received_at)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self._roll_back()
            raise
        for name in names:
            beat, received = self.heartbeats[name]
            self._saved[name] = (beat.pid, received)
        self._unsaved.clear()
        return len(rows)

    def heartbeat_key(self, beat: Heartbeat) -> tuple[str, str]:
        """``(machine, process)`` of a heartbeat (no machine: the store's own)."""
        return (beat.machine or self.machine, beat.process)

    def record_heartbeats(self, beats: list[Heartbeat]) -> None:
        """Note and save at once (``note_heartbeats`` then ``save_heartbeats``)."""
        self.note_heartbeats(beats)
        self.save_heartbeats()
