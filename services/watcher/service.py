"""The watcher process: inotify (through watchdog) on every root, and on the nearest existing
parent of every missing root, so roots that appear after start are seen without polling.

A change to a transcript becomes ``cmd.refresh.claude`` naming the changed files, within a few
tens of milliseconds (``STEP_MS``/``DEBOUNCE_MS`` below). When a root appears or disappears the
watch is restarted on the new set and a full refresh is requested. While nothing changes the
process does not wake at all (only its heartbeat, once a second).

In: file events. Work: group them by provider. Out: ``cmd.refresh.<provider>``.
"""

from __future__ import annotations

import enum
import os
import queue
import select
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from bus.client import Publisher
from bus.messages import RefreshRequested
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse, StopFlag
from services.runtime.runner import Node, run_blocking_service
from services.runtime.spool import spool_dir

STEP_MS = 10
"""How long a group of changes waits quietly for more before it is published."""
DEBOUNCE_MS = 50
"""The longest a group of changes is held back while files keep changing."""
OBSERVER_TIMEOUT_SECONDS = 60.0
"""How long watchdog's dispatcher waits for an event before looking again (its default, 1 s,
wakes an idle watcher every second; a stop reaches it at once through its queue)."""
LOG_SUFFIXES = (".jsonl", ".json")
"""Claude and Codex write JSONL; Gemini also keeps legacy single-JSON chats."""


class Change(enum.Enum):
    """What happened to a path, as far as the watcher cares."""

    added = "added"
    modified = "modified"
    deleted = "deleted"
    folder = "folder"
    """A folder came, went or changed: only a reason to look at the roots again."""


EVENT_KINDS = {
    "created": Change.added,
    "modified": Change.modified,
    "moved": Change.added,
    "closed": Change.modified,
    "deleted": Change.deleted,
}
"""watchdog's event types that matter (opening a file or closing it unwritten do not)."""
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileModifiedEvent,
    DirModifiedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
]
"""What the kernel is asked to report: without a filter inotify also reports every open and
every close of a file read (IN_OPEN, IN_CLOSE_NOWRITE), so a first scan of the whole history
by the collector (and every run of another tool reading the logs) cost the watcher a Python
event per file read, only to be dropped."""


class WatcherService:
    """Turns file events under every root (and the spool) into refresh requests."""

    name = "watcher"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.providers = {r: p for p, rs in runtime.roots.items() for r in rs}
        # `otm statusline` drops Claude's rate limits here for the collector to publish.
        self.spool = spool_dir(runtime.state)
        self.providers[self.spool] = "claude"

    def start(self, node: Node) -> Mapping[str, object]:
        """Create the spool folder so it can be watched from the start."""
        self.node = node
        self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        return {"roots": {p: [str(r) for r in rs] for p, rs in self.runtime.roots.items()}}

    def serve(self) -> None:
        """Watch the roots that exist until SIGTERM, restarting the watch when that set changes."""
        node = self.node
        roots = list(self.providers)
        while not node.stop.stopped:
            watched = _existing(roots)
            node.pulse.detail["watching"] = ", ".join(str(p) for p in watched) or "(no root yet)"
            node.logger.info("watching", roots=[str(p) for p in watched])
            _watch(watched, self.providers, node.stop, node.publisher, node.pulse)

    def stop(self) -> Mapping[str, object]:
        """Nothing to close."""
        return {}


def run(runtime: Runtime) -> None:
    """Watch every provider's roots until SIGTERM."""
    run_blocking_service(WatcherService(runtime), runtime)


def _watch(
    watched: list[Path],
    providers: dict[Path, str],
    stop: StopFlag,
    publisher: Publisher,
    pulse: Pulse,
) -> None:
    """Publish refreshes for changed logs until a stop, or until the set of existing roots
    (or the parents watched for missing ones) changes: the caller then watches again."""
    roots = list(providers)
    plan = _plan(roots)
    events: queue.SimpleQueue[tuple[Change, str] | None] = queue.SimpleQueue()
    observer = Observer(timeout=OBSERVER_TIMEOUT_SECONDS)
    handler = _Forward(events)
    for path, recursive in plan:
        observer.schedule(handler, str(path), recursive=recursive, event_filter=EVENT_FILTER)
    observer.start()
    release = _wake_on_stop(stop, events)
    # A full refresh whenever the set of roots changes; said again a little later because a
    # command published right after start-up can miss a subscriber that is still connecting
    # (refreshes are idempotent, and the scheduler's safety net is a minute away).
    started = time.monotonic()
    full_refresh_at = [started + 1.0, started + 3.0]
    watched_providers = sorted({providers[r] for r in watched})
    for provider in watched_providers:
        publisher.publish(_refresh(provider, ()))
    try:
        # The plan changes whenever a root comes or goes (or a parent of a missing one appears);
        # checked before the first wait too, for a folder made between planning and scheduling.
        while not stop.stopped and _plan(roots) == plan:
            timeout = full_refresh_at[0] - time.monotonic() if full_refresh_at else None
            changes = _next_group(events, timeout)
            if changes is None:
                break
            while full_refresh_at and full_refresh_at[0] <= time.monotonic():
                full_refresh_at.pop(0)
                for provider in watched_providers:
                    publisher.publish(_refresh(provider, ()))
            by_provider = _changed_logs(changes, providers)
            for provider, paths in sorted(by_provider.items()):
                publisher.publish(_refresh(provider, tuple(sorted(paths))))
                pulse.counters["refreshes_requested"] += 1
    finally:
        release()
        observer.stop()
        observer.join()


class _Forward(FileSystemEventHandler):
    """Hands each file event to the watch loop as ``(Change, path)``."""

    def __init__(self, events: queue.SimpleQueue[tuple[Change, str] | None]) -> None:
        self.events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Queue what the loop needs: changes of files, and that folders came or went."""
        kind = EVENT_KINDS.get(event.event_type)
        if kind is None:
            return
        path = event.dest_path if event.event_type == "moved" else event.src_path
        self.events.put((Change.folder if event.is_directory else kind, os.fsdecode(path)))


def _wake_on_stop(
    stop: StopFlag, events: queue.SimpleQueue[tuple[Change, str] | None]
) -> Callable[[], None]:
    """A thread that puts ``None`` on ``events`` once a stop is asked; call the result to end
    it without one. It blocks in ``select`` on the stop flag's pipe: no timed wake-ups."""
    done_read, done_write = os.pipe()

    def wait() -> None:
        ready, _, _ = select.select([stop.fileno(), done_read], [], [])
        if stop.fileno() in ready or stop.stopped:
            events.put(None)

    thread = threading.Thread(target=wait, name="watcher-stop", daemon=True)
    thread.start()

    def release() -> None:
        os.write(done_write, b"!")
        thread.join(1.0)
        os.close(done_write)
        if not thread.is_alive():
            os.close(done_read)

    return release


def _next_group(
    events: queue.SimpleQueue[tuple[Change, str] | None], timeout: float | None
) -> set[tuple[Change, str]] | None:
    """The next group of changes: waits up to ``timeout`` (None: for ever) for a first one,
    then gathers more until ``STEP_MS`` pass quietly or ``DEBOUNCE_MS`` since the first.
    An empty set when the wait timed out; None once a stop was asked."""
    changes: set[tuple[Change, str]] = set()
    try:
        first = events.get(timeout=None if timeout is None else max(0.0, timeout))
    except queue.Empty:
        return changes
    if first is None:
        return None
    changes.add(first)
    deadline = time.monotonic() + DEBOUNCE_MS / 1000
    while (left := deadline - time.monotonic()) > 0:
        try:
            more = events.get(timeout=min(left, STEP_MS / 1000))
        except queue.Empty:
            break
        if more is None:
            return None
        changes.add(more)
    return changes


def _changed_logs(
    changes: set[tuple[Change, str]], providers: dict[Path, str]
) -> dict[str, set[str]]:
    """Changed (not deleted) log files, grouped by the provider whose root holds them."""
    out: dict[str, set[str]] = {}
    for kind, path in changes:
        if kind in (Change.deleted, Change.folder) or not path.endswith(LOG_SUFFIXES):
            continue
        for root, provider in providers.items():
            if path.startswith(str(root) + os.sep):
                out.setdefault(provider, set()).add(path)
                break
    return out


def _refresh(provider: str, paths: tuple[str, ...]) -> RefreshRequested:
    return RefreshRequested(
        provider=provider, reason="files", requested_at=time.time(), paths=paths
    )


def _existing(roots: Sequence[Path]) -> list[Path]:
    return [r for r in roots if r.is_dir()]


def _plan(roots: Sequence[Path]) -> list[tuple[Path, bool]]:
    """What to watch, as ``(folder, recursive)``: every existing root with all below it, and
    for each missing root the nearest folder above it that exists, on its own, so that the
    root (or the next folder down to it) is seen the moment it is made."""
    plan: list[tuple[Path, bool]] = []
    for root in roots:
        if root.is_dir():
            entry = (root, True)
        else:
            parent = next((p for p in root.parents if p.is_dir()), None)
            if parent is None:
                continue
            entry = (parent, False)
        if entry not in plan:
            plan.append(entry)
    return plan
