"""A hub and an agent on one machine, as two stacks with their own state folders, over tcp
with CURVE: counting, refusing strangers, and nothing lost when the hub or the link is away."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import msgspec
import pytest
import zmq

from bench.stack import free_port_run
from bus.curve import CurveClient
from bus.messages import HeartbeatsRequest
from services.demo.corpus.claude import Manifest, append_live
from tests.e2e.corpus_support import expected_totals, totals_with
from tests.e2e.hub_support import (
    AGENT_PROCESSES,
    HUB_PROCESSES,
    hub_and_agent,
    start_proxy,
)
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def pair(tmp_path: Path, corpus: tuple[Path, Manifest]):  # type: ignore[no-untyped-def]
    """A hub and an agent (not started) reading the small corpus."""
    hub, agent, base = hub_and_agent(tmp_path, corpus[0])
    yield hub, agent, base
    agent.stop_all()
    hub.stop_all()


def _refusals(hub: Stack) -> dict[str, int]:
    """The refusal counters of every hub process, summed, from ``otm status --json``."""
    done = hub.otm("status", "--json")
    total: dict[str, int] = {}
    for process in json.loads(done.stdout)["processes"]:
        for key, value in process["counters"].items():
            if key.startswith("refused."):
                total[key] = total.get(key, 0) + value
    return total


def test_agent_history_is_counted_on_the_hub(
    pair: tuple[Stack, Stack, int], corpus: tuple[Path, Manifest]
) -> None:
    """An agent's whole history reaches the hub's database, every record once."""
    hub, agent, _base = pair
    hub.start(*HUB_PROCESSES)
    agent.start(*AGENT_PROCESSES)
    expected = expected_totals(corpus[1])
    wait_until(lambda: hub.token_totals() == expected, 60, f"hub totals {expected}")
    assert expected == hub.token_totals()
    assert not agent.db_path.exists()


def test_unknown_key_and_plain_socket_are_refused_and_counted(
    pair: tuple[Stack, Stack, int],
) -> None:
    """A CURVE peer with a key the hub never admitted and a plain peer both get no answer
    from the replay socket, and both refusals show in `otm status`."""
    hub, _agent, base = pair
    hub.start(*HUB_PROCESSES)
    hub_key = (hub.home / "keys" / "machine.key").read_text().strip()
    stranger = [key.decode() for key in zmq.curve_keypair()]
    context = zmq.Context.instance()
    answered, peers = [], []
    for keys in (CurveClient(stranger[0], stranger[1], hub_key), None):
        sock = context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        if keys is not None:
            keys.apply(sock)
        sock.connect(f"tcp://127.0.0.1:{base + 2}")
        sock.send(msgspec.msgpack.encode(HeartbeatsRequest()))
        answered.append(bool(sock.poll(1500)))
        peers.append(sock)

    def counted() -> dict[str, int] | None:
        seen = _refusals(hub)
        both = seen.get("refused.unknown_key", 0) > 0 and seen.get("refused.no_key", 0) > 0
        if not both:
            # Knock again as a misconfigured agent would: a plain peer's first connection is
            # now and then never seen by the hub's listener (docs/NEXT.md, unexplained).
            plain = context.socket(zmq.REQ)
            plain.setsockopt(zmq.LINGER, 0)
            plain.connect(f"tcp://127.0.0.1:{base + 2}")
            plain.send(msgspec.msgpack.encode(HeartbeatsRequest()))
            answered.append(bool(plain.poll(500)))
            peers.append(plain)
        return seen if both else None

    try:
        seen = wait_until(counted, 30, "both refusals in otm status")
    finally:
        for sock in peers:
            sock.close(0)
    assert ([False] * len(answered), True) == (
        answered,
        {"refused.no_key", "refused.unknown_key"} <= set(seen),
    )


@pytest.mark.timeout(150)
def test_hub_stopped_during_appends_loses_nothing(
    pair: tuple[Stack, Stack, int], corpus: tuple[Path, Manifest]
) -> None:
    """Records appended while the hub is down are all counted, once, after it is back."""
    hub, agent, _base = pair
    hub.start(*HUB_PROCESSES)
    agent.start(*AGENT_PROCESSES)
    expected = expected_totals(corpus[1])
    wait_until(lambda: hub.token_totals() == expected, 60, "first ingest")
    rng = random.Random(7)
    added = append_live(corpus[0], rng)
    hub.stop("store")
    hub.stop("bus")
    for _ in range(5):
        added += append_live(corpus[0], rng)
        time.sleep(0.5)
    hub.start(*HUB_PROCESSES)
    added += append_live(corpus[0], rng)
    want = totals_with(expected, added)
    try:
        wait_until(lambda: hub.token_totals() == want, 60, f"hub totals {want}")
    except AssertionError:
        print("HUB", hub.token_totals(), "COLLECTOR", agent.log("collector")[-3000:])
        raise
    assert want == hub.token_totals()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_link_cut_for_minutes_during_appends_loses_nothing(
    tmp_path: Path, corpus: tuple[Path, Manifest]
) -> None:
    """With a tcp proxy between agent and hub that stops forwarding (frozen: a dead link only
    heartbeats can notice), then dies and comes back, every record appended meanwhile is
    counted once."""
    proxy_base = free_port_run(3)
    hub, agent, base = hub_and_agent(tmp_path, corpus[0], agent_port=proxy_base)
    proxy = start_proxy(proxy_base, base, tmp_path / "proxy.log")
    try:
        hub.start(*HUB_PROCESSES)
        agent.start(*AGENT_PROCESSES)
        expected = expected_totals(corpus[1])
        wait_until(lambda: hub.token_totals() == expected, 60, "first ingest")
        rng = random.Random(11)
        added = []
        proxy.send_signal(signal.SIGSTOP)  # the link goes silent, no FIN, no RST
        for _ in range(16):
            added += append_live(corpus[0], rng)
            time.sleep(5)
        proxy.kill()  # the frozen proxy dies: its connections are reset
        proxy.wait()
        for _ in range(8):
            added += append_live(corpus[0], rng)
            time.sleep(5)
        proxy = start_proxy(proxy_base, base, tmp_path / "proxy.log")
        added += append_live(corpus[0], rng)
        want = totals_with(expected, added)
        wait_until(lambda: hub.token_totals() == want, 60, f"hub totals {want}")
        assert want == hub.token_totals()
    finally:
        proxy.kill()
        proxy.wait()
        agent.stop_all()
        hub.stop_all()
