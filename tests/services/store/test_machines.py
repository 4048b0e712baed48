"""Machines in the store: usage, cursors and heartbeats kept per machine, a record synced to two
machines counted once, old rows given the store's own machine, all of it rebuilt from the log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bus.codec import decode, encode
from bus.messages import Heartbeat, UsageCommitted
from bus.topics import topic_for
from services.runtime.machine import local_machine
from services.store.database import connect_writer, rebuild
from services.store.ingest import Committed, committed_cursor
from services.store.machines import committed_cursors, store_machine
from services.store.schema import MIGRATIONS
from services.store.writer import Store
from tests.helpers import SOURCE, T0, batch, cursor, record

LAPTOP = "a" * 32
DESK = "b" * 32


def tokens_by_machine(db: sqlite3.Connection, table: str) -> dict[str, int]:
    """Summed output tokens of a usage projection, by machine."""
    rows = db.execute(f"SELECT machine, sum(output) FROM {table} GROUP BY machine")
    return {str(machine): int(total) for machine, total in rows}


def test_the_store_records_its_own_machine_from_the_state_folder(
    db: sqlite3.Connection, db_path: Path
) -> None:
    """A new database's own machine is the id kept in the state folder beside it."""
    assert local_machine(db_path.parent).id == store_machine(db).id


def test_a_batch_naming_no_machine_is_the_stores_own(db: sqlite3.Connection) -> None:
    """An older collector's batch (no machine) is committed under the store's machine."""
    Store(db).apply([batch([record("a", output=5)], before=None, after=100)])
    assert {store_machine(db).id: 5} == tokens_by_machine(db, "usage_by_slot")


def test_usage_projections_carry_the_batchs_machine(db: sqlite3.Connection) -> None:
    """Records of two machines are kept apart in the slot, session and record projections."""
    Store(db).apply(
        [
            batch([record("a", output=5)], before=None, after=100, machine=LAPTOP),
            batch([record("b", output=7)], None, 100, source="/other.jsonl", machine=DESK),
        ]
    )
    expected = {LAPTOP: 5, DESK: 7}
    assert [expected] * 3 == [
        tokens_by_machine(db, t) for t in ("usage_by_slot", "usage_by_session", "usage_records")
    ]


def test_two_machines_keep_their_own_cursor_of_the_same_path(db: sqlite3.Connection) -> None:
    """The same path on two machines has two cursors: each machine's batches apply."""
    _committed, _acks, rejected = Store(db).apply(
        [
            batch([record("a")], before=None, after=100, machine=LAPTOP),
            batch([record("b")], before=None, after=40, machine=DESK),
        ]
    )
    assert ([], cursor(100), cursor(40)) == (
        rejected,
        committed_cursor(db, LAPTOP, SOURCE)[0],  # type: ignore[index]
        committed_cursor(db, DESK, SOURCE)[0],  # type: ignore[index]
    )


def test_committed_cursors_lists_one_machines_cursors_by_path(db: sqlite3.Connection) -> None:
    """``committed_cursors`` gives a machine's cursors only, keyed by path."""
    Store(db).apply(
        [
            batch([record("a")], before=None, after=100, machine=LAPTOP),
            batch([record("b")], before=None, after=40, machine=DESK),
            batch([record("c")], None, 60, source="/logs/two.jsonl", machine=DESK),
        ]
    )
    expected = {SOURCE: cursor(40), "/logs/two.jsonl": cursor(60, "/logs/two.jsonl")}
    assert expected == committed_cursors(db, DESK)


def test_a_record_synced_to_two_machines_counts_once_for_the_first(
    db: sqlite3.Connection,
) -> None:
    """The same key read on two machines (a synced folder) counts once, for the machine that
    committed it first, and the second copy is a duplicate."""
    store = Store(db)
    store.apply([batch([record("a", output=5)], before=None, after=100, machine=LAPTOP)])
    committed, _acks, _rejected = store.apply(
        [batch([record("a", output=5)], before=None, after=100, machine=DESK)]
    )
    assert ({LAPTOP: 5}, 1) == (tokens_by_machine(db, "usage_by_slot"), _duplicates(committed))


def test_a_larger_copy_from_another_machine_does_not_move_the_record(
    db: sqlite3.Connection,
) -> None:
    """A later, larger copy of a key from a second machine leaves the first machine's count."""
    store = Store(db)
    store.apply([batch([record("a", output=5)], before=None, after=100, machine=LAPTOP)])
    store.apply([batch([record("a", output=50)], before=None, after=100, machine=DESK)])
    assert {LAPTOP: 5} == tokens_by_machine(db, "usage_by_slot")


def test_machines_lists_each_machine_with_its_name_and_record_times(
    db: sqlite3.Connection,
) -> None:
    """``machines`` has each machine's latest name and its first and latest record times."""
    Store(db).apply(
        [
            batch([record("a", ts_ms=T0)], before=None, after=10, machine=LAPTOP),
            batch([record("b", ts_ms=T0 + 5)], 10, 20, machine=LAPTOP, machine_name="laptop"),
        ]
    )
    rows = db.execute("SELECT id, name, first_seen_ms, last_seen_ms FROM machines").fetchall()
    assert [(LAPTOP, "laptop", T0, T0 + 5)] == rows


def test_rebuild_gives_the_same_machines_and_usage(db: sqlite3.Connection, db_path: Path) -> None:
    """Replaying the log gives every machine its usage, cursors and row in ``machines`` again."""
    Store(db).apply(
        [
            batch([record("a", output=5)], None, 100, machine=LAPTOP, machine_name="laptop"),
            batch([record("b", output=7)], None, 100, machine=DESK, machine_name="desk"),
            batch([record("a", output=9)], None, 50, source="/x.jsonl", machine=DESK),
        ]
    )
    tables = ("machines", "cursors", "usage_by_slot", "usage_by_session", "usage_claims")
    before = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}
    db.close()
    rebuild(str(db_path))
    conn = sqlite3.connect(db_path)
    after = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}
    conn.close()
    assert before == after


def test_a_version_7_database_gives_its_rows_to_the_stores_machine(tmp_path: Path) -> None:
    """Migrating a v7 database replays its log: existing usage and cursors become the usage
    of the store's own machine (the id in its state folder)."""
    path = tmp_path / "otm.db"
    old = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:7]:
        old.executescript(script)
    old.execute("PRAGMA user_version = 7")
    event = UsageCommitted(
        seq=1,
        batch_id="b1",
        provider="claude",
        source=SOURCE,
        cursor=cursor(100),
        records=(record("r1", output=20),),
    )
    old.execute(
        "INSERT INTO events (seq, topic, body, committed_at) VALUES (1, ?, ?, 0)",
        (topic_for(event), encode(event)),
    )
    old.close()
    conn = connect_writer(str(path))
    try:
        own = local_machine(tmp_path).id
        found = (
            tokens_by_machine(conn, "usage_by_slot"),
            committed_cursor(conn, own, SOURCE),
        )
    finally:
        conn.close()
    assert ({own: 20}, (cursor(100), "b1", 1)) == found


def test_heartbeats_of_two_machines_are_kept_apart(db: sqlite3.Connection) -> None:
    """Two machines' collectors each keep their own latest heartbeat, in memory and on disk."""
    store = Store(db)
    beats = [
        Heartbeat(process="collector", pid=1, started_at=0, sent_at=1, machine=LAPTOP),
        Heartbeat(process="collector", pid=1, started_at=0, sent_at=2, machine=DESK),
    ]
    store.record_heartbeats(beats)
    rows = db.execute("SELECT machine, process FROM process_status ORDER BY machine").fetchall()
    assert ([(LAPTOP, "collector"), (DESK, "collector")], 2) == (rows, len(store.heartbeats))


def _duplicates(committed: list[Committed]) -> int:
    """The duplicates the usage events among ``committed`` counted."""
    events = [decode(item.body) for item in committed]
    return sum(e.duplicates for e in events if isinstance(e, UsageCommitted))
