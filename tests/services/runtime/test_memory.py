"""Giving freed memory back before a rest that follows work."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from services.runtime.memory import WORK_SECONDS, Rest

HAS_MALLOC_TRIM = hasattr(ctypes.CDLL(None), "malloc_trim")


class Clock:
    """A CPU clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The CPU seconds used so far."""
        return self.now


def test_a_rest_after_enough_work_gives_memory_back() -> None:
    """Work of ``WORK_SECONDS`` CPU time since start makes the next rest call the trim."""
    trims: list[int] = []
    clock = Clock()
    rest = Rest(trim=lambda pad: trims.append(pad) or 1, cpu_clock=clock)
    clock.now += WORK_SECONDS
    assert (True, [0]) == (rest.before_rest(), trims)


def test_a_rest_without_work_since_the_last_trim_does_nothing() -> None:
    """Two rests in a row with no work between them trim once."""
    trims: list[int] = []
    clock = Clock()
    rest = Rest(trim=lambda pad: trims.append(pad) or 1, cpu_clock=clock)
    clock.now += 1.0
    rest.before_rest()
    assert (False, 1) == (rest.before_rest(), len(trims))


def test_a_rest_after_too_little_work_does_nothing() -> None:
    """Less CPU time than ``WORK_SECONDS`` since the last trim: no trim yet."""
    clock = Clock()
    rest = Rest(trim=lambda pad: 1, cpu_clock=clock)
    clock.now += WORK_SECONDS / 2
    assert (False, 0) == (rest.before_rest(), rest.trims)


def test_without_malloc_trim_a_rest_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the C library has no ``malloc_trim`` (macOS, musl) a rest is only a rest."""

    class NoTrim:
        """A C library without malloc_trim."""

        def __init__(self, name: object) -> None:
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoTrim)
    clock = Clock()
    rest = Rest(cpu_clock=clock)
    clock.now += 1.0
    assert (False, 0) == (rest.before_rest(), rest.trims)


FRAGMENTED_HEAP = """
import os
from services.runtime.memory import Rest

def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

rest = Rest(work_seconds=0.0)
# Blocks over 512 bytes go to glibc's malloc; keeping every 16th pins the heap's top, so
# freeing the rest leaves holes that only a trim gives back.
blocks = [bytes(2000) + bytes([i % 256]) for i in range(40_000)]
kept = blocks[::16]
del blocks
before = resident_mb()
rest.before_rest()
print(round(before - resident_mb()))
"""


@pytest.mark.e2e
@pytest.mark.skipif(not HAS_MALLOC_TRIM, reason="the C library has no malloc_trim")
def test_a_rest_after_work_returns_freed_heap_pages_to_the_system() -> None:
    """In a real process, freeing 75 MB of small blocks and resting returns most of them."""
    result = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(result.stdout) >= 50
