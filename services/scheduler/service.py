"""The scheduler process: the safety-net refresh of the logs, and the live limits cadence.

Every ``[scheduler] refresh_seconds`` it asks for a scan of every provider's logs (a missed
file event still heals). Every ``[limits] poll_seconds``, plus random jitter so many machines
do not ask in step, it asks the collector to poll each provider's live limits; it follows the
committed ``LiveStatus`` so a provider that asked us to wait (``Retry-After``, back-off) is not
asked before then. The collector's gate enforces the same floor whoever asks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

from bus.messages import PROVIDERS, LimitsCommitted, RefreshRequested
from services.runtime.config import LimitsConfig
from services.runtime.installation import Runtime
from services.runtime.runner import Batch, Node, run_service

FIRST_LIVE_POLL_SECONDS = 2.0
STARTUP_REPEATS = (5.0, 15.0)
"""The first request is said again this many seconds after start: a collector still connecting
can miss it (PUB/SUB drops what arrives before the subscription), and the next regular poll is
minutes away. The collector's gate makes a repeat after a poll harmless."""


class LiveCadence:
    """When each provider's live limits are next due (wall-clock seconds)."""

    def __init__(self, config: LimitsConfig, now: float) -> None:
        self.config = config
        self.due = {p: now + FIRST_LIVE_POLL_SECONDS for p in PROVIDERS}
        self.repeats = [now + r for r in STARTUP_REPEATS]

    def interval(self) -> float:
        """The cadence with its jitter: between ``poll_seconds`` and ``(1 + jitter)`` times it."""
        return self.config.poll_seconds * (1 + random.uniform(0, self.config.jitter))

    def take_due(self, now: float) -> list[str]:
        """The providers due now; each is scheduled again one interval later. Every provider
        is due again at each start-up repeat."""
        due = [p for p, at in self.due.items() if at <= now]
        for provider in due:
            self.due[provider] = now + self.interval()
        if self.repeats and self.repeats[0] <= now:
            self.repeats.pop(0)
            due = list(PROVIDERS)
        return due

    def next_due(self) -> float:
        """When the next provider (or start-up repeat) is due (wall-clock seconds)."""
        return min([*self.due.values(), *self.repeats[:1]])

    def committed(self, event: LimitsCommitted) -> None:
        """Follow the collector's back-off: never ask before the status says to."""
        status = event.status
        if status is None or status.next_poll_at is None or event.provider not in self.due:
            return
        self.due[event.provider] = max(self.due[event.provider], status.next_poll_at)


class SchedulerService:
    """Asks for log scans on the safety-net cadence and for live polls on the limits cadence."""

    name = "scheduler"

    def __init__(self, runtime: Runtime) -> None:
        self.interval = runtime.config.scheduler.refresh_seconds
        limits = runtime.config.limits
        self.live = (
            LiveCadence(limits, time.time()) if limits.enabled and not runtime.demo else None
        )
        self.live_poll_seconds = limits.poll_seconds if self.live else None
        self.next_refresh = time.monotonic() + min(self.interval, 2.0)

    def start(self, node: Node) -> Mapping[str, object]:
        """Follow committed limits, to respect the collector's back-off."""
        self.node = node
        node.subscribe(("evt.limits.",))
        return {
            "refresh_seconds": self.interval,
            "providers": list(PROVIDERS),
            "live_poll_seconds": self.live_poll_seconds,
        }

    def handle(self, batch: Batch) -> None:
        """Move a provider's next live poll to when its committed status allows it."""
        for _topic, message in batch:
            if self.live is not None and isinstance(message, LimitsCommitted):
                self.live.committed(message)

    def step(self) -> float:
        """Publish whatever refresh is due; the seconds until the next one."""
        if time.monotonic() >= self.next_refresh:
            for provider in PROVIDERS:
                self.node.publish(_refresh(provider, live=False))
            self.node.pulse.counters["refreshes_requested"] += 1
            self.next_refresh = time.monotonic() + self.interval
        for provider in [] if self.live is None else self.live.take_due(time.time()):
            self.node.publish(_refresh(provider, live=True))
            self.node.pulse.counters["live_polls_requested"] += 1
        wait = self.next_refresh - time.monotonic()
        if self.live is not None:
            wait = min(wait, self.live.next_due() - time.time())
        return max(0.0, wait)

    def stop(self) -> Mapping[str, object]:
        """Nothing to close."""
        return {}


def run(runtime: Runtime) -> None:
    """Publish periodic refresh requests until SIGTERM."""
    run_service(SchedulerService(runtime), runtime)


def _refresh(provider: str, live: bool) -> RefreshRequested:
    return RefreshRequested(
        provider=provider, reason="schedule", requested_at=time.time(), live=live
    )
