"""Opening the store's database: the single writer's connection (migrated, projections
replayed when a migration reshaped them) and read-only connections for every other process.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.runtime.machine import local_machine
from services.store.machines import keep_store_machine
from services.store.rebuild import rebuild_connection, replay_into_projections
from services.store.schema import MIGRATIONS, apply_migrations
from services.store.trouble import DAMAGED, classify_at, quick_check


def migrate(conn: sqlite3.Connection, state: Path | None = None) -> int:
    """Bring the database to the newest schema version and return that version.

    With ``state`` (the folder holding the database), the store's own machine is recorded
    first if the database has none yet: the replay after a migration gives events logged
    before machines were kept to it."""
    rebuild = apply_migrations(conn)  # leaves its transaction open when it migrated
    try:
        if state is not None:
            keep_store_machine(conn, local_machine(state))
        if rebuild:
            replay_into_projections(conn)  # the log is the source of truth
        if conn.in_transaction:
            conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
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
        migrate(conn, None if path == ":memory:" else Path(path).parent)
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


@dataclass(frozen=True)
class Opened:
    """The writer's connection after an integrity check at start."""

    conn: sqlite3.Connection | None
    """None when the file could not even be opened (``problem`` says why)."""
    findings: tuple[str, ...] = ()
    """What ``PRAGMA quick_check`` found: empty when the file is sound."""
    problem: str | None = None
    """``trouble.DAMAGED``, ``trouble.DISK_FULL`` or ``trouble.UNWRITABLE`` when not sound."""
    error: BaseException | None = None
    seconds: float = 0.0


def open_checked(path: str) -> Opened:
    """The writer's connection (``connect_writer``) and ``PRAGMA quick_check``'s findings.

    A damaged file, or a disk too full to open it, is returned as a problem rather than
    raised, so the store can stay up and say so; anything else is raised."""
    began = time.monotonic()
    try:
        conn = connect_writer(path)
    except sqlite3.Error as exc:
        kind = classify_at(exc, Path(path))
        if kind is None:
            raise
        return Opened(None, (str(exc),), kind, exc, time.monotonic() - began)
    try:
        findings = tuple(quick_check(conn))
    except sqlite3.DatabaseError as exc:
        findings = (str(exc),)
    problem = DAMAGED if findings else None
    return Opened(conn, findings, problem, None, time.monotonic() - began)


def damaged_name(path: Path, at: datetime) -> Path:
    """Where ``otm store recover`` moves a damaged database: ``otm.db.damaged-<UTC time>``."""
    return path.with_name(f"{path.name}.damaged-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}")


def move_aside(path: Path, at: datetime) -> list[tuple[Path, Path]]:
    """Rename the database and its ``-wal`` and ``-shm`` to ``damaged_name`` (each keeping its
    suffix, so SQLite can still open the copy with its write-ahead log); the moves made."""
    target = damaged_name(path, at)
    moves = []
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            destination = target.with_name(target.name + suffix)
            source.rename(destination)
            moves.append((source, destination))
    return moves
