"""``otm top``: a live full-screen view of windows, costs, activity and alerts.

Fed by the bus, not by polling: a snapshot first (``otm.top_data``, the API's own queries on a
read-only connection), then a thread follows committed events (``bus.client.EventFollower``)
and the store's heartbeats; each event marks the part of the snapshot it changes, re-queried
after a short debounce. Without a store heartbeat for ``DOWN_AFTER`` seconds the screen says the
stack is not running (and keeps the last numbers); it resumes when heartbeats return.

Keys are read in cbreak mode without echo; the terminal is restored on every way out. When
stdout is not a terminal, one snapshot is printed and the command exits 0.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

from rich.console import Console
from rich.live import Live

from bus.client import EventFollower, Subscriber
from bus.lock import is_held
from bus.messages import PROVIDERS, Heartbeat
from bus.topics import EVENTS, HEARTBEAT
from otm.top_data import Queries, Snapshot, next_change, parts_for
from otm.top_view import Frame, screen
from services.queries.heartbeats import running_store_heartbeats
from services.queries.reports.timezones import local_timezone_name
from services.runtime.installation import Runtime
from services.runtime.lifecycle import SILENT_AFTER_SECONDS
from services.store import log
from services.store.database import connect_reader

DOWN_AFTER = SILENT_AFTER_SECONDS
"""Seconds without a store heartbeat after which the stack counts as not running (a store that
stops on purpose says so in its last beat, seen at once)."""
DEBOUNCE = 0.2
"""Events arriving within this long of each other are applied with one re-query."""
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end the view like ``q`` would (exit 128 + signum; Ctrl-C stays 130)."""
KEYS = {"1": "claude", "2": "codex", "3": "gemini", "a": "all", "0": "all"}


class BusWatch:
    """A thread that follows committed events and the store's heartbeats."""

    def __init__(self, runtime: Runtime, after: int) -> None:
        self.runtime = runtime
        self.after = after
        self._lock = threading.Lock()
        self._parts: set[str] = set()
        self._first_at: float | None = None
        self.last_beat: float | None = None
        self.store_stopped = False
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otm-top-bus", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait (briefly) for the thread."""
        self._stop.set()
        self._thread.join(3.0)

    def running(self, now: float) -> bool:
        """Whether the store answered or beat within ``DOWN_AFTER`` seconds."""
        beat = self.last_beat
        return beat is not None and now - beat < DOWN_AFTER

    def waiting(self, now: float) -> bool:
        """Whether the store has not been heard from yet, but only for less than
        ``DOWN_AFTER`` seconds (and it has not said it stops)."""
        return self.last_beat is None and not self.store_stopped and now - self.started < DOWN_AFTER

    def take(self, now: float) -> set[str]:
        """The parts changed by events, once ``DEBOUNCE`` has passed since the first."""
        with self._lock:
            if self._first_at is None or now - self._first_at < DEBOUNCE:
                return set()
            parts, self._parts, self._first_at = self._parts, set(), None
            return parts

    def _mark(self, parts: set[str]) -> None:
        if not parts:
            return
        with self._lock:
            self._parts |= parts
            if self._first_at is None:
                self._first_at = time.monotonic()

    def _run(self) -> None:
        beats = Subscriber((HEARTBEAT,), self.runtime.endpoints)
        follower = EventFollower((EVENTS,), after=self.after, where=self.runtime.endpoints)
        resets = 0
        try:
            # Idle beats are seconds apart: ask instead of waiting for one. No store holds its
            # lock: none runs. One that answers now is running now.
            if not is_held(self.runtime.lock_path("store")):
                self.store_stopped = True
            elif running_store_heartbeats(self.runtime) is not None:
                self.last_beat = time.monotonic()
            while not self._stop.is_set():
                for _, message in beats.drain():
                    if isinstance(message, Heartbeat) and message.process == "store":
                        self.store_stopped = message.stopping
                        self.last_beat = None if message.stopping else time.monotonic()
                parts: set[str] = set()
                for topic, _ in follower.poll(200):
                    parts |= parts_for(topic)
                if follower.resets != resets:
                    # A new database (rebuilt, or another history): the follower started over
                    # at its head; every part of the snapshot is stale.
                    resets = follower.resets
                    parts.add("all")
                self._mark(parts)
        finally:
            follower.close()
            beats.close()


@contextlib.contextmanager
def keys_mode() -> Iterator[int | None]:
    """stdin in cbreak mode without echo (POSIX), restored on any exit; ``None`` when stdin is
    not a terminal."""
    if not sys.stdin.isatty():
        yield None
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_key(fd: int | None, timeout: float) -> str | None:
    """One key pressed within ``timeout`` seconds, else ``None`` (sleeps without a tty)."""
    if fd is None:
        time.sleep(timeout)
        return None
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        return None
    data = os.read(fd, 32)
    return data.decode(errors="replace")[-1:] if data else None


class Top:
    """The screen's state: the snapshot, the view, and the database when it exists."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tz = local_timezone_name()
        self.snapshot = Snapshot()
        self.view = "all"
        self.conn: sqlite3.Connection | None = None
        self.queries: Queries | None = None
        self.due: float | None = None

    def open(self) -> bool:
        """Open the database read-only (when it exists) and take the whole snapshot."""
        if self.conn is not None:
            return True
        if not self.runtime.db_path.exists():
            return False
        try:
            self.conn = connect_reader(str(self.runtime.db_path))
            self.queries = Queries(self.conn, self.runtime, self.tz)
            self.refresh({"all"})
        except sqlite3.Error:
            self.close()
            return False
        return True

    def watch(self) -> BusWatch:
        """Open the database, then follow the bus from its head (started)."""
        self.open()
        watch = BusWatch(self.runtime, self.head())
        watch.start()
        return watch

    def head(self) -> int:
        """The log's head seq (0 without a database)."""
        if self.conn is None:
            return 0
        try:
            return log.head(self.conn)
        except sqlite3.Error:
            return 0

    def refresh(self, parts: set[str]) -> None:
        """Re-query ``parts``, and note when time alone changes the numbers next."""
        if self.queries is None or not parts:
            return
        try:
            self.queries.refresh(self.snapshot, parts)
        except sqlite3.Error:
            # Locked for longer than the busy time-out, or a database still being created:
            # keep the last numbers and ask again in a second.
            self.due = time.time() + 1.0
            return
        self.due = next_change(self.snapshot, self.queries.stale_seconds)

    def frame(self, running: bool, waiting: bool, console: Console) -> Frame:
        """What the screen shows besides the numbers, at the console's size now."""
        return Frame(
            view=self.view,
            now=time.time(),
            running=running,
            waiting=waiting,
            db_exists=self.conn is not None,
            width=console.size.width,
            height=console.size.height,
            demo=self.runtime.demo,
        )

    def close(self) -> None:
        """Close the database."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.queries = None


def run_top(runtime: Runtime) -> int:
    """Run the live view until ``q`` (0) or Ctrl-C (130); print one snapshot when stdout is not
    a terminal."""
    top = Top(runtime)
    console = Console()
    if not sys.stdout.isatty():
        return _snapshot_once(top, console)
    watch = top.watch()
    previous = {sig: signal.signal(sig, _exit_on_signal) for sig in EXIT_SIGNALS}
    try:
        with keys_mode() as fd, Live(console=console, screen=True, auto_refresh=False) as live:
            return _loop(top, watch, live, console, fd)
    except KeyboardInterrupt:
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        watch.stop()
        top.close()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _loop(top: Top, watch: BusWatch, live: Live, console: Console, fd: int | None) -> int:
    drawn = -1.0
    while True:
        now = time.time()
        top.open()
        parts = watch.take(time.monotonic())
        if top.due is not None and now >= top.due:
            parts.add("all")
        top.refresh(parts)
        running = watch.running(time.monotonic())
        if parts or int(now) != int(drawn):
            frame = top.frame(running, watch.waiting(time.monotonic()), console)
            live.update(screen(top.snapshot, frame), refresh=True)
            drawn = now
        key = read_key(fd, min(0.1, 1.0 - (time.time() % 1.0)))
        if key is None:
            continue
        if key in ("q", "Q"):
            return 0
        view = KEYS.get(key.lower())
        if view is not None and view != top.view:
            top.view = view
            drawn = -1.0


def _snapshot_once(top: Top, console: Console) -> int:
    """Not a terminal: one snapshot of every provider (with the stack's state), then exit."""
    watch = top.watch()
    deadline = time.monotonic() + 1.5
    while not watch.running(time.monotonic()) and time.monotonic() < deadline:
        time.sleep(0.05)
    running = watch.running(time.monotonic())
    watch.stop()
    frame = Frame(
        view="all",
        now=time.time(),
        running=running,
        db_exists=top.conn is not None,
        width=min(console.width, 120),
        height=24 + 6 * len(PROVIDERS),
        demo=top.runtime.demo,
        pad=False,
    )
    console.print(screen(top.snapshot, frame))
    top.close()
    return 0
