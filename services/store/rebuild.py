"""Dropping every projection and replaying the log into fresh ones (``otm store rebuild``).

Projections are a pure function of the log (DESIGN.md invariant 3); this is the proof, and the
repair tool after a change to how projections are built.
"""

from __future__ import annotations

import sqlite3

from bus.codec import Garbage, UnknownType, decode
from services.store import projections
from services.store.schema import PROJECTION_TABLES

PAGE = 5000


def rebuild_connection(conn: sqlite3.Connection) -> int:
    """Rebuild inside one transaction on an open writer connection."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        replayed = replay_into_projections(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT (a full disk) has rolled back already
            conn.execute("ROLLBACK")
        raise
    return replayed


def replay_into_projections(conn: sqlite3.Connection) -> int:
    """Empty every projection and replay the log into it, inside the caller's transaction;
    return the events replayed."""
    replayed = 0
    for table in PROJECTION_TABLES:
        conn.execute(f"DELETE FROM {table}")
    last = 0
    while True:
        rows = conn.execute(
            "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (last, PAGE)
        ).fetchall()
        if not rows:
            break
        for seq, body in rows:
            last = seq
            try:
                projections.apply(conn, decode(body))
            except (UnknownType, Garbage):
                continue  # a newer otm's event type: it projects nothing we know of
            replayed += 1
    return replayed
