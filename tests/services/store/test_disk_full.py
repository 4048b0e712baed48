"""A full disk, on a real small tmpfs: the writer rolls back and keeps its head, heartbeats wait
in memory, the health file is still written, the price stamp gives up quietly, and everything
is written exactly once when the space is back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.messages import Heartbeat, UsageBatch
from services.collector.price_keeping import PriceStamp
from services.store.database import connect_writer
from services.store.health import (
    FIRST_RETRY_SECONDS,
    MAX_RETRY_SECONDS,
    HealthFile,
    WriteHealth,
    read_health,
)
from services.store.trouble import DISK_FULL, classify, disk_full_message
from services.store.writer import Store
from tests.faults_support import SmallDisk, small_disk
from tests.helpers import batch, record


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 2 MB tmpfs, unmounted afterwards."""
    with small_disk(tmp_path / "disk", "2m") as mounted:
        yield mounted


@pytest.fixture
def store(disk: SmallDisk) -> Iterator[Store]:
    """The writer on a fresh database on the small disk."""
    writer = Store(connect_writer(str(disk.path / "otm.db")))
    yield writer
    writer.conn.close()


def _beat(process: str) -> Heartbeat:
    return Heartbeat(process=process, pid=1, started_at=1.0, sent_at=2.0)


def _totals(conn: sqlite3.Connection) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT coalesce(sum(input), 0), coalesce(sum(output), 0), coalesce(sum(records), 0) "
        "FROM usage_by_slot"
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _big_batch(before: int | None, after: int, prefix: str) -> UsageBatch:
    # Large enough that its transaction cannot fit in what a full disk has left.
    records = [record(f"{prefix}{i}", input=1, output=2, project="p" * 2000) for i in range(50)]
    return batch(records, before, after)


def test_commit_on_a_full_disk_is_a_disk_full_error(disk: SmallDisk, store: Store) -> None:
    """A transaction that needs space on a full disk fails with SQLITE_FULL, classified so."""
    disk.fill()
    with pytest.raises(sqlite3.OperationalError) as failure:
        store.apply([_big_batch(None, 100, "a")])
    assert DISK_FULL == classify(failure.value)


def test_failed_commit_keeps_head_and_commits_nothing(disk: SmallDisk, store: Store) -> None:
    """A batch that cannot be committed leaves the head and the projections as they were."""
    store.apply([_big_batch(None, 100, "a")])
    before = (store.head, _totals(store.conn))
    disk.fill()
    with pytest.raises(sqlite3.OperationalError):
        store.apply([_big_batch(100, 200, "b")])
    assert before == (store.head, _totals(store.conn))
    assert before[0] == store.conn.execute("SELECT max(seq) FROM events").fetchone()[0]


def test_batch_sent_again_after_space_returns_counts_once(disk: SmallDisk, store: Store) -> None:
    """The batch that failed, sent again once space is back, is committed exactly once."""
    store.apply([_big_batch(None, 100, "a")])
    disk.fill()
    second = _big_batch(100, 200, "b")
    with pytest.raises(sqlite3.OperationalError):
        store.apply([second])
    disk.free()
    committed, acks, rejected = store.apply([second])
    again = store.apply([second])
    assert (1, [], []) == (len(committed), acks, rejected)
    assert ([], [committed[0].seq], []) == again
    assert (100, 200, 100) == _totals(store.conn)


def test_heartbeats_wait_in_memory_while_the_disk_is_full(disk: SmallDisk, store: Store) -> None:
    """Heartbeats that cannot be written are kept and written, with their arrival time, later."""
    store.apply([_big_batch(None, 100, "a")])
    disk.fill()
    store.note_heartbeats([_beat(f"process-{i}") for i in range(200)], received_at=123.0)
    with pytest.raises(sqlite3.OperationalError):
        store.save_heartbeats()
    assert 200 == len(store.heartbeats)
    disk.free()
    assert 200 == store.save_heartbeats()
    assert [(200, 123.0)] == store.conn.execute(
        "SELECT count(*), min(received_at) FROM process_status"
    ).fetchall()


def test_health_file_is_written_on_a_full_disk(disk: SmallDisk) -> None:
    """The health file, allocated while there was space, is still overwritten on a full disk."""
    health = HealthFile(disk.path / "store.health")
    assert health.open() is None
    disk.fill()
    assert health.write({"state": DISK_FULL, "message": "disk full", "heartbeats": {"api": 1.0}})
    health.close()
    assert {"state": DISK_FULL, "message": "disk full", "heartbeats": {"api": 1.0}} == read_health(
        disk.path
    )


def test_price_stamp_on_a_full_disk_is_not_an_error(disk: SmallDisk) -> None:
    """The collector's price stamp that cannot be written says so and is written later."""
    stamp = PriceStamp(disk.path, {}, log=False)
    disk.fill()
    assert (False, f"disk full: {stamp.path}, 0.0 MB free") == (
        stamp.mark_current(),
        stamp.problem,
    )
    disk.free()
    assert (True, None, True) == (stamp.mark_current(), stamp.problem, stamp.current)


def test_disk_full_message_names_the_file_and_the_free_space(disk: SmallDisk) -> None:
    """The message is "disk full: <path>, N MB free"."""
    disk.fill()
    assert f"disk full: {disk.path / 'otm.db'}, 0.0 MB free" == disk_full_message(
        disk.path / "otm.db"
    )


def test_retries_back_off_doubling_up_to_the_maximum(tmp_path: Path) -> None:
    """Each failure doubles the wait before the next try, up to ``MAX_RETRY_SECONDS``."""
    health = WriteHealth(tmp_path / "otm.db")
    waits = []
    for _ in range(8):
        health.failed(DISK_FULL, "disk full", now=0.0)
        waits.append(health.next_try)
    assert FIRST_RETRY_SECONDS == waits[0]
    assert [min(FIRST_RETRY_SECONDS * 2**i, MAX_RETRY_SECONDS) for i in range(8)] == waits


def test_only_the_first_failure_and_the_recovery_are_changes(tmp_path: Path) -> None:
    """Repeated failures are one state change (one log line); the next success is another."""
    health = WriteHealth(tmp_path / "otm.db")
    changes = [health.failed(DISK_FULL, "disk full", now=float(i)) for i in range(3)]
    assert [True, False, False] == changes
    assert (True, False) == (health.succeeded(), health.succeeded())


def test_no_write_is_tried_before_the_back_off_ends(tmp_path: Path) -> None:
    """Within the back-off (and with no more space than at the failure) no write is tried."""
    health = WriteHealth(tmp_path / "otm.db")
    health.failed(DISK_FULL, "disk full", now=10.0)
    health.free_at_failure = float("inf")  # space never grows here
    assert (False, True) == (health.may_try(10.1), health.may_try(10.0 + FIRST_RETRY_SECONDS))


def test_space_coming_back_ends_the_back_off_early(disk: SmallDisk) -> None:
    """Once space has grown since the failure, a write is tried without waiting."""
    health = WriteHealth(disk.path / "otm.db")
    disk.fill()
    health.failed(DISK_FULL, "disk full", now=10.0)
    assert not health.may_try(10.1)
    disk.free()
    assert health.may_try(10.1)
