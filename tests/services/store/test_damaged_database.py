"""A damaged database file, really damaged: truncated, or random bytes over pages in its
middle. The integrity check at start finds it, opening says so instead of raising, every
error it causes is named the same way, and ``move_aside`` puts the file and its companions
out of the way for ``otm store recover``."""

from __future__ import annotations

import os
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bus.messages import ReplayRequest
from services.store.database import connect_writer, damaged_name, move_aside, open_checked
from services.store.trouble import DAMAGED, classify, damaged_message
from services.store.writer import Store
from tests.faults_support import checkpoint, middle, scribble, table_pages
from tests.helpers import batch, record

BATCHES = 60
AT = datetime(2026, 5, 21, 9, 30, 5, tzinfo=UTC)


def make_database(path: Path) -> None:
    """A sound database with ``BATCHES`` usage events, all in the main file (no WAL)."""
    store = Store(connect_writer(str(path)))
    for n in range(BATCHES):
        records = [record(f"m{n}-{i}", project=f"project-{n}-{'x' * 300}") for i in range(5)]
        store.apply([batch(records, None if n == 0 else n * 100, (n + 1) * 100)])
    store.conn.close()
    checkpoint(path)


def event_pages(path: Path) -> list[int]:
    """The pages holding the event log."""
    return table_pages(path, "events")


@pytest.fixture
def sound(tmp_path: Path) -> Path:
    """A sound database file."""
    path = tmp_path / "otm.db"
    make_database(path)
    return path


def test_a_sound_database_passes_the_check(sound: Path) -> None:
    """``open_checked`` on a sound file: a connection, no findings, no problem."""
    opened = open_checked(str(sound))
    assert opened.conn is not None
    opened.conn.close()
    assert ((), None) == (opened.findings, opened.problem)


def test_random_bytes_in_middle_pages_are_found_at_start(sound: Path) -> None:
    """Random bytes over pages of the event log are found by ``PRAGMA quick_check``."""
    scribble(sound, middle(event_pages(sound)))
    opened = open_checked(str(sound))
    assert opened.conn is not None
    opened.conn.close()
    assert DAMAGED == opened.problem
    assert opened.findings


def test_a_truncated_file_is_a_problem_not_an_error(sound: Path) -> None:
    """A file cut in half opens as "damaged", without raising."""
    os.truncate(sound, sound.stat().st_size // 2)
    opened = open_checked(str(sound))
    assert (None, DAMAGED) == (opened.conn, opened.problem)
    assert ("database disk image is malformed",) == opened.findings


def test_a_file_that_is_no_database_is_damaged(tmp_path: Path) -> None:
    """A file of random bytes opens as "damaged" (SQLite: not a database)."""
    path = tmp_path / "otm.db"
    path.write_bytes(random.Random(2).randbytes(8192))
    assert DAMAGED == open_checked(str(path)).problem


def test_replay_over_damaged_pages_raises_a_damaged_error(sound: Path) -> None:
    """Replaying the log over scribbled pages raises an error ``classify`` calls damaged
    (the store turns it into an answer; see test_faults)."""
    store = Store(connect_writer(str(sound)))
    try:
        scribble(sound, middle(event_pages(sound)))
        store.conn.execute("PRAGMA shrink_memory")  # forget the pages read before the damage
        with pytest.raises(sqlite3.DatabaseError) as failure:
            store.replay(ReplayRequest(after=0, limit=5000))
    finally:
        store.conn.close()
    assert DAMAGED == classify(failure.value)


def test_integrity_errors_are_not_called_damage(db: sqlite3.Connection) -> None:
    """A constraint error is a bug, not damage: ``classify`` leaves it alone."""
    db.execute("INSERT INTO events (seq, topic, body, committed_at) VALUES (1, 't', x'00', 0)")
    with pytest.raises(sqlite3.IntegrityError) as failure:
        db.execute("INSERT INTO events (seq, topic, body, committed_at) VALUES (1, 't', x'00', 0)")
    assert None is classify(failure.value)


def test_the_damaged_message_names_the_file_and_the_fix(tmp_path: Path) -> None:
    """One sentence: the file, and `otm store recover`."""
    assert (
        f"the database {tmp_path / 'otm.db'} is damaged: run `otm store recover`"
        == damaged_message(tmp_path / "otm.db")
    )


def test_move_aside_names_the_copy_by_utc_time(tmp_path: Path) -> None:
    """The damaged copy is ``otm.db.damaged-<UTC timestamp>``."""
    assert tmp_path / "otm.db.damaged-20260521T093005Z" == damaged_name(tmp_path / "otm.db", AT)


def test_move_aside_moves_the_file_and_its_wal_and_shm(tmp_path: Path) -> None:
    """The database, its ``-wal`` and ``-shm`` move together, keeping their suffixes."""
    for name in ("otm.db", "otm.db-wal", "otm.db-shm"):
        (tmp_path / name).write_text(name)
    moves = move_aside(tmp_path / "otm.db", AT)
    copy = "otm.db.damaged-20260521T093005Z"
    assert [copy, f"{copy}-shm", f"{copy}-wal"] == sorted(p.name for p in tmp_path.iterdir())
    assert [(tmp_path / "otm.db-wal", tmp_path / f"{copy}-wal")] == moves[1:2]
    assert "otm.db-wal" == (tmp_path / f"{copy}-wal").read_text()


def test_move_aside_without_a_database_moves_nothing(tmp_path: Path) -> None:
    """Nothing there, nothing moved."""
    assert [] == move_aside(tmp_path / "otm.db", AT)
