"""The live stream over the real stack: bus, store and api processes, SSE over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bus.messages import Message
from services.api.sse import fetch_backlog
from services.runtime.installation import Runtime
from tests.services.api.api_support import Api, Service, SseReader, price_observed, usage_batch

Commit = Callable[[list[Message]], list[int]]
OpenStream = Callable[..., SseReader]

pytestmark = pytest.mark.e2e


def _ids(events: list[dict[str, str]]) -> list[int]:
    return [int(event["id"]) for event in events]


def test_stream_sends_committed_events_with_seq_as_id(
    store: Service, commit: Commit, start_api: Callable[[], Api], open_stream: OpenStream
) -> None:
    """Each committed event arrives as an SSE message whose id is its seq and event its topic."""
    api = start_api()
    stream = open_stream(api.url)
    stream.wait_subscribed()
    seqs = commit([usage_batch(1), usage_batch(2), usage_batch(3)])
    events = stream.events(3)
    expected = [(str(seq), "evt.usage.claude", seq) for seq in seqs]
    assert expected == [(e["id"], e["event"], json.loads(e["data"])["seq"]) for e in events]


def test_last_event_id_gets_backlog_then_live_without_gap_or_duplicate(
    store: Service, commit: Commit, start_api: Callable[[], Api], open_stream: OpenStream
) -> None:
    """Last-Event-ID older than the api's start replays from the store, then joins live."""
    commit([usage_batch(n) for n in range(1, 6)])
    api = start_api()  # its hub starts at seq 5: events 3..5 must come from the store
    stream = open_stream(api.url, headers={"Last-Event-ID": "2"})
    stream.wait_subscribed()
    commit([usage_batch(6), usage_batch(7)])
    expected = [3, 4, 5, 6, 7]
    assert expected == _ids(stream.events(5))


def test_reconnect_resumes_exactly_after_last_event_id(
    store: Service, commit: Commit, start_api: Callable[[], Api], open_stream: OpenStream
) -> None:
    """A client that drops and reconnects with its Last-Event-ID misses nothing, repeats nothing."""
    api = start_api()
    first = open_stream(api.url)
    first.wait_subscribed()
    commit([usage_batch(1), usage_batch(2)])
    last_id = first.events(2)[-1]["id"]
    first.response.close()
    commit([usage_batch(3), usage_batch(4)])  # committed while the client is away
    second = open_stream(api.url, headers={"Last-Event-ID": last_id})
    second.wait_subscribed()
    commit([usage_batch(5)])
    expected = [3, 4, 5]
    assert expected == _ids(second.events(3))


def test_after_parameter_replays_from_that_seq(
    store: Service, commit: Commit, start_api: Callable[[], Api], open_stream: OpenStream
) -> None:
    """?after=N starts the stream with the committed events after seq N."""
    commit([usage_batch(n) for n in range(1, 4)])
    api = start_api()
    stream = open_stream(api.url, params={"after": "1"})
    expected = [2, 3]
    assert expected == _ids(stream.events(2))


def test_prefix_limits_the_stream_to_matching_topics(
    store: Service, commit: Commit, start_api: Callable[[], Api], open_stream: OpenStream
) -> None:
    """?prefix=evt.price. sends price events only, from the backlog and live alike."""
    backlog_seqs = commit([usage_batch(1), price_observed("claude-opus-4-1")])
    api = start_api()
    stream = open_stream(api.url, params={"after": "0", "prefix": "evt.price."})
    stream.wait_subscribed()
    live_seqs = commit([usage_batch(2), price_observed("claude-haiku-4-5")])
    expected = [(str(backlog_seqs[1]), "evt.price.claude"), (str(live_seqs[1]), "evt.price.claude")]
    assert expected == [(e["id"], e["event"]) for e in stream.events(2)]


def test_backlog_page_stops_at_the_limit(runtime: Runtime, commit: Commit) -> None:
    """One backlog page holds at most ``limit`` events and says how far it got."""
    commit([usage_batch(n) for n in range(1, 6)])
    events, covered = fetch_backlog(runtime.endpoints, "evt.", after=0, upto=5, limit=2)
    expected = ([1, 2], 2)
    assert expected == ([e.seq for e in events], covered)


def test_backlog_page_stops_at_the_hub_position(runtime: Runtime, commit: Commit) -> None:
    """A backlog page never includes events past ``upto``: those reach the client live."""
    commit([usage_batch(n) for n in range(1, 6)])
    events, covered = fetch_backlog(runtime.endpoints, "evt.", after=2, upto=4, limit=10)
    expected = ([3, 4], 4)
    assert expected == ([e.seq for e in events], covered)
