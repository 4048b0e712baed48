"""Knowing when the running pipeline has ingested a whole corpus, by reading the store's database.

The criterion: every transcript's committed cursor sits at the file's end. The store commits a
batch's records, its projections and its file cursor in one transaction, so once every cursor
covers every byte, the projections hold every record, and nothing is left in flight (a batch in
flight has not moved its cursor). This holds whatever the batching, and needs no heartbeat
timing; unlike "sum(records) stopped changing", it cannot stop early during a pause.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from bench.corpus import FileId
from bus.client import ReplayClient, StoreUnavailable
from bus.endpoints import endpoints
from bus.messages import FileCursor, Heartbeat

POLL_SECONDS = 0.025
_cursor_decoder = msgspec.msgpack.Decoder(FileCursor)
_heartbeat_decoder = msgspec.msgpack.Decoder(Heartbeat)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a read-only query; empty while the database or its tables do not exist yet."""
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def missing_bytes(db: Path, files: dict[FileId, int]) -> int:
    """Bytes of ``files`` (size by identity) not yet covered by a committed cursor."""
    committed: dict[FileId, int] = {}
    for (blob,) in query(db, "SELECT cursor FROM cursors"):
        cursor = _cursor_decoder.decode(blob)
        committed[(cursor.dev, cursor.ino)] = cursor.offset
    return sum(size - min(size, committed.get(fid, 0)) for fid, size in files.items())


def wait_ingested(
    db: Path, files: dict[FileId, int], timeout: float, check: Callable[[], None]
) -> float:
    """Poll until every byte of ``files`` is committed; return the monotonic time it was seen.

    ``check`` runs on every poll (it raises if a process died).
    """
    deadline = time.monotonic() + timeout
    while True:
        if missing_bytes(db, files) == 0:
            return time.monotonic()
        check()
        if time.monotonic() > deadline:
            left = missing_bytes(db, files)
            raise TimeoutError(f"ingest not done after {timeout:.0f} s ({left} bytes left)")
        time.sleep(POLL_SECONDS)


def projection_records(db: Path) -> int:
    """Records counted in the usage projection."""
    rows = query(db, "SELECT coalesce(sum(records), 0) FROM usage_by_slot")
    return int(rows[0][0]) if rows else 0


def head_seq(db: Path) -> int:
    """The event log's head seq."""
    rows = query(db, "SELECT coalesce(max(seq), 0) FROM events")
    return int(rows[0][0]) if rows else 0


def counters(db: Path) -> dict[str, dict[str, int]]:
    """Each process's counters from its latest heartbeat (what ``otm status`` shows): the
    running store's (it keeps them in memory), else the ones it last wrote down."""
    client = ReplayClient(endpoints(db.parent), timeout_ms=1000)
    try:
        return {beat.process: dict(beat.counters) for beat, _at in client.heartbeats()}
    except StoreUnavailable:
        rows = query(db, "SELECT process, heartbeat FROM process_status ORDER BY process")
        return {str(name): dict(_heartbeat_decoder.decode(blob).counters) for name, blob in rows}
    finally:
        client.close()
