"""``otm status`` and the bus: garbage every reader drops, heartbeats of unknown processes.

The stack's own processes run for real (``tests.e2e.stack``); the garbage comes from a bare PUB
socket on the real forwarder, as any process of the same user could send it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from bus.client import ReplayClient, StoreUnavailable
from bus.codec import encode
from bus.endpoints import endpoints
from bus.messages import Heartbeat, UsageCommitted
from bus.topics import topic_for
from services.processes import PROCESSES
from tests.e2e.stack import Stack, wait_until
from tests.helpers import cursor

pytestmark = pytest.mark.e2e

KNOWN = {p.name for p in PROCESSES}
COMMIT = UsageCommitted(seq=1, batch_id="b", provider="claude", source="/a", cursor=cursor(1))
HEARTBEAT = encode(Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0))
GARBAGE = (
    [b"cmd.refresh.claude", b"\xc1 not msgpack"],
    [b"cmd.refresh.claude", encode(COMMIT)],  # a commit sent as a command
    [b"evt.limits.claude", b"\xc1 not msgpack"],
    [b"evt.usage.claude", HEARTBEAT],  # a heartbeat sent as a commit
)


@pytest.fixture
def forger(stack: Stack) -> Iterator[zmq.Socket[bytes]]:
    """A bare PUB socket on the stack's bus, queueing whatever it is given."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(endpoints(stack.home).publish)
    yield sock
    sock.close()


def status(stack: Stack) -> dict[str, Any]:
    """``otm status --json``."""
    out: dict[str, Any] = json.loads(stack.otm("status", "--json").stdout)
    return out


def store_counter(stack: Stack, name: str) -> int:
    """A counter of the store's latest heartbeat, as the running store has it."""
    client = ReplayClient(endpoints(stack.home), timeout_ms=2000)
    try:
        beats = {beat.process: beat for beat, _at in client.heartbeats()}
    except StoreUnavailable:
        return 0
    finally:
        client.close()
    return int(beats["store"].counters.get(name, 0)) if "store" in beats else 0


def test_every_reader_drops_counts_and_status_shows_bus_garbage(
    stack: Stack, forger: zmq.Socket[bytes]
) -> None:
    """Garbage on cmd.* and evt.* is counted by the collector, scheduler, notifier and api,
    each by reason, all of them still up; ``otm status`` says so in one line."""
    readers = {"collector", "scheduler", "notifier", "api"}
    stack.start("bus", "store", *sorted(readers))

    def everyone_counted() -> dict[str, Any] | None:
        for _ in range(5):
            for frames in GARBAGE:
                forger.send_multipart(frames)
            time.sleep(0.05)
        current = status(stack)
        by_process = current["busGarbageDropped"]["byProcess"]
        return current if readers <= set(by_process) else None

    counted = wait_until(everyone_counted, 60, "every reader to count the garbage")
    by_process = counted["busGarbageDropped"]["byProcess"]
    expected = {
        "collector": {"bad_body", "wrong_topic"},
        "scheduler": {"bad_body"},
        "notifier": {"bad_body", "wrong_topic"},
        "api": {"bad_body", "wrong_topic"},
    }
    assert expected == {name: set(by_process[name]) for name in readers}
    alive = {p["process"] for p in status(stack)["processes"] if p["alive"]}
    assert readers <= alive
    assert "bus garbage dropped: " in stack.otm("status").stdout


def test_heartbeats_of_unknown_processes_are_counted_not_listed_or_stored(
    stack: Stack, forger: zmq.Socket[bytes]
) -> None:
    """20,000 heartbeats with made-up names: status lists the stack's processes only, says how
    many heartbeats it ignored, and the database keeps one row per known process."""
    stack.start("bus", "store")
    probe = encode(Heartbeat(process="probe", pid=0, started_at=0.0, sent_at=0.0))

    def store_listens() -> bool:
        forger.send_multipart([b"sys.heartbeat.probe", probe])
        return store_counter(stack, "heartbeats_from_unknown_processes") > 0

    wait_until(store_listens, 30, "the store to hear the forger")
    for n in range(20_000):
        beat = Heartbeat(process=f"fake-{n}", pid=n, started_at=0.0, sent_at=0.0)
        forger.send_multipart([topic_for(beat).encode(), encode(beat)])
    wait_until(
        lambda: store_counter(stack, "heartbeats_from_unknown_processes") > 20_000,
        60,
        "the store to count 20,000 more",
    )
    current = status(stack)
    (rows,) = stack.query("SELECT count(*) FROM process_status")[0]
    expected = ({"bus", "store"}, 2)
    assert expected == ({p["process"] for p in current["processes"]}, rows)
    assert current["unknownHeartbeatsIgnored"] > 20_000
    assert "heartbeats from unknown processes ignored" in stack.otm("status").stdout
