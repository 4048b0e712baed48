"""Giving freed memory back to the system when a process goes to rest after work.

A first scan, a replay or a burst of requests leaves a process's heap with many free holes:
Python hands each freed block back to the C allocator, but glibc's malloc keeps the pages
unless the free space is at the very top of its heap. An idle stack kept 25-30 MB that way
after catching up with 300 MB of history (8 MB in the notifier alone), so its memory grew with
the history although nothing in it still used those pages.

``malloc_trim(0)`` returns every whole free page (also in the middle of the heap, with
``madvise``). It walks the heap (well under a millisecond here) and the pages it returns
fault in again when used, so a process calls it only before a rest, and only when it did some
work since the last one (measured in CPU time, so every kind of work counts and no caller has
to count its own).

Where there is no glibc (macOS, musl) there is nothing to call, and rest does nothing.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

WORK_SECONDS = 0.02
"""CPU seconds of work since the last trim that make the next rest trim. Small, because the
last stretch of a long work (after a pause in the middle) frees as much as the rest; an idle
process's heartbeats reach it in a minute or two."""


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # no glibc: the allocator is not glibc's malloc
        return None
    return function


class Rest:
    """A process's rests: ``before_rest`` gives freed memory back after enough work."""

    def __init__(
        self,
        work_seconds: float = WORK_SECONDS,
        trim: Callable[[int], int] | None = None,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self.work_seconds = work_seconds
        self._trim = trim if trim is not None else _malloc_trim()
        self._cpu_clock = cpu_clock
        self._cpu_at_trim = cpu_clock()
        self.trims = 0
        """How many times memory was given back (for tests and the curious)."""

    def before_rest(self) -> bool:
        """The process is about to sleep: give freed memory back if it worked enough since the
        last time; whether it did."""
        now = self._cpu_clock()
        if self._trim is None or now - self._cpu_at_trim < self.work_seconds:
            return False
        self._trim(0)
        # Measured after the trim: its own walk of the heap is not work to trim after.
        self._cpu_at_trim = self._cpu_clock()
        self.trims += 1
        return True
