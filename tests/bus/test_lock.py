"""ProcessLock: one holder at a time, freed by release (or by the holder's death)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bus.lock import AlreadyRunning, ProcessLock, is_held


def test_second_holder_is_refused(tmp_path: Path) -> None:
    """While one ProcessLock holds a path, acquiring it again raises AlreadyRunning."""
    with ProcessLock(tmp_path / "x.lock"), pytest.raises(AlreadyRunning):
        ProcessLock(tmp_path / "x.lock").acquire()


def test_refusal_names_the_holders_pid(tmp_path: Path) -> None:
    """The AlreadyRunning message names the pid written by the holder."""
    with (
        ProcessLock(tmp_path / "x.lock"),
        pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"),
    ):
        ProcessLock(tmp_path / "x.lock").acquire()


def test_release_lets_the_next_holder_in(tmp_path: Path) -> None:
    """After release the same path can be acquired again."""
    first = ProcessLock(tmp_path / "x.lock").acquire()
    first.release()
    second = ProcessLock(tmp_path / "x.lock").acquire()
    second.release()


def test_context_manager_releases_on_exit(tmp_path: Path) -> None:
    """Leaving the ``with`` block frees the lock."""
    with ProcessLock(tmp_path / "x.lock"):
        pass
    assert not is_held(tmp_path / "x.lock")


def test_release_twice_is_harmless(tmp_path: Path) -> None:
    """Releasing an already released lock does nothing."""
    lock = ProcessLock(tmp_path / "x.lock").acquire()
    lock.release()
    lock.release()
    assert not is_held(tmp_path / "x.lock")


def test_is_held_while_held(tmp_path: Path) -> None:
    """is_held is True while a holder has the lock."""
    with ProcessLock(tmp_path / "x.lock"):
        assert is_held(tmp_path / "x.lock")


def test_is_held_false_without_a_lock_file(tmp_path: Path) -> None:
    """is_held is False (and creates nothing) when the lock file does not exist."""
    assert not is_held(tmp_path / "x.lock")
    assert not (tmp_path / "x.lock").exists()


def test_is_held_false_after_release(tmp_path: Path) -> None:
    """A lock file left behind by a released lock is not held."""
    ProcessLock(tmp_path / "x.lock").acquire().release()
    assert not is_held(tmp_path / "x.lock")


def test_is_held_does_not_take_the_lock(tmp_path: Path) -> None:
    """Asking is_held leaves the lock free for the next holder."""
    ProcessLock(tmp_path / "x.lock").acquire().release()
    is_held(tmp_path / "x.lock")
    with ProcessLock(tmp_path / "x.lock") as lock:
        assert lock.path == tmp_path / "x.lock"


@pytest.mark.e2e
def test_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    """The OS frees the lock when its holder dies without releasing it (kill -9)."""
    script = (
        "import sys, time; from pathlib import Path; from bus.lock import ProcessLock; "
        "ProcessLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "x.lock")], stdout=subprocess.PIPE
    )
    try:
        assert b"held\n" == holder.stdout.readline()  # type: ignore[union-attr]
        assert is_held(tmp_path / "x.lock")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    assert not is_held(tmp_path / "x.lock")
