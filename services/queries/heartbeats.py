"""The latest heartbeat of each process of the stack: from the running store's memory, else
from ``process_status``.

The store writes heartbeats down only now and then (a new process or pid, every few minutes,
at stop), so the table alone is stale while the stack runs; the store answers a
``HeartbeatsRequest`` on its replay socket with what it heard last. When no store answers in
time (none runs, or an older one), the table is what there is.
"""

from __future__ import annotations

import sqlite3

import msgspec

from bus.client import ReplayClient, StoreUnavailable
from bus.lock import is_held
from bus.messages import Heartbeat
from services.processes import PROCESSES
from services.runtime.installation import Runtime

ASK_TIMEOUT_MS = 500
"""How long to wait for the running store (it answers from memory within milliseconds)."""
_heartbeat_decoder = msgspec.msgpack.Decoder(Heartbeat)
_known = frozenset(p.name for p in PROCESSES)


def latest_heartbeats(
    runtime: Runtime, conn: sqlite3.Connection | None, *, every_machine: bool = False
) -> list[tuple[Heartbeat, float]]:
    """Each known process's latest heartbeat and when the store received it, by process name:
    the running store's answer, or (none answering) the rows of ``process_status`` in
    ``conn`` (none without a connection). Only this machine's processes (a heartbeat naming
    no machine is this one's), unless ``every_machine``."""
    beats = running_store_heartbeats(runtime)
    if beats is None:
        beats = saved_heartbeats(conn) if conn is not None else []
    here = runtime.machine.id
    return sorted(
        (
            (beat, received)
            for beat, received in beats
            if beat.process in _known and (every_machine or beat.machine in ("", here))
        ),
        key=lambda entry: (entry[0].process, entry[0].machine),
    )


def running_store_heartbeats(
    runtime: Runtime, timeout_ms: int = ASK_TIMEOUT_MS
) -> list[tuple[Heartbeat, float]] | None:
    """What the running store heard last from each process; None if no store runs or it
    does not answer within ``timeout_ms``."""
    if not is_held(runtime.lock_path("store")):
        return None
    client = ReplayClient(runtime.endpoints, timeout_ms=timeout_ms)
    try:
        return client.heartbeats()
    except StoreUnavailable:
        return None
    finally:
        client.close()


def saved_heartbeats(conn: sqlite3.Connection) -> list[tuple[Heartbeat, float]]:
    """The heartbeats the store last wrote into ``process_status``."""
    return [
        (_heartbeat_decoder.decode(blob), float(received))
        for blob, received in conn.execute("SELECT heartbeat, received_at FROM process_status")
    ]
