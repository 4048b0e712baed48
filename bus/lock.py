"""An exclusive, advisory, per-process lock file: the OS frees it when the process dies."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType


class AlreadyRunning(Exception):
    """Another live process holds the lock."""


class ProcessLock:
    """Hold ``path`` exclusively for the lifetime of this object (or process)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> ProcessLock:
        """Take the lock or raise ``AlreadyRunning`` naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(f"{self.path} is held by pid {holder}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock back (closing the descriptor releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ProcessLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def is_held(path: Path | str) -> bool:
    """Whether some live process holds the lock at ``path`` right now."""
    # os.path, not Path.exists: a one-shot report need not import pathlib for this.
    if not os.path.exists(path):
        return False
    try:
        with ProcessLock(path):
            return False
    except AlreadyRunning:
        return True


def _lock_fd(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
