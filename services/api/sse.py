"""One client's Server-Sent-Event stream: its backlog from the store, then live events.

A client asking for events after ``seq`` A subscribes to the hub first, which fixes the hub's
position P. Events in (A, P] are already committed, so they come from the store's replay
socket; events after P arrive in the client's queue. Each event is sent only if its seq is
above the last one covered, so the two parts meet with no gap and no duplicate.

When the store's database is replaced (a lower head), the client gets one ``reset`` message
(``id`` = the new head, ``data`` = ``{"head": N}``): what it showed came from the old log, so it
reloads; the stream goes on with the events after the new head.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

import structlog

from bus.client import ReplayClient, StoreUnavailable
from bus.codec import Garbage, UnknownType, decode
from bus.endpoints import Endpoints
from bus.topics import EVENTS
from services.api.stream import (
    Closed,
    Item,
    Reset,
    StreamedEvent,
    StreamHub,
    Subscription,
    streamed,
)

KEEPALIVE_SECONDS = 15.0
RETRY_MS = 1000
"""How long a browser's EventSource waits before reconnecting (with Last-Event-ID)."""
BACKLOG_PAGE = 1000
KEEPALIVE = b": keepalive\n\n"

logger = structlog.get_logger().bind(process="api")


def check_prefix(prefix: str) -> str:
    """Accept a topic prefix that can match committed events; raise ``ValueError`` otherwise."""
    if prefix.startswith(EVENTS) or EVENTS.startswith(prefix):
        return prefix
    raise ValueError(
        f"prefix {prefix!r}: the stream carries committed events only; use one starting "
        f"with {EVENTS!r}"
    )


def resume_point(last_event_id: str | None, after: int | None) -> int | None:
    """The seq to resume after: ``Last-Event-ID`` (a reconnect) wins over ``?after=``."""
    if last_event_id is not None and last_event_id.strip():
        value = last_event_id.strip()
        if not value.isdigit():
            raise ValueError(f"Last-Event-ID {last_event_id!r}: expected an event seq")
        return int(value)
    if after is not None and after < 0:
        raise ValueError(f"after={after}: a seq is never negative")
    return after


def comment(text: str) -> bytes:
    """An SSE comment line: ignored by clients, useful to people reading the stream."""
    return b": %s\n\n" % text.replace("\r", " ").replace("\n", " ").encode()


def fetch_backlog(
    endpoints: Endpoints, prefix: str, after: int, upto: int, limit: int = BACKLOG_PAGE
) -> tuple[list[StreamedEvent], int]:
    """One page of committed events in ``(after, upto]`` matching ``prefix``, and the seq covered.

    Blocking (zmq): run it in a thread. Raises ``StoreUnavailable`` if the store does not answer.
    """
    client = ReplayClient(endpoints)
    try:
        reply = client.fetch(
            after, prefix=prefix if prefix.startswith(EVENTS) else EVENTS, limit=limit
        )
    finally:
        client.close()
    if reply.error is not None:
        raise StoreUnavailable(reply.error)
    if not reply.events:
        # Nothing else matches up to the head, so the whole range is covered.
        return [], upto
    events: list[StreamedEvent] = []
    covered = after
    for seq, topic, body in reply.events:
        if seq > upto:
            return events, upto
        covered = seq
        if not topic.startswith(prefix):
            continue
        try:
            events.append(streamed(seq, topic, decode(body)))
        except UnknownType:
            pass  # a newer store's event type: skip it, as every consumer does
        except Garbage as exc:
            logger.warning("replayed_event_unreadable", seq=seq, error=str(exc))
    return events, covered


async def event_stream(
    hub: StreamHub,
    after: int | None,
    prefix: str = EVENTS,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    """The SSE body for one client: backlog after ``after`` (if any), then live events."""
    subscription = hub.subscribe(prefix)
    try:
        covered = subscription.start if after is None else after
        # The first chunk tells the client it is subscribed: anything committed from now on
        # reaches it.
        yield b"retry: %d\n: subscribed after seq %d\n\n" % (RETRY_MS, covered)
        while covered < subscription.start:
            try:
                events, covered = await asyncio.to_thread(
                    fetch_backlog, hub.endpoints, prefix, covered, subscription.start
                )
            except StoreUnavailable as exc:
                # Ending beats skipping: the client reconnects and resumes from its last id.
                logger.warning("stream_backlog_unavailable", error=str(exc))
                yield comment("store unavailable; reconnect to resume")
                return
            for event in events:
                yield event.sse
        async with aclosing(_live(subscription, covered, keepalive)) as live:
            async for chunk in live:
                yield chunk
    finally:
        hub.unsubscribe(subscription)


async def _live(
    subscription: Subscription, covered: int, keepalive: float
) -> AsyncGenerator[bytes, None]:
    getter: asyncio.Future[Item] | None = None
    try:
        while True:
            # Keep one pending get across keepalives: cancelling a get that just completed
            # could lose the event it took.
            if getter is None:
                getter = asyncio.ensure_future(subscription.queue.get())
            done, _ = await asyncio.wait({getter}, timeout=keepalive)
            if not done:
                yield KEEPALIVE
                continue
            item, getter = getter.result(), None
            if isinstance(item, Closed):
                yield comment(f"closed: {item.reason}; reconnect to resume")
                return
            if isinstance(item, Reset):
                covered = item.head
                yield item.sse
                continue
            if item.seq > covered:
                covered = item.seq
                yield item.sse
    finally:
        if getter is not None:
            getter.cancel()
