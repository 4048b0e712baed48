"""The live stream passes on only what the store logged, and survives a replaced database.

Real bus, real store and api processes, SSE over HTTP; the forger is a bare PUB socket on the
bus, as any process of the same user could open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from bus.client import Subscriber
from bus.codec import encode
from bus.messages import Heartbeat, Message, UsageCommitted
from bus.topics import HEARTBEAT
from services.runtime.installation import Runtime
from tests.helpers import cursor, record, wait_until
from tests.services.api.api_support import Api, Service, SseReader, usage_batch

Commit = Callable[[list[Message]], list[int]]
OpenStream = Callable[..., SseReader]

pytestmark = pytest.mark.e2e


@pytest.fixture
def forger(runtime: Runtime, store: Service) -> Iterator[zmq.Socket[bytes]]:
    """A bare PUB socket on the bus."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(runtime.endpoints.publish)
    yield sock
    sock.close()


def forged(seq: int) -> UsageCommitted:
    """A commit nobody made, with a million output tokens."""
    return UsageCommitted(
        seq=seq,
        batch_id="forged",
        provider="claude",
        source="/forged.jsonl",
        cursor=cursor(999),
        records=(record("forged", output=1_000_000),),
    )


def api_counter(runtime: Runtime, name: str, send: Callable[[], None]) -> int:
    """Call ``send`` until a heartbeat of the api carries counter ``name``; its value."""
    beats = Subscriber((HEARTBEAT,), runtime.endpoints)
    try:

        def counted() -> int:
            send()
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                got = beats.recv(timeout_ms=100)
                beat = got[1] if got else None
                if isinstance(beat, Heartbeat) and beat.process == "api":
                    value = beat.counters.get(name, 0)
                    if value:
                        return value
            return 0

        found: int = wait_until(counted, timeout=20, what=f"the api's {name}")
        return found
    finally:
        beats.close()


def next_block(stream: SseReader, event: str) -> dict[str, str]:
    """Skip to the next SSE message whose ``event`` is ``event``."""
    while True:
        fields = stream.block()
        if fields.get("event") == event:
            return fields


def test_forged_event_at_head_plus_one_is_dropped_and_the_real_one_streamed(
    runtime: Runtime,
    commit: Commit,
    start_api: Callable[[], Api],
    open_stream: OpenStream,
    forger: zmq.Socket[bytes],
) -> None:
    """A forged evt.usage with seq head+1 never reaches the client; the real seq does."""
    commit([usage_batch(1)])
    api = start_api()
    stream = open_stream(api.url)
    stream.wait_subscribed()
    body = encode(forged(2))
    refused = api_counter(
        runtime,
        "bus_dropped.unconfirmed",
        lambda: forger.send_multipart([b"evt.usage.claude", body]),
    )
    (seq,) = commit([usage_batch(2)])
    (event,) = stream.events(1)
    expected = (2, "2", "batch-2")
    assert expected == (seq, event["id"], json.loads(event["data"])["batch_id"])
    assert refused >= 1


def test_a_replaced_database_sends_reset_then_the_new_log(
    runtime: Runtime,
    store: Service,
    spawn: Callable[[str], Service],
    commit: Commit,
    start_api: Callable[[], Api],
    open_stream: OpenStream,
) -> None:
    """At seq 3, a new database (head 0) gives the client ``reset`` with id 0, then seq 1."""
    commit([usage_batch(n) for n in (1, 2, 3)])
    api = start_api()
    stream = open_stream(api.url, params={"after": "0"})
    assert ["1", "2", "3"] == [e["id"] for e in stream.events(3)]
    store.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{runtime.db_path}{suffix}").unlink(missing_ok=True)
    spawn("store")
    reset = next_block(stream, "reset")
    assert ("0", {"head": 0}) == (reset["id"], json.loads(reset["data"]))
    (seq,) = commit([usage_batch(7)])
    (event,) = stream.events(1)
    expected = (1, "1", "batch-7")
    assert expected == (seq, event["id"], json.loads(event["data"])["batch_id"])
