"""An agent's committed cursors, asked of the hub's store on its replay socket (through the
same CURVE authentication as every other socket of the agent)."""

from __future__ import annotations

from bus.client import ReplayClient, StoreUnavailable
from bus.endpoints import Endpoints
from bus.messages import FileCursor

TIMEOUT_MS = 1500
"""Short: the collector's loop waits on it, and an unreachable hub is asked again later."""


class HubCursors:
    """Asks the hub for this machine's committed cursors; None while it does not answer."""

    def __init__(self, where: Endpoints) -> None:
        self.client = ReplayClient(where, timeout_ms=TIMEOUT_MS)
        self.unanswered = 0
        """Requests the hub did not answer (a heartbeat counter of the collector)."""

    def all(self, machine: str) -> dict[str, FileCursor] | None:
        """Every committed cursor of ``machine`` by path, or None if the hub is away."""
        try:
            return self.client.cursors(machine)
        except StoreUnavailable:
            self.unanswered += 1
            return None

    def close(self) -> None:
        """Close the socket."""
        self.client.close()
