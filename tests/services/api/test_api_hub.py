"""The stream hub and one client's stream, in-process: fan-out, slow clients, keepalive."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from bus.endpoints import Endpoints
from bus.messages import UsageCommitted
from services.api.sse import KEEPALIVE, check_prefix, event_stream, resume_point
from services.api.stream import Closed, StreamedEvent, StreamHub, streamed
from tests.services.api.api_support import usage_batch

NOWHERE = Endpoints(publish="ipc:///nonexistent/a", subscribe="ipc:///nonexistent/b", replay="x")


def _event(seq: int) -> StreamedEvent:
    batch = usage_batch(seq)
    committed = UsageCommitted(
        seq=seq,
        batch_id=batch.batch_id,
        provider="claude",
        source=batch.source,
        cursor=batch.after,
        records=batch.records,
    )
    return streamed(seq, "evt.usage.claude", committed)


def _hub(tmp_path: Path, queue_size: int = 100) -> StreamHub:
    return StreamHub(NOWHERE, tmp_path / "absent.db", queue_size=queue_size)


def test_sse_message_carries_seq_topic_and_json(tmp_path: Path) -> None:
    """An event is encoded as id = seq, event = topic, data = the Struct as JSON."""
    lines = _event(7).sse.decode().split("\n")
    expected = ["id: 7", "event: evt.usage.claude"]
    assert expected == lines[:2]
    assert lines[2].startswith('data: {"type":"evt.usage","seq":7,')


def _decoded(seq: int) -> tuple[str, UsageCommitted]:
    batch = usage_batch(seq)
    return "evt.usage.claude", UsageCommitted(
        seq=seq, batch_id=batch.batch_id, provider="claude", source=batch.source, cursor=batch.after
    )


def test_events_for_nobody_only_move_the_position(tmp_path: Path) -> None:
    """With no client connected, handed-over events move the hub on and are not kept."""
    hub = _hub(tmp_path)
    hub._deliver_decoded([_decoded(1), _decoded(2)], position=2)
    late = hub.subscribe()
    expected = (2, 2, True)
    assert expected == (hub.position, late.start, late.queue.empty())


def test_a_connected_client_gets_handed_over_events_encoded(tmp_path: Path) -> None:
    """With a client connected, each handed-over event reaches it as its SSE message."""
    hub = _hub(tmp_path)
    client = hub.subscribe()
    hub._deliver_decoded([_decoded(1)], position=1)
    item = client.queue.get_nowait()
    expected = streamed(1, *_decoded(1)).sse
    assert expected == getattr(item, "sse", None)


def test_slow_client_is_closed_with_a_reason(tmp_path: Path) -> None:
    """A client whose queue overflows gets only a close marker saying it was too slow."""
    hub = _hub(tmp_path, queue_size=2)
    slow = hub.subscribe()
    hub.deliver([_event(1), _event(2), _event(3)], position=3)
    item = slow.queue.get_nowait()
    assert isinstance(item, Closed)
    assert "too slow" in item.reason
    assert slow.queue.empty()


def test_slow_client_does_not_hold_back_others(tmp_path: Path) -> None:
    """Dropping a slow client leaves a client that keeps up receiving every event."""
    hub = _hub(tmp_path, queue_size=2)
    slow, fast = hub.subscribe(), hub.subscribe()
    received = []
    for seq in (1, 2, 3):
        hub.deliver([_event(seq)], position=seq)
        received.append(fast.queue.get_nowait())
    expected = [1, 2, 3]
    assert expected == [item.seq for item in received if isinstance(item, StreamedEvent)]
    assert isinstance(slow.queue.get_nowait(), Closed)


def test_subscriber_gets_only_events_after_the_hub_position(tmp_path: Path) -> None:
    """A client joining at position 5 never receives an event with seq <= 5."""
    hub = _hub(tmp_path)
    hub.deliver([_event(5)], position=5)
    client = hub.subscribe()
    hub.deliver([_event(5), _event(6)], position=6)
    expected = 6
    item = client.queue.get_nowait()
    assert isinstance(item, StreamedEvent)
    assert expected == item.seq
    assert client.queue.empty()


def test_idle_stream_sends_keepalive_comment(tmp_path: Path) -> None:
    """With nothing to send, the stream emits a keepalive comment."""

    async def second_chunk() -> bytes:
        hub = _hub(tmp_path)
        async with aclosing(event_stream(hub, after=None, keepalive=0.05)) as chunks:
            await anext(chunks)  # the "subscribed" comment
            return await anext(chunks)

    expected = KEEPALIVE
    assert expected == asyncio.run(second_chunk())


def test_live_events_up_to_the_resume_point_are_skipped(tmp_path: Path) -> None:
    """A client resuming after seq 7 while the hub is at 5 gets 8 first, not 6 or 7."""

    async def first_event() -> bytes:
        hub = _hub(tmp_path)
        hub.deliver([], position=5)
        async with aclosing(event_stream(hub, after=7, keepalive=5.0)) as chunks:
            await anext(chunks)
            hub.deliver([_event(6), _event(7), _event(8)], position=8)
            return await anext(chunks)

    assert _event(8).sse == asyncio.run(first_event())


def test_stream_ends_when_hub_closes_it(tmp_path: Path) -> None:
    """Closing all clients (shutdown) ends each stream with a comment instead of hanging."""

    async def chunks_after_close() -> list[bytes]:
        hub = _hub(tmp_path)
        async with aclosing(event_stream(hub, after=None, keepalive=5.0)) as chunks:
            await anext(chunks)
            hub.close_all("server shutting down")
            return [chunk async for chunk in chunks]

    expected = [b": closed: server shutting down; reconnect to resume\n\n"]
    assert expected == asyncio.run(chunks_after_close())


def test_last_event_id_wins_over_after() -> None:
    """A reconnecting browser's Last-Event-ID takes precedence over the URL's ?after=."""
    expected = 4
    assert expected == resume_point("4", 9)


def test_non_numeric_last_event_id_is_rejected() -> None:
    """A Last-Event-ID that is not a seq is refused rather than guessed at."""
    with pytest.raises(ValueError, match="Last-Event-ID"):
        resume_point("abc", None)


def test_prefix_outside_committed_events_is_rejected() -> None:
    """A prefix that can never match a committed event (sys., cmd.) is refused."""
    with pytest.raises(ValueError, match="committed events only"):
        check_prefix("sys.")
