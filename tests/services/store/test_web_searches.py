"""Web searches in the store: schema v7's column, the projections' sums, a rebuild, a migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bus.codec import encode
from bus.messages import UsageCommitted
from bus.topics import topic_for
from services.store.database import connect_writer, rebuild_connection
from services.store.schema import MIGRATIONS, SLOT_MS
from services.store.writer import Store
from tests.helpers import T0, batch, cursor, record

TABLES = ("usage_by_slot", "usage_by_session", "usage_records")


def searches(db: sqlite3.Connection, table: str) -> int:
    """The sum of ``web_searches`` over one projection table."""
    return int(db.execute(f"SELECT coalesce(sum(web_searches), 0) FROM {table}").fetchone()[0])


def test_projections_sum_the_records_web_searches(db: sqlite3.Connection) -> None:
    """Every usage projection holds the searches of the records it counts."""
    records = [record("a", web_search_requests=2), record("b", ts_ms=T0 + SLOT_MS)]
    later = batch([record("c", web_search_requests=3)], 100, 200)
    Store(db).apply([batch(records, None, 100), later])
    assert [5, 5, 5] == [searches(db, t) for t in TABLES]


def test_a_replaced_copy_takes_its_searches_with_it(db: sqlite3.Connection) -> None:
    """A larger streaming copy replaces the smaller one's searches instead of adding to them."""
    store = Store(db)
    store.apply([batch([record("a", output=5, web_search_requests=1)], None, 100)])
    store.apply([batch([record("a", output=50, web_search_requests=1)], 100, 200)])
    assert [1, 1, 1] == [searches(db, t) for t in TABLES]


def test_searches_are_not_tokens(db: sqlite3.Connection) -> None:
    """A record's searches change no token column and no total."""
    Store(db).apply([batch([record("a", input=10, output=20, web_search_requests=4)], None, 100)])
    assert [(10, 20, 30, 4)] == db.execute(
        "SELECT input, output, total, web_searches FROM usage_by_slot"
    ).fetchall()


def test_rebuild_gives_the_same_searches(db: sqlite3.Connection) -> None:
    """``otm store rebuild`` replays the log into the very same search sums."""
    Store(db).apply([batch([record("a", web_search_requests=2), record("b")], None, 100)])
    before = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall() for t in TABLES}
    rebuild_connection(db)
    after = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall() for t in TABLES}
    assert (before, [2, 2, 2]) == (after, [searches(db, t) for t in TABLES])


def test_a_version_6_database_migrates_with_no_searches(tmp_path: Path) -> None:
    """A v6 database keeps its rows and gets ``web_searches`` 0, what its log implies."""
    path = str(tmp_path / "v6.db")
    old = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:6]:
        old.executescript(script)
    old.execute("PRAGMA user_version = 6")
    event = UsageCommitted(
        seq=1,
        batch_id="b1",
        provider="claude",
        source="/logs/a.jsonl",
        cursor=cursor(100),
        records=(record("r1"),),
    )
    old.execute(
        "INSERT INTO events (seq, topic, body, committed_at) VALUES (1, ?, ?, 0)",
        (topic_for(event), encode(event)),
    )
    old.execute(
        "INSERT INTO usage_by_slot (provider, slot, model, fast, long_context, input, output,"
        " cache_write_5m, cache_write_1h, cache_read, reasoning, total, records, first_ts)"
        " VALUES ('claude', 1, 'm', 0, 0, 10, 20, 0, 0, 0, 0, 30, 1, 5)"
    )
    old.close()
    conn = connect_writer(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        rows = conn.execute("SELECT input, output, web_searches FROM usage_by_slot").fetchall()
        assert (len(MIGRATIONS), [(10, 20, 0)]) == (version, rows)
    finally:
        conn.close()
