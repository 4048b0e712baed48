"""The api's heartbeat figures (``stream_clients``, ``stream_seq``) follow the stream, though
its heartbeat thread no longer looks every second: the hub says when they change."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bus.client import Subscriber
from bus.messages import Heartbeat, Message
from services.runtime.installation import Runtime
from tests.helpers import wait_until
from tests.services.api.api_support import Api, Service, SseReader, usage_batch

pytestmark = pytest.mark.e2e


def api_beat(subscriber: Subscriber, counter: str, value: int) -> Heartbeat:
    """The first heartbeat of the api whose ``counter`` is ``value``."""

    def found() -> Heartbeat | None:
        received = subscriber.recv(100)
        beat = received[1] if received else None
        if isinstance(beat, Heartbeat) and beat.process == "api":
            return beat if beat.counters.get(counter) == value else None
        return None

    beat: Heartbeat = wait_until(found, timeout=15, what=f"an api beat with {counter}={value}")
    return beat


def test_heartbeat_counts_stream_clients_and_follows_the_log(
    runtime: Runtime,
    store: Service,
    start_api: Callable[[], Api],
    open_stream: Callable[..., SseReader],
    commit: Callable[[list[Message]], list[int]],
) -> None:
    """A client joining, then a commit, each show in the api's next heartbeats."""
    api = start_api()
    subscriber = Subscriber(("sys.heartbeat",), runtime.endpoints)
    try:
        reader = open_stream(api.url)  # kept: dropping it would close the stream
        reader.wait_subscribed()
        clients = api_beat(subscriber, "stream_clients", 1).counters["stream_clients"]
        [seq] = commit([usage_batch(1)])
        position = api_beat(subscriber, "stream_seq", seq).counters["stream_seq"]
    finally:
        subscriber.close()
    assert (1, seq) == (clients, position)
