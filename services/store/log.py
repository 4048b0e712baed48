"""The append-only event log: a global, gapless ``seq`` and the exact bytes that were published."""

from __future__ import annotations

import sqlite3
import time


def head(conn: sqlite3.Connection) -> int:
    """The highest committed ``seq``, 0 for an empty log."""
    (value,) = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
    return int(value)


def append(conn: sqlite3.Connection, seq: int, topic: str, body: bytes) -> None:
    """Insert one event; the caller owns the transaction and picked ``seq`` = head + 1."""
    conn.execute(
        "INSERT INTO events (seq, topic, body, committed_at) VALUES (?, ?, ?, ?)",
        (seq, topic, body, time.time()),
    )


def after(
    conn: sqlite3.Connection, seq: int, prefix: str = "evt.", limit: int = 1000
) -> list[tuple[int, str, bytes]]:
    """Up to ``limit`` events with ``seq`` greater than the given one, topic-filtered, in order."""
    # A range on topic uses no index here, but seq order is the primary key so the scan stops
    # after `limit` matches; prefix filtering by LIKE would mis-handle '_' and '%' in topics.
    rows = conn.execute(
        "SELECT seq, topic, body FROM events WHERE seq > ? AND substr(topic, 1, ?) = ? "
        "ORDER BY seq LIMIT ?",
        (seq, len(prefix), prefix, limit),
    ).fetchall()
    return [(int(s), str(t), bytes(b)) for s, t, b in rows]
