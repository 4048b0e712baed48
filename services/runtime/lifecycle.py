"""The parts of a process's life the runner uses: the stop flag (SIGTERM/SIGINT) and the
heartbeat with its counters."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections import Counter

from bus.client import Publisher
from bus.messages import Heartbeat

HEARTBEAT_SECONDS = 1.0
"""How soon a beat follows a change of the counters, details or log head."""
IDLE_HEARTBEAT_SECONDS = 5.0
"""How often a process beats while nothing it reports changes: every beat wakes each
subscriber of the bus (and ZeroMQ's threads), so an idle stack beats rarely."""
SILENT_AFTER_SECONDS = 2 * IDLE_HEARTBEAT_SECONDS + 1.0
"""A process whose last beat is older than this is taken for stopped: two idle beats missed."""
HEARTBEAT_SLACK_SECONDS = 0.002
STARTUP_HEARTBEAT_SECONDS = 0.1
STARTUP_SECONDS = 3.0
"""Beat fast just after start: the first beats may be lost while connections form, and peers
(the collector waits for the store's) should not wait a whole second to hear from us."""


class StopFlag:
    """Set by SIGTERM or SIGINT. A loop blocked in ``wait`` returns at once, and one blocked in
    a poll returns as soon as ``fileno()`` (registered in that poll) becomes readable: no loop
    needs to wake up just to look at the flag."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        if threading.current_thread() is threading.main_thread():
            # Signals reach only the main thread; a service run in a test's thread is stopped
            # with ``set`` instead.
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.set()

    def set(self) -> None:
        """Ask the loop to stop (and wake whatever waits on ``fileno()``)."""
        self._event.set()
        with contextlib.suppress(OSError):  # full (already woken) or closed
            os.write(self._write, b"!")

    def fileno(self) -> int:
        """A file descriptor that becomes readable once a stop is requested."""
        return self._read

    def wait(self, seconds: float | None) -> bool:
        """Sleep up to ``seconds`` (None: until stopped); True if a stop was requested."""
        return self._event.wait(seconds)

    @property
    def stopped(self) -> bool:
        """Whether a stop was requested."""
        return self._event.is_set()

    def __del__(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


class Pulse:
    """Publishes this process's heartbeat, with its counters: within a second of a change of
    what it reports, else every ``IDLE_HEARTBEAT_SECONDS``.

    After start-up the beats fall on whole seconds of the wall clock (idle ones on whole
    multiples of ``IDLE_HEARTBEAT_SECONDS``), in every process alike: the store then receives
    the whole stack's heartbeats together and handles them in one wake-up instead of one per
    process."""

    def __init__(self, process: str, publisher: Publisher, machine: str = "") -> None:
        self.process = process
        self.machine = machine
        self.publisher = publisher
        self.started_at = time.time()
        self.counters: Counter[str] = Counter()
        self.detail: dict[str, str] = {}
        self.head_seq: int | None = None
        """The store's log head, announced in its heartbeat (only the store sets it)."""
        self._next = 0.0
        self._next_idle = 0.0
        self._said: tuple[int | None, dict[str, int], dict[str, str]] | None = None
        self._born = time.monotonic()

    def due_in(self) -> float:
        """Seconds until the next heartbeat is due (0 if it is due now)."""
        return max(0.0, self._due() - time.monotonic())

    def beat(self, force: bool = False, stopping: bool = False) -> None:
        """Publish a heartbeat if one is due (or ``force``); ``stopping`` marks the last one."""
        now = time.monotonic()
        if not force and not stopping and now < self._due():
            return
        young = now - self._born < STARTUP_SECONDS
        self._next = now + (STARTUP_HEARTBEAT_SECONDS if young else _to_next(HEARTBEAT_SECONDS))
        self._next_idle = now + _to_next(IDLE_HEARTBEAT_SECONDS)
        self._said = (self.head_seq, dict(self.counters), dict(self.detail))
        self.publisher.publish(
            Heartbeat(
                process=self.process,
                pid=os.getpid(),
                started_at=self.started_at,
                sent_at=time.time(),
                head_seq=self.head_seq,
                counters=self._said[1],
                detail=self._said[2],
                stopping=stopping,
                machine=self.machine,
            )
        )

    def _due(self) -> float:
        """The monotonic time the next beat is due: soon after a change (or while young), else
        at the next idle beat."""
        if self._said is None or time.monotonic() - self._born < STARTUP_SECONDS:
            return self._next
        said_head, said_counters, said_detail = self._said
        changed = (
            self.head_seq != said_head
            or self.counters != said_counters
            or self.detail != said_detail
        )
        return self._next if changed else self._next_idle


def _to_next(period: float) -> float:
    """Seconds from now to the next whole multiple of ``period`` on the wall clock (a little
    past it, so a wake-up rounded early still finds the beat due)."""
    now = time.time()
    return math.floor(now / period) * period + period + HEARTBEAT_SLACK_SECONDS - now
