"""Opening the store's database: the single writer's connection (migrated, projections
replayed when a migration reshaped them) and read-only connections for every other process.
"""

from __future__ import annotations

import os
import sqlite3

from services.store.rebuild import rebuild_connection
from services.store.schema import MIGRATIONS, apply_migrations


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest schema version and return that version."""
    if apply_migrations(conn):
        rebuild_connection(conn)  # the log is the source of truth
    return len(MIGRATIONS)


SIDE_FILES = ("", "-wal", "-shm", "-journal")
"""The database and the files SQLite keeps next to it (they hold the same rows)."""
PRIVATE_FILE = 0o600


def make_private(path: str, create: bool) -> None:
    """Keep the database and its side files to their owner: create it 0600 when ``create`` (SQLite
    gives the -wal and -shm files the database's own mode), and take group and other bits off
    any of them this user owns (another user's file is left alone for ``otm doctor`` to report)."""
    if os.name != "posix":
        return
    if create:
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
        except OSError:
            return  # sqlite3 says why it cannot open it, in its own words
    for suffix in SIDE_FILES:
        try:
            info = os.stat(path + suffix)
            if info.st_uid == os.geteuid() and info.st_mode & 0o077:
                os.chmod(path + suffix, info.st_mode & 0o700)
        except OSError:
            continue  # not there (or gone meanwhile): nothing to tighten


def connect_writer(path: str) -> sqlite3.Connection:
    """The single writer's connection: WAL, migrated, transactions managed by hand."""
    make_private(path, create=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode can lose the last commits on power loss but never corrupts;
    # cursors are committed with their records, so a lost commit is simply re-read.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    try:
        migrate(conn)
    except RuntimeError as exc:
        conn.close()
        raise RuntimeError(f"{path}: {exc}") from None
    return conn


def connect_reader(path: str) -> sqlite3.Connection:
    """A read-only connection for other processes; fails if the database does not exist."""
    make_private(path, create=False)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def rebuild(path: str) -> int:
    """``otm store rebuild``: rebuild the projections of the database at ``path``; return the
    events replayed."""
    conn = connect_writer(path)
    try:
        return rebuild_connection(conn)
    finally:
        conn.close()
