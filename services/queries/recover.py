"""``otm store recover``: a damaged database moved aside and a fresh one rebuilt from the logs.

The CLIs' logs are the source of truth for usage, so a fresh database caught up from them
(the same in-process catch-up the one-shot commands run) holds the same records, tokens and
dollars as the damaged one did. What only the old file knew (the live limits history, alerts
already raised) is not rebuilt: the next live poll brings the limits back.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bus.lock import ProcessLock
from services.queries.catchup import CatchUp, Progress, catch_up_locked
from services.runtime.installation import Runtime
from services.store.database import connect_reader, move_aside
from services.store.trouble import quick_check


class NothingToRecover(Exception):
    """The database passed ``PRAGMA quick_check`` and ``--force`` was not given."""


@dataclass(frozen=True)
class Recovered:
    """What one recovery did."""

    moved: list[tuple[Path, Path]]
    """Each file moved aside: (from, to)."""
    done: CatchUp
    seconds: float


def soundness(db_path: Path) -> list[str]:
    """``PRAGMA quick_check``'s findings on the database (empty: it looks sound)."""
    if not db_path.exists():
        return []
    try:
        conn = connect_reader(str(db_path))
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    try:
        return quick_check(conn)
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()


def recover(
    runtime: Runtime,
    *,
    force: bool = False,
    moved: Callable[[list[tuple[Path, Path]]], None] | None = None,
    progress: Progress | None = None,
    at: datetime | None = None,
) -> Recovered:
    """Holding the store's lock the whole time: move the database aside (then ``moved`` is
    told what moved where), create a fresh one and catch it up from the logs (``progress``
    hears after each transaction). Raises ``AlreadyRunning`` while the store runs, and
    ``NothingToRecover`` for a database that passes quick_check, unless ``force``."""
    began = time.monotonic()
    with ProcessLock(runtime.lock_path("store")):
        if runtime.db_path.exists() and not force and not soundness(runtime.db_path):
            raise NothingToRecover(str(runtime.db_path))
        moves = move_aside(runtime.db_path, at or datetime.now(UTC))
        if moved is not None:
            moved(moves)
        done = catch_up_locked(runtime, progress=progress)
    return Recovered(moved=moves, done=done, seconds=time.monotonic() - began)
