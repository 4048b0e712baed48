"""Projections: usage summed per 15-minute slot and per session, split by fast and long context."""

from __future__ import annotations

import sqlite3

import pytest

from bus.messages import ModelPrice, PriceObserved, SkipCounts, UsageRecord
from services.store.ingest import committed_cursor
from services.store.schema import SLOT_MS
from services.store.writer import Store
from tests.helpers import T0, batch, record

MINUTE = 60_000


def commit(db: sqlite3.Connection, *records: UsageRecord, **fields: object) -> None:
    """Commit ``records`` as the next batch of the test file."""
    current = committed_cursor(db, "", "/logs/project/session.jsonl")
    before = None if current is None else current[0].offset
    after = (before or 0) + 100
    committed, _, rejected = Store(db).apply([batch(records, before, after, **fields)])  # type: ignore[arg-type]
    assert ([], 1) == (rejected, len(committed))


def slots(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    """(slot, model, fast, long_context, input, output, cw5m, cw1h, read, records, first_ts)."""
    return db.execute(
        "SELECT slot, model, fast, long_context, input, output, cache_write_5m, cache_write_1h,"
        " cache_read, records, first_ts FROM usage_by_slot ORDER BY slot, model, fast, long_context"
    ).fetchall()


def sessions(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    """(session, model, fast, long_context, input, output, records, first_ts, last_ts)."""
    return db.execute(
        "SELECT session, model, fast, long_context, input, output, records, first_ts, last_ts"
        " FROM usage_by_session ORDER BY session, model, fast, long_context"
    ).fetchall()


def test_records_in_one_slot_are_summed(db: sqlite3.Connection) -> None:
    """Two records of one model in one quarter hour make one slot row with every field summed."""
    commit(
        db,
        record("a", ts_ms=T0 + MINUTE, input=1, output=2, cache_write_5m=3, cache_write_1h=4),
        record("b", ts_ms=T0, input=10, output=20, cache_read=50),
    )
    assert [(T0 // SLOT_MS, "claude-sonnet-4-5", 0, 0, 11, 22, 3, 4, 50, 2, T0)] == slots(db)


def test_records_of_one_session_are_summed_across_slots(db: sqlite3.Connection) -> None:
    """One session row spans slots, with its first and last timestamps."""
    commit(db, record("a", ts_ms=T0), record("b", ts_ms=T0 + 3 * SLOT_MS, input=5, output=6))
    expected = [("session", "claude-sonnet-4-5", 0, 0, 15, 26, 2, T0, T0 + 3 * SLOT_MS)]
    assert expected == sessions(db)


def test_sessions_are_kept_apart(db: sqlite3.Connection) -> None:
    """Records of two sessions make two session rows."""
    commit(db, record("a", session="s1"), record("b", session="s2"))
    assert ["s1", "s2"] == [row[0] for row in sessions(db)]


def test_models_are_kept_apart(db: sqlite3.Connection) -> None:
    """Records of two models in one slot make two slot rows."""
    commit(db, record("a", model="claude-opus-4-6"), record("b"))
    assert ["claude-opus-4-6", "claude-sonnet-4-5"] == [row[1] for row in slots(db)]


def test_slot_starts_on_the_quarter_hour(db: sqlite3.Connection) -> None:
    """The first and last millisecond of a quarter hour share one slot."""
    commit(db, record("a", ts_ms=T0), record("b", ts_ms=T0 + SLOT_MS - 1))
    assert [(T0 // SLOT_MS, 2)] == [(row[0], row[9]) for row in slots(db)]


def test_next_quarter_hour_is_the_next_slot(db: sqlite3.Connection) -> None:
    """Records one millisecond apart across a quarter-hour boundary land in adjacent slots."""
    commit(db, record("a", ts_ms=T0 - 1), record("b", ts_ms=T0))
    assert [T0 // SLOT_MS - 1, T0 // SLOT_MS] == [row[0] for row in slots(db)]


def test_slot_is_fifteen_minutes() -> None:
    """The projection granularity is 15 minutes."""
    assert 15 * MINUTE == SLOT_MS


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"input": 200_001}, 1, id="input-over"),
        pytest.param({"input": 200_000}, 0, id="exactly-200k"),
        pytest.param({"input": 1, "cache_read": 150_000, "cache_write_5m": 50_000}, 1, id="sum"),
        pytest.param({"input": 100_000, "cache_write_1h": 100_001}, 1, id="1h-writes"),
        pytest.param({"input": 10, "output": 300_000}, 0, id="output-is-not-prompt"),
    ],
)
def test_long_context_flag(db: sqlite3.Connection, fields: dict[str, int], expected: int) -> None:
    """long_context is 1 when the prompt (input + cache writes + reads) exceeds 200k tokens."""
    commit(db, record("a", **fields))
    assert [expected] == [row[3] for row in slots(db)]


@pytest.mark.parametrize(
    ("speed", "expected"),
    [
        pytest.param("fast", 1, id="fast"),
        pytest.param("standard", 0, id="standard"),
        pytest.param(None, 0, id="unstated"),
    ],
)
def test_fast_flag(db: sqlite3.Connection, speed: str | None, expected: int) -> None:
    """fast is 1 only for records that ran in fast mode."""
    commit(db, record("a", speed=speed))
    assert [expected] == [row[2] for row in slots(db)]


def test_fast_and_standard_records_are_kept_apart(db: sqlite3.Connection) -> None:
    """Fast and standard records of one model and slot are separate rows (priced differently)."""
    commit(db, record("a", speed="fast"), record("b"))
    assert [(0, 1), (1, 1)] == [(row[2], row[9]) for row in slots(db)]


def test_record_without_a_model_is_stored_under_empty_model(db: sqlite3.Connection) -> None:
    """A ``<synthetic>`` record (model None) is projected under model ``""``."""
    commit(db, record("a", model=None))
    assert [""] == [row[1] for row in slots(db)]


def test_fully_replaced_slot_row_is_deleted(db: sqlite3.Connection) -> None:
    """When a key's only copy in a slot is replaced by one in another slot, no zero row remains."""
    commit(db, record("k", ts_ms=T0, output=9))
    commit(db, record("k", ts_ms=T0 + SLOT_MS, output=159))
    assert [(T0 // SLOT_MS + 1, 159, 1)] == [(row[0], row[5], row[9]) for row in slots(db)]


def test_fully_replaced_session_row_is_deleted(db: sqlite3.Connection) -> None:
    """A replacement that changes the row's group (standard -> fast) leaves no zero row."""
    commit(db, record("k", output=9))
    commit(db, record("k", output=159, speed="fast"))
    assert [(1, 159, 1)] == [(row[2], row[5], row[6]) for row in sessions(db)]


def test_partly_replaced_row_keeps_the_other_records(db: sqlite3.Connection) -> None:
    """Replacing one of two records in a row subtracts only that record."""
    commit(db, record("k", output=9), record("other", output=100))
    commit(db, record("k", output=159))
    assert [(20, 259, 2)] == [(row[4], row[5], row[6]) for row in sessions(db)]


def test_skips_accumulate_per_reason(db: sqlite3.Connection) -> None:
    """Skip counts of successive batches of a file add up per reason; zero reasons get no row."""
    commit(db, skipped=SkipCounts(malformed_json=2))
    commit(db, skipped=SkipCounts(malformed_json=1, rewound=1))
    rows = db.execute("SELECT reason, count FROM skips ORDER BY reason").fetchall()
    assert [("malformed_json", 3), ("rewound", 1)] == rows


def test_cursor_projection_holds_the_latest_cursor(db: sqlite3.Connection) -> None:
    """The cursors table holds one row per file, at its latest batch."""
    commit(db)
    commit(db)
    rows = db.execute("SELECT path, batch_id, seq FROM cursors").fetchall()
    latest = batch([], before=100, after=200)
    assert [(latest.source, latest.batch_id, 2)] == rows


def test_price_projection_holds_the_latest_price(db: sqlite3.Connection) -> None:
    """The prices table holds each model's latest source and seq."""
    observed = PriceObserved(
        provider="claude",
        model="m",
        source="config",
        price=ModelPrice(
            input="1", output="2", cache_write_5m="1", cache_write_1h="2", cache_read="0"
        ),
    )
    Store(db).apply([observed])
    Store(db).apply([PriceObserved(provider="claude", model="m", source="none")])
    rows = db.execute("SELECT model, source, price, seq FROM prices").fetchall()
    assert [("m", "none", None, 2)] == rows
