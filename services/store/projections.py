"""Projections: every table but ``events`` is a pure function of the log, built here.

The live store and ``otm store rebuild`` both go through ``apply``; that shared path is what
makes a rebuild give the same answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import msgspec

from bus.messages import (
    DEFAULT_KEEP,
    ActivityCommitted,
    AlertCommitted,
    LimitsCommitted,
    LimitWindow,
    Message,
    PriceCommitted,
    UsageCommitted,
    UsageRecord,
)
from services.store.machines import store_machine
from services.store.schema import HOUR_MS, LONG_CONTEXT_PROMPT_TOKENS, SLOT_MS

_record_encoder = msgspec.msgpack.Encoder()
_cursor_encoder = _record_encoder

SlotKey = tuple[str, int, str, int, int, str]
SessionKey = tuple[str, str, str, str, int, int, str]


def model_column(record: UsageRecord) -> str:
    """The model as stored in projections: ``""`` for records naming no real model."""
    return record.model or ""


def is_fast(record: UsageRecord) -> int:
    """1 when the request ran in fast mode (priced with the model's fast multiplier)."""
    return 1 if record.speed == "fast" else 0


def logged_total(record: UsageRecord) -> int:
    """The record's total as its CLI's reports define it (the log's own, else the sum)."""
    return record.total_tokens if record.total is None else record.total


def long_context_column(record: UsageRecord) -> int:
    """The ``long_context`` column: 1 when the request's whole prompt is billed at the
    long-context rate (over its provider's threshold), else 0."""
    threshold = LONG_CONTEXT_PROMPT_TOKENS.get(record.provider, 200_000)
    return 1 if record.prompt_tokens > threshold else 0


def apply(conn: sqlite3.Connection, event: Message) -> None:
    """Fold one committed event into every projection. The caller owns the transaction."""
    if isinstance(event, UsageCommitted):
        _apply_usage(conn, event)
    elif isinstance(event, ActivityCommitted):
        _apply_activity(conn, event)
    elif isinstance(event, LimitsCommitted):
        _apply_limits(conn, event)
    elif isinstance(event, AlertCommitted):
        alert = event.alert
        conn.execute(
            "INSERT OR IGNORE INTO alerts (key, seq, provider, rule, raised_at, alert) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                alert.key,
                event.seq,
                alert.provider,
                alert.rule,
                alert.raised_at,
                _record_encoder.encode(alert),
            ),
        )
    elif isinstance(event, PriceCommitted):
        conn.execute(
            "INSERT INTO prices (provider, model, source, price, seq) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (provider, model) DO UPDATE SET source = excluded.source, "
            "price = excluded.price, seq = excluded.seq",
            (
                event.provider,
                event.model,
                event.source,
                None if event.price is None else _record_encoder.encode(event.price),
                event.seq,
            ),
        )


def _apply_usage(conn: sqlite3.Connection, event: UsageCommitted) -> None:
    machine, machine_name = event.machine, event.machine_name
    if not machine:
        # Logged before machines were kept: the store's own machine's.
        own = store_machine(conn)
        machine, machine_name = own.id, machine_name or own.name
    _seen_machine(conn, machine, machine_name, event.records)
    replaced_hours: set[tuple[str, int]] = set()
    if event.replaces:
        # A record is only ever replaced by a copy from its own machine (ingest._dedup).
        _add_tokens(conn, [_columns(r) for r in event.replaces], machine, sign=-1)
        conn.executemany(
            "DELETE FROM usage_records WHERE provider = ? AND ts_ms = ? AND key = ?",
            [(r.provider, r.ts_ms, r.key) for r in event.replaces],
        )
        replaced_hours = {(r.provider, r.ts_ms // HOUR_MS) for r in event.replaces}
    # Each record's projected columns are worked out once: a cold ingest folds tens of
    # thousands of records, and this is the store's hottest loop.
    rows = [_columns(r) for r in event.records]
    _add_tokens(conn, rows, machine, sign=1)
    _add_hours(
        conn,
        (
            (r.provider, r.ts_ms, r.key, model, fast, long_ctx, machine, tokens)
            for r, model, fast, long_ctx, tokens in rows
            if (r.provider, r.ts_ms // HOUR_MS) not in replaced_hours
        ),
    )
    conn.executemany(
        "INSERT OR REPLACE INTO usage_records (provider, ts_ms, key, session, model, fast,"
        " long_context, input, output, cache_write_5m, cache_write_1h, cache_read, reasoning,"
        " total, web_searches, machine) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (r.provider, r.ts_ms, r.key, r.session, model, fast, long_ctx, *tokens, machine)
            for r, model, fast, long_ctx, tokens in rows
        ],
    )
    # A first or last record that left an hour cannot be subtracted out: such hours are
    # summed again from the records they now hold.
    for provider, hour in sorted(replaced_hours):
        _resum_hour(conn, provider, hour)
    seq = event.seq
    conn.executemany(
        "INSERT OR REPLACE INTO usage_claims (key, seq, total, sidechain, has_speed, revision,"
        " machine) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.key,
                seq,
                r.input + r.output + r.cache_write_5m + r.cache_write_1h + r.cache_read,
                int(r.sidechain),
                int(r.speed is not None),
                r.revision,
                machine,
            )
            for r in event.records
        ],
    )
    if event.limits:
        _upsert_windows(conn, event.limits, event.seq)
    conn.execute(
        "INSERT OR REPLACE INTO cursors (machine, path, provider, cursor, batch_id, seq) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            machine,
            event.source,
            event.provider,
            _cursor_encoder.encode(event.cursor),
            event.batch_id,
            event.seq,
        ),
    )
    skipped = event.skipped
    counts = [
        (event.provider, event.source, reason, getattr(skipped, reason))
        for reason in skipped.__struct_fields__
        if getattr(skipped, reason)
    ]
    if counts:
        conn.executemany(
            "INSERT INTO skips (provider, source, reason, count) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (provider, source, reason) DO UPDATE SET count = count + excluded.count",
            counts,
        )


def _seen_machine(
    conn: sqlite3.Connection, machine: str, name: str, records: tuple[UsageRecord, ...]
) -> None:
    """Keep the machine in ``machines``: its latest name, and the times of the first and the
    latest record it counted (0 until it has counted one)."""
    times = [r.ts_ms for r in records]
    first, last = (min(times), max(times)) if times else (0, 0)
    conn.execute(
        "INSERT INTO machines (id, name, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET"
        " name = CASE WHEN excluded.name != '' THEN excluded.name ELSE name END,"
        " first_seen_ms = CASE WHEN first_seen_ms = 0 THEN excluded.first_seen_ms"
        " WHEN excluded.first_seen_ms = 0 THEN first_seen_ms"
        " ELSE min(first_seen_ms, excluded.first_seen_ms) END,"
        " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
        (machine, name, first, last),
    )


Columns = tuple[UsageRecord, str, int, int, tuple[int, int, int, int, int, int, int, int]]
"""A record with its projected ``model``, ``fast``, ``long_context`` and summed columns (the
tokens, ``total`` and ``web_searches``, in table order)."""


def _columns(r: UsageRecord) -> Columns:
    """``model_column``, ``is_fast``, ``long_context_column`` and ``_tokens`` of one record."""
    prompt = r.input + r.cache_write_5m + r.cache_write_1h + r.cache_read
    threshold = LONG_CONTEXT_PROMPT_TOKENS.get(r.provider, 200_000)
    total = prompt + r.output if r.total is None else r.total
    return (
        r,
        r.model or "",
        1 if r.speed == "fast" else 0,
        1 if prompt > threshold else 0,
        (
            r.input,
            r.output,
            r.cache_write_5m,
            r.cache_write_1h,
            r.cache_read,
            r.reasoning,
            total,
            r.web_search_requests,
        ),
    )


def _upsert_windows(conn: sqlite3.Connection, windows: Iterable[LimitWindow], seq: int) -> None:
    """Keep the newest observation of each window, whichever source or order it came in."""
    conn.executemany(
        "INSERT INTO limits (provider, window_name, observation, observed_at, seq)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, window_name) DO UPDATE SET"
        " observation = excluded.observation, observed_at = excluded.observed_at,"
        " seq = excluded.seq WHERE excluded.observed_at >= limits.observed_at",
        [(w.provider, w.window, _record_encoder.encode(w), w.observed_at, seq) for w in windows],
    )


def _apply_limits(conn: sqlite3.Connection, event: LimitsCommitted) -> None:
    _upsert_windows(conn, event.windows, event.seq)
    conn.executemany(
        "INSERT INTO credits (provider, name, credit, observed_at, seq) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (provider, name) DO UPDATE SET credit = excluded.credit,"
        " observed_at = excluded.observed_at, seq = excluded.seq"
        " WHERE excluded.observed_at >= credits.observed_at",
        [
            (c.provider, c.name, _record_encoder.encode(c), event.observed_at, event.seq)
            for c in event.credits
        ],
    )
    if event.status is not None:
        conn.execute(
            "INSERT INTO provider_status (provider, status, checked_at, seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (provider) DO UPDATE SET status = excluded.status,"
            " checked_at = excluded.checked_at, seq = excluded.seq"
            " WHERE excluded.checked_at >= provider_status.checked_at",
            (
                event.provider,
                _record_encoder.encode(event.status),
                event.status.checked_at,
                event.seq,
            ),
        )
    conn.execute(
        "INSERT OR IGNORE INTO limit_observations (observation_id, provider, observed_at, seq)"
        " VALUES (?, ?, ?, ?)",
        (event.observation_id, event.provider, event.observed_at, event.seq),
    )


_SUMMED = 8
"""How many summed columns ``_columns`` gives (records, first_ts and last_ts follow them)."""

_ADD_SUMS = ", ".join(
    f"{c} = {c} + excluded.{c}"
    for c in (
        "input",
        "output",
        "cache_write_5m",
        "cache_write_1h",
        "cache_read",
        "reasoning",
        "total",
        "web_searches",
        "records",
    )
)
"""The SET clause every projection upsert shares: the summed columns and ``records`` add up."""


def _add_tokens(
    conn: sqlite3.Connection, records: Iterable[Columns], machine: str, sign: int
) -> None:
    by_slot: dict[SlotKey, list[int]] = {}
    by_session: dict[SessionKey, list[int]] = {}
    for r, model, fast, long_ctx, tokens in records:
        ts = r.ts_ms
        signed = tokens if sign > 0 else tuple(-n for n in tokens)
        slot_key = (r.provider, ts // SLOT_MS, model, fast, long_ctx, machine)
        row = by_slot.get(slot_key)
        if row is None:
            by_slot[slot_key] = [*signed, sign, ts]
        else:
            for i in range(_SUMMED):
                row[i] += signed[i]
            row[_SUMMED] += sign
            row[_SUMMED + 1] = ts if row[_SUMMED + 1] == 0 else min(row[_SUMMED + 1], ts)
        session_key = (r.provider, r.project, r.session, model, fast, long_ctx, machine)
        row = by_session.get(session_key)
        if row is None:
            by_session[session_key] = [*signed, sign, ts, max(0, ts)]
        else:
            for i in range(_SUMMED):
                row[i] += signed[i]
            row[_SUMMED] += sign
            row[_SUMMED + 1] = ts if row[_SUMMED + 1] == 0 else min(row[_SUMMED + 1], ts)
            row[_SUMMED + 2] = max(row[_SUMMED + 2], ts)
    if by_slot:
        conn.executemany(
            "INSERT INTO usage_by_slot (provider, slot, model, fast, long_context, machine,"
            " input, output, cache_write_5m, cache_write_1h, cache_read, reasoning, total,"
            " web_searches, records, first_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, slot, model, fast, long_context, machine) DO UPDATE SET"
            f" {_ADD_SUMS},"
            " first_ts = min(first_ts, excluded.first_ts)",
            [(*key, *values) for key, values in by_slot.items()],
        )
    if by_session:
        conn.executemany(
            "INSERT INTO usage_by_session (provider, project, session, model, fast, long_context,"
            " machine, input, output, cache_write_5m, cache_write_1h, cache_read, reasoning,"
            " total, web_searches, records, first_ts, last_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, project, session, model, fast, long_context, machine)"
            " DO UPDATE SET"
            f" {_ADD_SUMS},"
            " first_ts = min(first_ts, excluded.first_ts),"
            " last_ts = max(last_ts, excluded.last_ts)",
            [(*key, *values) for key, values in by_session.items()],
        )
    if sign < 0:
        # A group whose every record was superseded would otherwise linger as a zero row.
        conn.executemany(
            "DELETE FROM usage_by_slot WHERE provider = ? AND slot = ? AND model = ?"
            " AND fast = ? AND long_context = ? AND machine = ? AND records = 0",
            list(by_slot),
        )
        conn.executemany(
            "DELETE FROM usage_by_session WHERE provider = ? AND project = ? AND session = ?"
            " AND model = ? AND fast = ? AND long_context = ? AND machine = ? AND records = 0",
            list(by_session),
        )


# -- hours, for blocks ------------------------------------------------------------------------

HourKey = tuple[str, int, int, str, int, int, str]
HourRecord = tuple[str, int, str, str, int, int, str, tuple[int, ...]]
"""provider, ts_ms, key, model, fast, long_context, machine and the summed columns of one
record."""


def _hour_sums(records: Iterable[HourRecord]) -> dict[HourKey, list[Any]]:
    """``usage_by_hour`` rows of ``records``: the summed columns, records, first_ts, first_key
    and last_ts per (provider, hour, part, model, fast, long_context, machine)."""
    out: dict[HourKey, list[Any]] = {}
    for provider, ts, key, model, fast, long_ctx, machine, tokens in records:
        hour, into = divmod(ts, HOUR_MS)
        group = (provider, hour, 0 if into == 0 else 1, model, fast, long_ctx, machine)
        row = out.get(group)
        if row is None:
            out[group] = [*tokens, 1, ts, key, ts]
            continue
        for i in range(_SUMMED):
            row[i] += tokens[i]
        row[_SUMMED] += 1
        if ts < row[_SUMMED + 1] or (ts == row[_SUMMED + 1] and key < row[_SUMMED + 2]):
            row[_SUMMED + 1], row[_SUMMED + 2] = ts, key
        row[_SUMMED + 3] = max(row[_SUMMED + 3], ts)
    return out


_HOUR_COLUMNS = (
    "provider, hour, part, model, fast, long_context, machine, input, output, cache_write_5m,"
    " cache_write_1h, cache_read, reasoning, total, web_searches, records, first_ts, first_key,"
    " last_ts"
)


def _add_hours(conn: sqlite3.Connection, records: Iterable[HourRecord]) -> None:
    """Add new records to their hours."""
    rows = _hour_sums(records)
    if not rows:
        return
    conn.executemany(
        f"INSERT INTO usage_by_hour ({_HOUR_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (provider, hour, part, model, fast, long_context, machine) DO UPDATE SET"
        f" {_ADD_SUMS},"
        " first_key = CASE WHEN excluded.first_ts < first_ts OR (excluded.first_ts = first_ts"
        " AND excluded.first_key < first_key) THEN excluded.first_key ELSE first_key END,"
        " first_ts = min(first_ts, excluded.first_ts),"
        " last_ts = max(last_ts, excluded.last_ts)",
        [(*key, *values) for key, values in rows.items()],
    )


def _resum_hour(conn: sqlite3.Connection, provider: str, hour: int) -> None:
    """Replace one hour's rows by the sums of the records it holds now."""
    conn.execute("DELETE FROM usage_by_hour WHERE provider = ? AND hour = ?", (provider, hour))
    held = conn.execute(
        "SELECT ts_ms, key, model, fast, long_context, machine, input, output, cache_write_5m,"
        " cache_write_1h, cache_read, reasoning, total, web_searches FROM usage_records"
        " WHERE provider = ? AND ts_ms >= ? AND ts_ms < ?",
        (provider, hour * HOUR_MS, (hour + 1) * HOUR_MS),
    )
    _add_hours(
        conn,
        (
            (provider, ts, key, model, fast, lc, machine, tuple(t))
            for ts, key, model, fast, lc, machine, *t in held
        ),
    )


# -- recent activity --------------------------------------------------------------------------


def activity_keep(conn: sqlite3.Connection) -> int:
    """How many prompts each provider keeps (``[activity] keep``, set by the store at start)."""
    row = conn.execute("SELECT value FROM activity_settings WHERE name = 'keep'").fetchone()
    return DEFAULT_KEEP if row is None else int(row[0])


def _apply_activity(conn: sqlite3.Connection, event: ActivityCommitted) -> None:
    """Keep the event's prompts, then only the newest ``keep`` of the provider. Their replies
    need no projection of their own: they are the session's records in ``usage_records``."""
    if not event.prompts:
        return
    conn.executemany(
        "INSERT OR IGNORE INTO activity (key, provider, ts_ms, project, session, text, seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (p.key, p.provider, p.ts_ms, p.project, p.session, p.text, event.seq)
            for p in event.prompts
        ],
    )
    trim_activity(conn, event.provider, event.keep or activity_keep(conn))


def trim_activity(conn: sqlite3.Connection, provider: str, keep: int) -> None:
    """Drop every prompt of ``provider`` but the newest ``keep``."""
    conn.execute(
        "DELETE FROM activity WHERE key IN (SELECT key FROM activity WHERE provider = ?"
        " ORDER BY ts_ms DESC, key DESC LIMIT -1 OFFSET ?)",
        (provider, keep),
    )
