"""The bus process: the XSUB/XPUB forwarder, plus its own heartbeat so ``otm status`` sees it.

In: nothing. Work: forward every frame (in the forwarder's own thread). Out: heartbeats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bus.forwarder import Forwarder
from services.runtime.hub import count_refusals, hub_pair, open_gate
from services.runtime.installation import Runtime
from services.runtime.runner import Batch, Node, run_service

if TYPE_CHECKING:
    # Only a hub opens a gate, and pyzmq's authenticator runs an asyncio loop: on one machine
    # neither it nor asyncio is imported.
    from bus.gate import Gate

REFUSALS_SECONDS = 5.0
"""On a hub, how often the gate's refusal counts are copied into the heartbeat."""
NOTHING_DUE_SECONDS = 3600.0
"""Elsewhere nothing is ever due: only the heartbeat wakes the loop."""


class BusService:
    """Runs the forwarder; refuses to start if another forwarder holds the lock."""

    name = "bus"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.gate: Gate | None = None
        self.forwarder = Forwarder(runtime.endpoints, runtime.state)

    def start(self, node: Node) -> Mapping[str, object]:
        """Bind the forwarder's endpoints (on a hub, also the tcp ones agents reach)."""
        self.node = node
        listen = self.runtime.listen
        if listen is not None:
            self.forwarder.pair = hub_pair(self.runtime)
            self.gate = self.forwarder.gate = open_gate(self.runtime)
            self.forwarder.listen = listen
        self.forwarder.start()
        endpoints = node.runtime.endpoints
        node.pulse.detail["publish"] = endpoints.publish
        node.pulse.detail["subscribe"] = endpoints.subscribe
        fields = {"publish": endpoints.publish, "subscribe": endpoints.subscribe}
        if listen is not None:
            node.pulse.detail["listen"] = listen.publish
            fields["listen"] = listen.publish
        return fields

    def handle(self, batch: Batch) -> None:
        """The bus subscribes to nothing."""

    def step(self) -> float:
        """Nothing is due but the refusal counts: the forwarder works in its own thread."""
        if self.gate is None:
            return NOTHING_DUE_SECONDS
        count_refusals(self.gate, self.node.pulse)
        return REFUSALS_SECONDS

    def stop(self) -> Mapping[str, object]:
        """Unbind the endpoints."""
        self.forwarder.stop()
        if self.gate is not None:
            self.gate.stop()
        return {}


def run(runtime: Runtime) -> None:
    """Forward until SIGTERM."""
    run_service(BusService(runtime), runtime)
