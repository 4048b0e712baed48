"""``otm up``'s progress bar for the first ingest, fed by the collector's heartbeat counters
(``ingest_*``: files, bytes and records of the ingest running since reading had new bytes).

``IngestWatch`` decides, from heartbeats alone, when a bar starts, moves and ends and what the
"caught up" line says; ``Bar`` is the rich progress bar it drives (or, off a terminal, one line
when the ingest starts). Nothing to ingest: no bar and no line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

if TYPE_CHECKING:
    from bus.endpoints import Endpoints

LATER_INGEST_BYTES = 20_000_000
"""After the first ingest only one at least this big gets a bar again (a stack stays quiet)."""


@dataclass(frozen=True)
class Ingest:
    """One ingest as the collector's heartbeat counters describe it."""

    run: int
    files: int
    files_done: int
    size: int
    size_read: int
    records: int
    active: bool

    @classmethod
    def of(cls, counters: Mapping[str, int]) -> Ingest | None:
        """The ingest in a collector's counters (None from a collector that reports none)."""
        if "ingest_run" not in counters:
            return None
        return cls(
            run=counters["ingest_run"],
            files=counters.get("ingest_files", 0),
            files_done=counters.get("ingest_files_done", 0),
            size=counters.get("ingest_bytes", 0),
            size_read=counters.get("ingest_bytes_read", 0),
            records=counters.get("ingest_records", 0),
            active=bool(counters.get("ingest_active", 0)),
        )


def plural(count: int, word: str) -> str:
    """``1 file``, ``12,345 files``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def megabytes(size: float) -> str:
    """A size in MB, one decimal (at least 0.1 MB for anything non-empty)."""
    mb = size / 1_000_000
    return f"{max(mb, 0.1) if size else 0.0:.1f} MB"


def started_text(ingest: Ingest) -> str:
    """The ingest started (said instead of a bar when the output is not a terminal)."""
    return f"reading {plural(ingest.files, 'file')}, {megabytes(ingest.size)}…"


def done_text(ingest: Ingest, seconds: float | None) -> str:
    """The ingest is read and committed: what it read, and how fast when that is known."""
    text = (
        f"caught up: {plural(ingest.files, 'file')}, {megabytes(ingest.size)}, "
        f"{plural(ingest.records, 'record')}"
    )
    if seconds is None:
        return text
    rate = f", {megabytes(ingest.size / seconds)}/s" if seconds >= 0.5 else ""
    return f"{text} in {seconds:.1f} s{rate}"


class IngestWatch:
    """Heartbeats in; a bar for the first ingest (and any later big one) and a "caught up"
    line once it is committed out."""

    def __init__(self, bar: Bar, say: Callable[[str], None], clock: Callable[[], float]) -> None:
        self.bar = bar
        self.say = say
        self.clock = clock
        self.first_done = False
        self.showing: int | None = None
        """The run the bar shows."""
        self.began = 0.0
        self.last: Ingest | None = None

    def heard(self, ingest: Ingest) -> None:
        """A collector heartbeat with these figures arrived."""
        if self.showing is not None and (ingest.run != self.showing or not ingest.active):
            self._finish(ingest if ingest.run == self.showing else self.last)
        if self.showing is None and ingest.active and self._worth_a_bar(ingest):
            self.showing, self.began = ingest.run, self.clock()
            self.bar.begin(ingest)
        elif self.showing is None and not self.first_done and not ingest.active and ingest.size:
            # The whole first ingest fell between two heartbeats: still say it is done.
            self._finish(ingest, timed=False)
        elif self.showing is not None:
            self.bar.update(ingest)
        self.last = ingest

    def _worth_a_bar(self, ingest: Ingest) -> bool:
        return ingest.size > 0 and (not self.first_done or ingest.size >= LATER_INGEST_BYTES)

    def _finish(self, ingest: Ingest | None, timed: bool = True) -> None:
        self.bar.end()
        if ingest is not None:
            self.say(done_text(ingest, self.clock() - self.began if timed else None))
        self.showing = None
        self.first_done = True


class Bar:
    """A rich progress bar of one ingest: files, MB, records, rate (on a terminal only)."""

    def __init__(self, console: Console, say: Callable[[str], None], live: bool) -> None:
        self.console = console
        self.say = say
        self.live = live
        self.lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def begin(self, ingest: Ingest) -> None:
        """Show the bar; off a terminal, say the ingest started."""
        if not self.live:
            self.say(started_text(ingest))
            return
        with self.lock:
            self._progress = Progress(
                TextColumn("reading"),
                BarColumn(bar_width=16),
                TextColumn("{task.fields[files]}"),
                DownloadColumn(),
                TextColumn("{task.fields[records]}"),
                TransferSpeedColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._progress.add_task(
                "ingest", total=max(ingest.size, 1), files="", records=""
            )
            self._progress.start()
        self.update(ingest)

    def update(self, ingest: Ingest) -> None:
        """Move the bar to these figures."""
        with self.lock:
            if self._progress is None or self._task is None:
                return
            self._progress.update(
                self._task,
                total=max(ingest.size, 1),
                completed=ingest.size_read,
                files=f"{ingest.files_done:,}/{ingest.files:,} files",
                records=plural(ingest.records, "record"),
            )

    def end(self) -> None:
        """Take the bar away."""
        with self.lock:
            if self._progress is not None:
                self._progress.stop()
            self._progress, self._task = None, None


def listen(endpoints: Endpoints, watch: IngestWatch, stop: threading.Event) -> None:
    """Feed ``watch`` the collector's heartbeats until ``stop`` is set (a thread's body)."""
    from bus.client import Subscriber
    from bus.messages import Heartbeat
    from bus.topics import HEARTBEAT

    beats = Subscriber((HEARTBEAT,), endpoints)
    try:
        while not stop.is_set():
            item = beats.recv(200)
            if item is None or not isinstance(item[1], Heartbeat):
                continue
            if item[1].process == "collector":
                ingest = Ingest.of(item[1].counters)
                if ingest is not None:
                    watch.heard(ingest)
    finally:
        beats.close()
        watch.bar.end()
