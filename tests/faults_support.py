"""Real faults for the tests: a small file system that fills up, and a database file damaged
by random bytes over its pages.

The small disk is a tmpfs of a given size, filled up with one file and freed again by deleting
it. Mounting needs root (CI runs the tests as root); elsewhere the tests that need it are
skipped, saying so. Imported by its full name, ``tests.faults_support``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FILLER = "filler"
CHUNKS = (1 << 20, 64 << 10, 4 << 10, 512, 1)
"""Write sizes tried in turn until none fits: the disk is then full to the last byte."""


class SmallDisk:
    """A mounted tmpfs at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def filler(self) -> Path:
        """The file that fills the disk."""
        return self.path / FILLER

    @property
    def free_bytes(self) -> int:
        """Bytes free on the disk right now."""
        return shutil.disk_usage(self.path).free

    def fill(self) -> None:
        """Write to the filler until not one more byte fits."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in CHUNKS:
                block = b"\0" * size
                while True:
                    try:
                        os.write(fd, block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)

    def free(self) -> None:
        """Delete the filler: the space is back."""
        self.filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[SmallDisk]:
    """A tmpfs of ``size`` (``mount -o size=``, e.g. ``4m``) mounted at ``path`` for the block;
    the test is skipped with the reason when it cannot be mounted (not root, no tmpfs)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("a full disk is tested on a real tmpfs, and mounting one needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs at {path}: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(path)
    finally:
        # Lazy: a process the test started may still hold a file open while it exits.
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def table_pages(path: Path, table: str) -> list[int]:
    """The pages of ``path`` holding ``table`` (numbered from 1, as SQLite does), in order."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno", (table,))
        return [int(pageno) for (pageno,) in rows]
    finally:
        conn.close()


def middle(pages: list[int], count: int = 3) -> list[int]:
    """``count`` pages from the middle of ``pages``."""
    start = len(pages) // 2
    return pages[start : start + count]


def scribble(path: Path, pages: list[int], seed: int = 1) -> None:
    """Write random bytes over whole pages of the file."""
    rng = random.Random(seed)
    size = page_size(path)
    with path.open("r+b") as file:
        for page in pages:
            file.seek((page - 1) * size)
            file.write(rng.randbytes(size))


def page_size(path: Path) -> int:
    """The database's page size."""
    conn = sqlite3.connect(path)
    try:
        (size,) = conn.execute("PRAGMA page_size").fetchone()
        return int(size)
    finally:
        conn.close()


def checkpoint(path: Path) -> None:
    """Move everything in the write-ahead log into the database file itself, so damage done to
    the file is damage to the data."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        (busy, _frames, _moved) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    assert 0 == busy, f"{path}: the checkpoint could not finish"
