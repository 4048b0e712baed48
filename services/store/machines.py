"""The machines of the store: its own (configuration) and every machine seen (a projection).

Events logged before machines were kept carry no machine; they belong to the store's own
machine, whose id is recorded once in ``store_machine`` and never changes, so a replay of the
log (``otm store rebuild``) gives them the same machine again.
"""

from __future__ import annotations

import sqlite3

import msgspec

from bus.messages import FileCursor
from services.runtime.machine import Machine

_cursor_decoder = msgspec.msgpack.Decoder(FileCursor)


def keep_store_machine(conn: sqlite3.Connection, machine: Machine) -> None:
    """Record the store's own machine: its id only if none is recorded (it never changes),
    its name always (``[machine] name`` may change). Inside the caller's transaction if one
    is open (a migration), else one of its own."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT OR IGNORE INTO store_machine (name, value) VALUES ('id', ?)", (machine.id,)
    )
    conn.execute(
        "INSERT OR REPLACE INTO store_machine (name, value) VALUES ('name', ?)", (machine.name,)
    )
    if own:
        conn.execute("COMMIT")


def store_machine(conn: sqlite3.Connection) -> Machine:
    """The store's own machine as recorded (id ``""`` in a database never given one)."""
    values = dict(conn.execute("SELECT name, value FROM store_machine").fetchall())
    return Machine(str(values.get("id", "")), str(values.get("name", "")))


def resolve(conn: sqlite3.Connection, machine: str) -> str:
    """The machine id an event or observation means: its own, or (empty) the store's."""
    return machine or store_machine(conn).id


def committed_cursors(conn: sqlite3.Connection, machine: str) -> dict[str, FileCursor]:
    """Every committed file cursor of one machine, by path (what an agent resumes from)."""
    return {
        str(path): _cursor_decoder.decode(blob)
        for path, blob in conn.execute(
            "SELECT path, cursor FROM cursors WHERE machine = ?", (resolve(conn, machine),)
        )
    }
