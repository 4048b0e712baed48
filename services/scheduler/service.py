"""The scheduler process: a refresh at start and then every ``[scheduler] refresh_seconds``."""

from __future__ import annotations

import time

import structlog

from bus.client import Publisher
from bus.messages import RefreshRequested
from otm.process import Pulse, StopFlag
from otm.runtime import Runtime

PROVIDERS = ("claude", "codex", "gemini")


def run(runtime: Runtime) -> None:
    """Publish periodic refresh requests until SIGTERM."""
    logger = structlog.get_logger().bind(process="scheduler")
    stop = StopFlag()
    publisher = Publisher(runtime.endpoints)
    pulse = Pulse("scheduler", publisher)
    interval = runtime.config.scheduler.refresh_seconds
    logger.info("ready", refresh_seconds=interval, providers=list(PROVIDERS))
    next_refresh = time.monotonic() + min(interval, 2.0)
    try:
        while not stop.wait(min(0.2, pulse.due_in() or 0.2)):
            if time.monotonic() >= next_refresh:
                for provider in PROVIDERS:
                    publisher.publish(
                        RefreshRequested(
                            provider=provider, reason="schedule", requested_at=time.time()
                        )
                    )
                pulse.counters["refreshes_requested"] += 1
                next_refresh = time.monotonic() + interval
            pulse.beat()
    finally:
        logger.info("stopping")
        publisher.close()
