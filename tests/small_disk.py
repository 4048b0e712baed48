"""A real, small file system for the full-disk tests: a tmpfs of a given size, filled up with
one file and freed again by deleting it.

Mounting needs root (CI runs the tests as root); elsewhere the tests that need it are
skipped, saying so. Imported by its full name, ``tests.small_disk``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
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
