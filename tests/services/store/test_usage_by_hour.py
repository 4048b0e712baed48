"""``usage_by_hour``: the records summed per part of a UTC hour, the projection blocks read."""

from __future__ import annotations

import sqlite3

from services.store.schema import HOUR_MS, MIGRATIONS
from services.store.writer import Store
from tests.helpers import T0, batch, record

HOUR = T0 - T0 % HOUR_MS
"""The UTC hour T0 falls in."""


def hours(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    """Every ``usage_by_hour`` row, in key order."""
    return db.execute(
        "SELECT * FROM usage_by_hour"
        " ORDER BY provider, hour, part, model, fast, long_context, machine"
    ).fetchall()


def commit(db: sqlite3.Connection, *batches: object) -> None:
    """Apply each batch through the store, as the live store does."""
    store = Store(db)
    for b in batches:
        _, _, rejected = store.apply([b])  # type: ignore[list-item]
        assert [] == rejected


def refill_by_migration(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    """The rows the schema's migration fills from ``usage_records`` alone."""
    db.execute("DELETE FROM usage_by_hour")
    db.execute("DROP TABLE usage_by_hour")
    db.executescript(MIGRATIONS[-1])
    return hours(db)


def test_records_on_the_hour_are_part_0_the_rest_part_1(db: sqlite3.Connection) -> None:
    """A record exactly on a UTC hour is kept apart from the rest of that hour."""
    commit(db, batch([record("a", ts_ms=HOUR), record("b", ts_ms=HOUR + 1)], None, 100))
    assert [(0, 1), (1, 1)] == [(r[2], r[15]) for r in hours(db)]


def test_first_key_breaks_a_tie_of_first_records(db: sqlite3.Connection) -> None:
    """Of two records at the same first instant the smaller key is the group's first."""
    commit(db, batch([record("z", ts_ms=T0)], None, 100), batch([record("m", ts_ms=T0)], 100, 200))
    ((first_ts, first_key, last_ts),) = db.execute(
        "SELECT first_ts, first_key, last_ts FROM usage_by_hour"
    ).fetchall()
    assert (T0, "m", T0) == (first_ts, first_key, last_ts)


def test_a_replaced_first_record_leaves_its_hour(db: sqlite3.Connection) -> None:
    """When the first record of an hour is replaced by a later copy, the hour starts later."""
    commit(
        db,
        batch([record("a", ts_ms=T0, output=9), record("b", ts_ms=T0 + 60_000)], None, 100),
        batch([record("a", ts_ms=T0 + 120_000, output=159)], 100, 200),
    )
    ((first_ts, first_key, last_ts, records, output),) = db.execute(
        "SELECT first_ts, first_key, last_ts, records, output FROM usage_by_hour"
    ).fetchall()
    assert (T0 + 60_000, "b", T0 + 120_000, 2, 179) == (
        first_ts,
        first_key,
        last_ts,
        records,
        output,
    )


def test_live_rows_equal_the_migrations_sum_of_the_records(db: sqlite3.Connection) -> None:
    """What commits keep equals what the migration sums from ``usage_records`` afresh."""
    commit(
        db,
        batch(
            [
                record("a", ts_ms=HOUR, output=9),
                record("b", ts_ms=HOUR + 5 * HOUR_MS, model=None),
                record("c", ts_ms=HOUR + 7, input=250_000, speed="fast"),
            ],
            None,
            100,
        ),
        batch([record("a", ts_ms=HOUR + 2 * HOUR_MS, output=90), record("d")], 100, 200),
    )
    live = hours(db)
    assert live == refill_by_migration(db)
