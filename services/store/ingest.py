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
    ActivityCommitted,
    AlertCommitted,
    AlertObserved,
    FileCursor,
    LimitsCommitted,
    LimitsObserved,
    PriceCommitted,
    PriceObserved,
    Prompt,
    UsageBatch,
    UsageCommitted,
    UsageRecord,
)
from bus.topics import topic_for
from services.store import log, projections
from services.store.copies import wins
from services.store.machines import resolve, store_machine

_cursor_decoder = msgspec.msgpack.Decoder(FileCursor)
_usage_decoder = msgspec.msgpack.Decoder(UsageCommitted)
_price_encoder = msgspec.msgpack.Encoder()
_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class Committed:
    """A new event was appended (``topic``/``body`` are what to publish)."""

    seq: int
    topic: str
    body: bytes
    also: tuple[Committed, ...] = ()
    """Events appended just before this one in the same transaction (a batch's prompts)."""


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


def committed_cursor(
    conn: sqlite3.Connection, machine: str, path: str
) -> tuple[FileCursor, str, int] | None:
    """The committed cursor of one machine's file (``machine`` empty: the store's own), with
    the id and seq of the batch that set it."""
    row = conn.execute(
        "SELECT cursor, batch_id, seq FROM cursors WHERE machine = ? AND path = ?",
        (resolve(conn, machine), path),
    ).fetchone()
    if row is None:
        return None
    return _cursor_decoder.decode(row[0]), str(row[1]), int(row[2])


def apply_batch(conn: sqlite3.Connection, head: int, batch: UsageBatch) -> Outcome:
    """Check a batch against its file's cursor and append its event. Caller owns the txn."""
    machine, machine_name = _machine_of(conn, batch)
    committed = committed_cursor(conn, machine, batch.source)
    if committed is not None and committed[1] == batch.batch_id:
        return AlreadyApplied(committed[2])
    current = None if committed is None else committed[0]
    if current != batch.before:
        return OutOfStep(f"batch starts at {_where(batch.before)}, committed {_where(current)}")
    activity = _activity(conn, head, batch)
    if activity is not None:
        head = activity.seq
    records, replaces, duplicates = _dedup(conn, machine, batch.records)
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
        limits=batch.limits,
        machine=machine,
        machine_name=machine_name,
    )
    usage = _commit(conn, event)
    if activity is None:
        return usage
    return Committed(usage.seq, usage.topic, usage.body, also=(activity,))


def _machine_of(conn: sqlite3.Connection, batch: UsageBatch) -> tuple[str, str]:
    """The machine id and name a batch is committed under: its own, or (an older collector
    that names none) the store's."""
    if batch.machine:
        return batch.machine, batch.machine_name
    own = store_machine(conn)
    return own.id, own.name


def activity_enabled(conn: sqlite3.Connection) -> bool:
    """``[activity] enabled`` as the store was started with (on unless it said otherwise)."""
    row = conn.execute("SELECT value FROM activity_settings WHERE name = 'enabled'").fetchone()
    return row is None or bool(row[0])


def _activity(conn: sqlite3.Connection, head: int, batch: UsageBatch) -> Committed | None:
    """Append the batch's new prompts as one event before its usage event, so its replies (in
    the same batch or later) find their prompt; ``None`` when there is none to keep."""
    if not batch.prompts or not activity_enabled(conn):
        return None
    known = _known_prompts(conn, sorted({p.key for p in batch.prompts}))
    fresh: dict[str, Prompt] = {}
    for prompt in batch.prompts:
        if prompt.key not in known:
            fresh.setdefault(prompt.key, prompt)
    if not fresh:
        return None
    event = ActivityCommitted(
        seq=head + 1,
        provider=batch.provider,
        prompts=tuple(fresh.values()),
        keep=projections.activity_keep(conn),
    )
    return _commit(conn, event)


def _known_prompts(conn: sqlite3.Connection, keys: list[str]) -> set[str]:
    """The prompt keys among ``keys`` already kept, a chunk of keys per query."""
    known: set[str] = set()
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        rows = conn.execute(
            f"SELECT key FROM activity WHERE key IN ({','.join('?' * len(chunk))})", chunk
        )
        known.update(str(key) for (key,) in rows)
    return known


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


def apply_limits(conn: sqlite3.Connection, head: int, observed: LimitsObserved) -> Outcome:
    """Append a limits event unless this observation (by id) was applied before.

    An older observation arriving late is still logged (it is what was seen), but the
    projections keep the newest reading of every window and status.
    """
    row = conn.execute(
        "SELECT seq FROM limit_observations WHERE observation_id = ?", (observed.observation_id,)
    ).fetchone()
    if row is not None:
        return AlreadyApplied(int(row[0]))
    event = LimitsCommitted(
        seq=head + 1,
        observation_id=observed.observation_id,
        provider=observed.provider,
        source=observed.source,
        observed_at=observed.observed_at,
        windows=observed.windows,
        credits=observed.credits,
        status=observed.status,
    )
    return _commit(conn, event)


def apply_alert(conn: sqlite3.Connection, head: int, observed: AlertObserved) -> Outcome:
    """Append an alert unless one with its key was committed before: a key is decided the
    same way by every notifier, so a restarted or replaying notifier cannot alert twice."""
    row = conn.execute("SELECT seq FROM alerts WHERE key = ?", (observed.alert.key,)).fetchone()
    if row is not None:
        return AlreadyApplied(int(row[0]))
    return _commit(conn, AlertCommitted(seq=head + 1, alert=observed.alert))


def _commit(
    conn: sqlite3.Connection,
    event: UsageCommitted | PriceCommitted | LimitsCommitted | AlertCommitted | ActivityCommitted,
) -> Committed:
    topic, body = topic_for(event), encode(event)
    log.append(conn, event.seq, topic, body)
    projections.apply(conn, event)
    return Committed(event.seq, topic, body)


@dataclass(frozen=True)
class Claim:
    """What the store keeps of the counted copy of a key: enough to judge a new copy."""

    seq: int
    total_tokens: int
    sidechain: bool
    speed: str | None
    revision: int
    machine: str = ""


def _dedup(
    conn: sqlite3.Connection, machine: str, incoming: tuple[UsageRecord, ...]
) -> tuple[tuple[UsageRecord, ...], tuple[UsageRecord, ...], int]:
    """Split a batch into winners, the committed records they replace, and a duplicate count.

    A key another machine counted first stays that machine's (the same folder synced to two
    machines): a copy from here is a duplicate, whatever the copy rules would say of it."""
    claims = _claims(conn, {r.key for r in incoming})
    best: dict[str, UsageRecord | Claim] = dict(claims)
    winners: dict[str, UsageRecord] = {}  # insertion-ordered: winners keep their arrival order
    duplicates = 0
    for record in incoming:
        current = best.get(record.key)
        if current is not None:
            duplicates += 1
            if isinstance(current, Claim) and current.machine != machine:
                continue
        if current is None or wins(record.provider, record, current):
            best[record.key] = winners[record.key] = record
    replaces = _counted_records(conn, {k: claims[k].seq for k in winners if k in claims})
    return tuple(winners.values()), replaces, duplicates


def _claims(conn: sqlite3.Connection, keys: set[str]) -> dict[str, Claim]:
    """The claim of each key already counted, in a few queries rather than one a key."""
    found: dict[str, Claim] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _KEYS_PER_QUERY):
        chunk = ordered[start : start + _KEYS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        for key, seq, total, sidechain, has_speed, revision, machine in conn.execute(
            "SELECT key, seq, total, sidechain, has_speed, revision, machine FROM usage_claims"
            f" WHERE key IN ({marks})",
            chunk,
        ):
            speed = "known" if has_speed else None
            found[key] = Claim(seq, total, bool(sidechain), speed, revision, machine)
    return found


def _counted_records(conn: sqlite3.Connection, seqs: dict[str, int]) -> tuple[UsageRecord, ...]:
    """The full records being replaced, read back from the events that counted them.

    Replacements are rare (a streaming copy that grew after a refresh), so the claims table
    keeps only what judging needs, and the log stays the one place whole records live.
    """
    out: list[UsageRecord] = []
    for seq in sorted(set(seqs.values())):
        (body,) = conn.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
        event = _usage_decoder.decode(body)
        wanted = {k for k, s in seqs.items() if s == seq}
        out.extend(r for r in event.records if r.key in wanted)
    return tuple(out)


def _where(cursor: FileCursor | None) -> str:
    if cursor is None:
        return "the start (no cursor)"
    return f"offset {cursor.offset} of inode {cursor.ino}"
