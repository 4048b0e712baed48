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

import structlog

from bus.client import Publisher, Subscriber
from bus.messages import PROVIDERS, LimitsCommitted, RefreshRequested
from services.runtime.config import LimitsConfig
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse, StopFlag

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

    def committed(self, event: LimitsCommitted) -> None:
        """Follow the collector's back-off: never ask before the status says to."""
        status = event.status
        if status is None or status.next_poll_at is None or event.provider not in self.due:
            return
        self.due[event.provider] = max(self.due[event.provider], status.next_poll_at)


def run(runtime: Runtime) -> None:
    """Publish periodic refresh requests until SIGTERM."""
    logger = structlog.get_logger().bind(process="scheduler")
    stop = StopFlag()
    publisher = Publisher(runtime.endpoints)
    subscriber = Subscriber(("evt.limits.",), runtime.endpoints)
    pulse = Pulse("scheduler", publisher)
    interval = runtime.config.scheduler.refresh_seconds
    limits = runtime.config.limits
    live = LiveCadence(limits, time.time()) if limits.enabled and not runtime.demo else None
    logger.info(
        "ready",
        refresh_seconds=interval,
        providers=list(PROVIDERS),
        live_poll_seconds=limits.poll_seconds if live else None,
    )
    next_refresh = time.monotonic() + min(interval, 2.0)
    try:
        while not stop.stopped:
            received = subscriber.recv(int(1000 * min(0.2, pulse.due_in() or 0.2)))
            while received is not None:
                if live is not None and isinstance(received[1], LimitsCommitted):
                    live.committed(received[1])
                received = subscriber.recv(0)
            if time.monotonic() >= next_refresh:
                for provider in PROVIDERS:
                    publisher.publish(_refresh(provider, live=False))
                pulse.counters["refreshes_requested"] += 1
                next_refresh = time.monotonic() + interval
            for provider in [] if live is None else live.take_due(time.time()):
                publisher.publish(_refresh(provider, live=True))
                pulse.counters["live_polls_requested"] += 1
            pulse.beat()
    finally:
        logger.info("stopping")
        subscriber.close()
        publisher.close()


def _refresh(provider: str, live: bool) -> RefreshRequested:
    return RefreshRequested(
        provider=provider, reason="schedule", requested_at=time.time(), live=live
    )
