"""What went wrong with the database, in words for people: a full disk or a damaged file.

Every process that touches the database (the store, the api, one-shot commands) names a
problem the same way, with the file and the fix, so the person reads one sentence wherever
it surfaces.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

DISK_FULL = "disk_full"
DAMAGED = "damaged"
UNWRITABLE = "unwritable"
"""A write failed for another reason of the disk's (an I/O error): retried like a full disk."""

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT} if hasattr(errno, "EDQUOT") else {errno.ENOSPC}
_MB = 1_000_000
LOW_SPACE_MB = 1.0
QUICK_CHECK_LINES = 5
"""How many of ``PRAGMA quick_check``'s findings are kept (the first ones name the damage)."""


def classify(exc: BaseException) -> str | None:
    """``DISK_FULL``, ``DAMAGED``, ``UNWRITABLE`` or None (not the disk's or the file's fault,
    so a bug: let it surface)."""
    if isinstance(exc, OSError):
        return DISK_FULL if exc.errno in _FULL_ERRNOS else None
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if primary == sqlite3.SQLITE_FULL:
        return DISK_FULL
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return DAMAGED
    if primary == sqlite3.SQLITE_IOERR:
        return UNWRITABLE
    return None


def classify_at(exc: BaseException, path: Path) -> str | None:
    """``classify``, with an I/O error on a disk that has (next to) no space left called a full
    disk: that is what it is (SQLite reports a ``-shm`` it cannot grow as an I/O error)."""
    kind = classify(exc)
    if kind == UNWRITABLE and free_mb(path) < LOW_SPACE_MB:
        return DISK_FULL
    return kind


def free_mb(path: Path) -> float:
    """Megabytes free on the file system holding ``path`` (its folder if it does not exist)."""
    folder = path if path.is_dir() else path.parent
    try:
        return shutil.disk_usage(folder).free / _MB
    except OSError:
        return 0.0


def disk_full_message(path: Path) -> str:
    """``disk full: <path>, N MB free``."""
    return f"disk full: {path}, {free_mb(path):.1f} MB free"


def damaged_message(path: Path) -> str:
    """The one sentence for a damaged database, with the fix."""
    return f"the database {path} is damaged: run `otm store recover`"


def unwritable_message(path: Path, exc: BaseException) -> str:
    """The one sentence for another write failure of the disk's."""
    return f"cannot write {path}: {exc}"


def describe(kind: str, path: Path, exc: BaseException) -> str:
    """The sentence for a problem of ``kind`` (from ``classify``)."""
    if kind == DISK_FULL:
        return disk_full_message(path)
    if kind == DAMAGED:
        return damaged_message(path)
    return unwritable_message(path, exc)


def quick_check(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA quick_check``'s findings: empty when the file is sound, else its first few
    lines (a damaged file may also raise ``sqlite3.DatabaseError`` here)."""
    rows = conn.execute(f"PRAGMA quick_check({QUICK_CHECK_LINES})").fetchall()
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found
