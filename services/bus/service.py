"""The ``bus`` process: the forwarder, plus its own heartbeat so ``otm status`` can see it."""

from __future__ import annotations

import structlog

from bus.client import Publisher
from bus.forwarder import Forwarder
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse, StopFlag


def run(runtime: Runtime) -> None:
    """Forward until SIGTERM. Refuses to start if another forwarder holds the lock."""
    logger = structlog.get_logger().bind(process="bus")
    stop = StopFlag()
    forwarder = Forwarder(runtime.endpoints, runtime.state)
    forwarder.start()
    publisher = Publisher(runtime.endpoints)
    pulse = Pulse("bus", publisher)
    pulse.detail["publish"] = runtime.endpoints.publish
    pulse.detail["subscribe"] = runtime.endpoints.subscribe
    logger.info("ready", publish=runtime.endpoints.publish, subscribe=runtime.endpoints.subscribe)
    try:
        while not stop.wait(0.2):
            pulse.beat()
    finally:
        logger.info("stopping")
        publisher.close()
        forwarder.stop()
