"""The database layout: versioned forward migrations, one WAL writer, read-only readers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.codec import encode
from bus.messages import UsageCommitted
from bus.topics import topic_for
from services.store.database import connect_reader, connect_writer, migrate
from services.store.schema import MIGRATIONS
from tests.helpers import cursor, record


@pytest.fixture
def reader(db: sqlite3.Connection, db_path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection on the migrated test database."""
    conn = connect_reader(str(db_path))
    yield conn
    conn.close()


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version stored in the database."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_migrate_sets_user_version_to_the_newest(tmp_path: Path) -> None:
    """A fresh database is brought to the last migration's version."""
    conn = sqlite3.connect(tmp_path / "fresh.db")
    try:
        migrate(conn)
        assert len(MIGRATIONS) == user_version(conn)
    finally:
        conn.close()


def test_migrate_returns_the_version(tmp_path: Path) -> None:
    """migrate returns the version it left the database at."""
    conn = sqlite3.connect(tmp_path / "fresh.db")
    try:
        assert len(MIGRATIONS) == migrate(conn)
    finally:
        conn.close()


def test_connect_writer_migrates(db: sqlite3.Connection) -> None:
    """The writer's connection is on the newest schema."""
    assert len(MIGRATIONS) == user_version(db)


def test_migrating_again_keeps_the_data(db: sqlite3.Connection) -> None:
    """Opening an up-to-date database migrates nothing and loses nothing."""
    db.execute("INSERT INTO events (seq, topic, body, committed_at) VALUES (1, 't', x'00', 0)")
    migrate(db)
    assert [(1,)] == db.execute("SELECT seq FROM events").fetchall()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    """A database from a newer otm is refused with a message saying to upgrade."""
    conn = sqlite3.connect(tmp_path / "newer.db")
    try:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        with pytest.raises(RuntimeError, match=r"newer than this otm knows.*upgrade"):
            migrate(conn)
    finally:
        conn.close()


def test_writer_refuses_a_newer_database(tmp_path: Path) -> None:
    """connect_writer on a database from a newer otm raises instead of opening it."""
    conn = sqlite3.connect(tmp_path / "newer.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match=f"schema version {len(MIGRATIONS) + 1}"):
        connect_writer(str(tmp_path / "newer.db"))


def test_newer_database_is_left_untouched(tmp_path: Path) -> None:
    """Refusing a newer database changes neither its version nor its tables."""
    conn = sqlite3.connect(tmp_path / "newer.db")
    try:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        with pytest.raises(RuntimeError):
            migrate(conn)
        tables = conn.execute("SELECT name FROM sqlite_master").fetchall()
        assert (len(MIGRATIONS) + 1, []) == (user_version(conn), tables)
    finally:
        conn.close()


def test_writer_uses_wal(db: sqlite3.Connection) -> None:
    """The writer's database is in WAL mode, so readers never block it."""
    assert "wal" == db.execute("PRAGMA journal_mode").fetchone()[0]


def test_reader_cannot_write(reader: sqlite3.Connection) -> None:
    """A write through a reader connection raises 'readonly'."""
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute(
            "INSERT INTO events (seq, topic, body, committed_at) VALUES (1, 't', x'', 0)"
        )


def test_reader_sees_committed_writes(db: sqlite3.Connection, reader: sqlite3.Connection) -> None:
    """What the writer commits is visible to a reader."""
    db.execute("INSERT INTO events (seq, topic, body, committed_at) VALUES (1, 't', x'00', 0)")
    assert [(1,)] == reader.execute("SELECT seq FROM events").fetchall()


def test_reader_does_not_create_a_missing_database(tmp_path: Path) -> None:
    """Opening a database that does not exist fails and creates no file."""
    with pytest.raises(sqlite3.OperationalError):
        connect_reader(str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()


def test_a_version_5_database_gets_its_record_sessions_from_the_log(tmp_path: Path) -> None:
    """Opening a v5 database replays its log, so ``usage_records.session`` is filled."""
    path = str(tmp_path / "v5.db")
    old = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:5]:
        old.executescript(script)
    old.execute("PRAGMA user_version = 5")
    event = UsageCommitted(
        seq=1,
        batch_id="b1",
        provider="claude",
        source="/logs/a.jsonl",
        cursor=cursor(100),
        records=(record("r1", session="s-42"),),
    )
    old.execute(
        "INSERT INTO events (seq, topic, body, committed_at) VALUES (1, ?, ?, 0)",
        (topic_for(event), encode(event)),
    )
    old.close()
    conn = connect_writer(path)
    try:
        assert [("s-42",)] == conn.execute("SELECT session FROM usage_records").fetchall()
    finally:
        conn.close()


def test_a_migration_that_fails_half_way_leaves_the_old_schema_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration stopped after its first statement leaves neither that statement's table
    nor a new version behind, so the next start runs it again from the beginning."""
    from services.store import schema

    path = tmp_path / "otm.db"
    connect_writer(str(path)).close()
    broken = "CREATE TABLE half_done (x INTEGER);\nSELECT no_such_function();\n"
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(sqlite3.OperationalError):
        connect_writer(str(path))
    conn = sqlite3.connect(path)
    try:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'")
        assert (len(MIGRATIONS), []) == (user_version(conn), tables.fetchall())
    finally:
        conn.close()
