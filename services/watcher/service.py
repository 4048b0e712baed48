"""The watcher process: watchfiles on every root, including roots that appear after start.

A change to a transcript becomes ``cmd.refresh.claude`` naming the changed files, within a few
tens of milliseconds (``step``/``debounce`` below). When a root appears or disappears the watch
is restarted on the new set and a full refresh is requested.

In: file events. Work: group them by provider. Out: ``cmd.refresh.<provider>``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import watchfiles

from bus.client import Publisher
from bus.messages import RefreshRequested
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse, StopFlag
from services.runtime.runner import Node, run_blocking_service
from services.runtime.spool import spool_dir

ROOT_CHECK_SECONDS = 0.1
STEP_MS = 10
"""How long watchfiles waits for more changes before yielding a group: the latency floor."""
DEBOUNCE_MS = 50
"""The longest a group of changes is held back while files keep changing."""
LOG_SUFFIXES = (".jsonl", ".json")
"""Claude and Codex write JSONL; Gemini also keeps legacy single-JSON chats."""


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
            if watched:
                node.logger.info("watching", roots=[str(p) for p in watched])
                _watch(watched, self.providers, node.stop, node.publisher, node.pulse)
            else:
                node.stop.wait(ROOT_CHECK_SECONDS)

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
    restart = threading.Event()
    roots = list(providers)

    def monitor() -> None:
        # Ends the watch on SIGTERM, or when the set of existing roots changes.
        while not restart.wait(0.1):
            if stop.stopped or _existing(roots) != watched:
                restart.set()

    threading.Thread(target=monitor, daemon=True).start()
    # A full refresh whenever the set of roots changes; said again a little later because a
    # command published right after start-up can miss a subscriber that is still connecting
    # (refreshes are idempotent, and the scheduler's safety net is a minute away).
    started = time.monotonic()
    full_refresh_at = [started + 1.0, started + 3.0]
    watched_providers = sorted({providers[r] for r in watched})
    for provider in watched_providers:
        publisher.publish(_refresh(provider, ()))
    try:
        for changes in watchfiles.watch(
            *watched,
            stop_event=restart,
            step=STEP_MS,
            debounce=DEBOUNCE_MS,
            rust_timeout=200,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            while full_refresh_at and full_refresh_at[0] <= time.monotonic():
                full_refresh_at.pop(0)
                for provider in watched_providers:
                    publisher.publish(_refresh(provider, ()))
            by_provider = _changed_logs(changes, providers)
            for provider, paths in sorted(by_provider.items()):
                publisher.publish(_refresh(provider, tuple(sorted(paths))))
                pulse.counters["refreshes_requested"] += 1
    finally:
        restart.set()


def _changed_logs(
    changes: set[tuple[watchfiles.Change, str]], providers: dict[Path, str]
) -> dict[str, set[str]]:
    """Changed (not deleted) log files, grouped by the provider whose root holds them."""
    out: dict[str, set[str]] = {}
    for kind, path in changes:
        if kind == watchfiles.Change.deleted or not path.endswith(LOG_SUFFIXES):
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
