"""The bus process: the XSUB/XPUB forwarder, plus its own heartbeat so ``otm status`` sees it.

In: nothing. Work: forward every frame (in the forwarder's own thread). Out: heartbeats.
"""

from __future__ import annotations

from collections.abc import Mapping

from bus.forwarder import Forwarder
from services.runtime.installation import Runtime
from services.runtime.runner import Batch, Node, run_service

IDLE_SECONDS = 1.0


class BusService:
    """Runs the forwarder; refuses to start if another forwarder holds the lock."""

    name = "bus"

    def __init__(self, runtime: Runtime) -> None:
        self.forwarder = Forwarder(runtime.endpoints, runtime.state)

    def start(self, node: Node) -> Mapping[str, object]:
        """Bind the forwarder's endpoints."""
        self.forwarder.start()
        endpoints = node.runtime.endpoints
        node.pulse.detail["publish"] = endpoints.publish
        node.pulse.detail["subscribe"] = endpoints.subscribe
        return {"publish": endpoints.publish, "subscribe": endpoints.subscribe}

    def handle(self, batch: Batch) -> None:
        """The bus subscribes to nothing."""

    def step(self) -> float:
        """Nothing is due: the forwarder works in its own thread."""
        return IDLE_SECONDS

    def stop(self) -> Mapping[str, object]:
        """Unbind the endpoints."""
        self.forwarder.stop()
        return {}


def run(runtime: Runtime) -> None:
    """Forward until SIGTERM."""
    run_service(BusService(runtime), runtime)
