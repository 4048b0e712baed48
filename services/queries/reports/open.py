"""Opening the database for a one-shot report: read-only if the stack runs, else catch up first."""

from __future__ import annotations

import contextlib
import sqlite3

from bus.lock import AlreadyRunning, is_held
from services.runtime.installation import Runtime
from services.store.database import connect_reader, connect_writer


def open_for_report(runtime: Runtime) -> sqlite3.Connection:
    """A read-only connection to an up-to-date database.

    With the stack running the store keeps it current, so we only read. Without it, we take the
    store's lock and ingest what is new in this process first (incrementally, from the
    committed cursors), so a report never shows stale numbers.
    """
    if not is_held(runtime.lock_path("store")):
        from services.queries.catchup import catch_up

        # If the store started meanwhile, it is catching up for us.
        with contextlib.suppress(AlreadyRunning):
            catch_up(runtime)
    if not runtime.db_path.exists():
        connect_writer(str(runtime.db_path)).close()
    return connect_reader(str(runtime.db_path))
