"""Opening the database for a one-shot report: read-only if the stack runs, else catch up first.

``open_for_report`` is the whole rule, from a loaded runtime. ``open_from_snapshot`` is the same
rule for ``otm report``'s fast path, which has not loaded the config: it trusts the place the last
catch-up recorded (``catchup_snapshot``) while what decides that place is unchanged, and answers
``None`` whenever the full rule has to run.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

from bus.lock import AlreadyRunning, is_held
from services.queries import catchup_snapshot as snapshots

TYPE_CHECKING = False
if TYPE_CHECKING:
    from services.runtime.installation import Runtime

BUSY_TIMEOUT_MS = 5000
"""As ``services.store.database.connect_reader``."""


def open_for_report(runtime: Runtime) -> sqlite3.Connection:
    """A read-only connection to an up-to-date database.

    With the stack running the store keeps it current, so we only read. Without it, we take the
    store's lock and ingest what is new in this process first (incrementally, from the
    committed cursors; not at all when nothing changed since the last catch-up), so a report
    never shows stale numbers.
    """
    from services.store.database import connect_reader, connect_writer

    if not is_held(runtime.lock_path("store")):
        from services.queries.catchup import catch_up_if_changed

        # If the store started meanwhile, it is catching up for us.
        with contextlib.suppress(AlreadyRunning):
            catch_up_if_changed(runtime)
    else:
        _remember_place(runtime)
    if not runtime.db_path.exists():
        connect_writer(str(runtime.db_path)).close()
    return connect_reader(str(runtime.db_path))


def _remember_place(runtime: Runtime) -> None:
    """With the stack running, still record where everything is (once), so the next report can
    skip loading the config."""
    from services.queries.catchup import report_roots, save_snapshot

    saved = snapshots.load(str(runtime.state))
    if saved is not None and saved.get("key") == snapshots.place_key(str(runtime.state)):
        return
    save_snapshot(runtime, report_roots(runtime), [], None, None)


def open_from_snapshot(state: str) -> tuple[sqlite3.Connection, bool, str] | None:
    """A read-only connection to an up-to-date database, whether it is the demo's and its
    path, if the snapshot allows answering without the config and without catching up; else
    ``None``."""
    saved = snapshots.load(state)
    if saved is None or saved.get("key") != snapshots.place_key(state):
        return None
    place = saved.get("place")
    if not isinstance(place, dict):
        return None
    db, lock, demo = place.get("db"), place.get("lock"), place.get("demo")
    if not isinstance(db, str) or not isinstance(lock, str) or not isinstance(demo, bool):
        return None
    if is_held(lock):
        conn = read_only(db)
        return None if conn is None else (conn, demo, db)
    if not snapshots.unchanged_inputs(saved, state):
        return None
    conn = read_only(db)
    if conn is None:
        return None
    try:
        head = snapshots.head_of(conn)
    except sqlite3.Error:
        head = None
    if head is None or head != saved.get("head"):
        conn.close()
        return None
    return conn, demo, db


def read_only(path: str) -> sqlite3.Connection | None:
    """``connect_reader`` without its imports (the store's schema and codec), for a database a
    previous command already made private; ``None`` if it cannot be opened."""
    if not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except sqlite3.Error:
        return None
    return conn
