"""Turning observations into committed events: cursor checks, idempotent append, dedup.

An observed batch is applied only if it starts exactly where the committed cursor for its file
ends. A re-sent batch that was already applied is recognised by its id and acknowledged again;
anything else out of step is rejected, and the collector resumes from the committed cursor.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import msgspec

from bus.codec import encode
from bus.messages import (
    FileCursor,
    PriceCommitted,
    PriceObserved,
    UsageBatch,
    UsageCommitted,
    UsageRecord,
)
from bus.topics import topic_for
from services.collector.claude.dedup import wins
from services.store import log, projections

_cursor_decoder = msgspec.msgpack.Decoder(FileCursor)
_record_decoder = msgspec.msgpack.Decoder(UsageRecord)
_price_encoder = msgspec.msgpack.Encoder()
_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class Committed:
    """A new event was appended (``topic``/``body`` are what to publish)."""

    seq: int
    topic: str
    body: bytes


@dataclass(frozen=True)
class AlreadyApplied:
    """The batch was applied before; ``seq`` is the event that applied it."""

    seq: int


@dataclass(frozen=True)
class OutOfStep:
    """The batch does not start at the committed cursor; it is dropped."""

    reason: str


@dataclass(frozen=True)
class Unchanged:
    """The observation changes nothing (a price we already have)."""


Outcome = Committed | AlreadyApplied | OutOfStep | Unchanged


def committed_cursor(conn: sqlite3.Connection, path: str) -> tuple[FileCursor, str, int] | None:
    """The committed cursor of a file, with the id and seq of the batch that set it."""
    row = conn.execute(
        "SELECT cursor, batch_id, seq FROM cursors WHERE path = ?", (path,)
    ).fetchone()
    if row is None:
        return None
    return _cursor_decoder.decode(row[0]), str(row[1]), int(row[2])


def apply_batch(conn: sqlite3.Connection, head: int, batch: UsageBatch) -> Outcome:
    """Check a batch against its file's cursor and append its event. Caller owns the txn."""
    committed = committed_cursor(conn, batch.source)
    if committed is not None and committed[1] == batch.batch_id:
        return AlreadyApplied(committed[2])
    current = None if committed is None else committed[0]
    if current != batch.before:
        return OutOfStep(f"batch starts at {_where(batch.before)}, committed {_where(current)}")
    records, replaces, duplicates = _dedup(conn, batch.records)
    event = UsageCommitted(
        seq=head + 1,
        batch_id=batch.batch_id,
        provider=batch.provider,
        source=batch.source,
        cursor=batch.after,
        records=records,
        replaces=replaces,
        duplicates=duplicates,
        skipped=batch.skipped,
    )
    return _commit(conn, event)


def apply_price(conn: sqlite3.Connection, head: int, observed: PriceObserved) -> Outcome:
    """Append a price event when the observed price differs from the committed one."""
    row = conn.execute(
        "SELECT source, price FROM prices WHERE provider = ? AND model = ?",
        (observed.provider, observed.model),
    ).fetchone()
    price_blob = None if observed.price is None else _price_encoder.encode(observed.price)
    if row is not None and row[0] == observed.source and row[1] == price_blob:
        return Unchanged()
    event = PriceCommitted(
        seq=head + 1,
        provider=observed.provider,
        model=observed.model,
        source=observed.source,
        price=observed.price,
    )
    return _commit(conn, event)


def _commit(conn: sqlite3.Connection, event: UsageCommitted | PriceCommitted) -> Committed:
    topic, body = topic_for(event), encode(event)
    log.append(conn, event.seq, topic, body)
    projections.apply(conn, event)
    return Committed(event.seq, topic, body)


def _dedup(
    conn: sqlite3.Connection, incoming: tuple[UsageRecord, ...]
) -> tuple[tuple[UsageRecord, ...], tuple[UsageRecord, ...], int]:
    """Split a batch into winners, the committed records they replace, and a duplicate count."""
    committed = _committed_records(conn, {r.key for r in incoming})
    best: dict[str, UsageRecord] = dict(committed)
    changed: dict[str, None] = {}  # an ordered set: winners keep the order they arrived in
    duplicates = 0
    for record in incoming:
        current = best.get(record.key)
        if current is not None:
            duplicates += 1
        if current is None or wins(record, current):
            best[record.key] = record
            changed[record.key] = None
    winners = tuple(best[k] for k in changed)
    replaces = tuple(committed[k] for k in changed if k in committed)
    return winners, replaces, duplicates


def _committed_records(conn: sqlite3.Connection, keys: set[str]) -> dict[str, UsageRecord]:
    """The committed record of each key that has one, in a few queries rather than one a key."""
    found: dict[str, UsageRecord] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _KEYS_PER_QUERY):
        chunk = ordered[start : start + _KEYS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        for key, blob in conn.execute(
            f"SELECT key, record FROM usage_keys WHERE key IN ({marks})", chunk
        ):
            found[key] = _record_decoder.decode(blob)
    return found


def _where(cursor: FileCursor | None) -> str:
    if cursor is None:
        return "the start (no cursor)"
    return f"offset {cursor.offset} of inode {cursor.ino}"
