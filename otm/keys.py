"""``otm keys``: this machine's CURVE key pair and the agents a hub admits. The secret key is
never printed; only public keys are."""

from __future__ import annotations

import time

from bus.curve import BadKey, admit, admitted, init_pair, load_pair
from bus.endpoints import state_dir


def init() -> int:
    """Make the key pair once (an existing one is kept) and print the public key."""
    try:
        pair, made = init_pair(state_dir())
    except BadKey as exc:
        print(f"error: {exc}")
        return 2
    where = state_dir() / "keys"
    print(pair.public)
    print(
        f"{'made' if made else 'already had'} this machine's keys in {where} "
        "(the secret one is readable by you only)"
    )
    print(
        "on the hub: put this key in each agent's [bus] hub_key; "
        "on an agent: run `otm keys add NAME KEY` on the hub with this key"
    )
    return 0


def add(name: str, key: str) -> int:
    """Admit an agent; a running hub takes it at its next connection."""
    try:
        entry = admit(state_dir(), name, key)
    except BadKey as exc:
        print(f"error: {exc}")
        return 2
    print(f"admitted {entry.name} ({entry.key})")
    return 0


def show() -> int:
    """This machine's public key, then every admitted agent: name, key, when added."""
    try:
        pair = load_pair(state_dir())
        agents = admitted(state_dir())
    except BadKey as exc:
        print(f"error: {exc}")
        return 2
    print(f"this machine  {pair.public if pair else '(no keys: run `otm keys init`)'}")
    if not agents:
        print("no agents admitted (on the hub: `otm keys add NAME KEY`)")
    for agent in agents:
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(agent.added))
        print(f"{agent.name:<14}{agent.key}  added {added}")
    return 0
