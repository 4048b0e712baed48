"""What the hub's listening processes (bus, store) share: this machine's key pair and the
gate that admits only known agents, with its refusals in the owner's heartbeat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bus.curve import BadKey, KeyPair, load_pair
from services.runtime.config import ConfigError

if TYPE_CHECKING:
    from bus.gate import Gate
    from services.runtime.installation import Runtime
    from services.runtime.lifecycle import Pulse

REFUSED = "refused."
"""Heartbeat counters ``refused.<reason>`` (``unknown_key``, ``no_key``): peers turned away."""


def hub_pair(runtime: Runtime) -> KeyPair:
    """This hub's key pair; ``ConfigError`` with the fix when there is none."""
    try:
        pair = load_pair(runtime.state)
    except BadKey as exc:
        raise ConfigError(str(exc)) from None
    if pair is None:
        raise ConfigError(
            f"[bus] listen is set but this machine has no keys in {runtime.state / 'keys'}: "
            "run `otm keys init` and give the public key it prints to each agent's [bus] hub_key"
        )
    return pair


def open_gate(runtime: Runtime) -> Gate:
    """Start the ZAP authenticator of this process (before any CURVE bind)."""
    from bus.gate import Gate

    gate = Gate(runtime.state)
    gate.start()
    return gate


def count_refusals(gate: Gate | None, pulse: Pulse) -> None:
    """Put the gate's refusals into the heartbeat's counters (``otm status`` shows them)."""
    if gate is None:
        return
    for reason, count in list(gate.refused.items()):
        pulse.counters[REFUSED + reason] = count
