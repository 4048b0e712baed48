"""The fan-out of committed events to Server-Sent-Event clients.

One background thread follows the bus with ``bus.client.EventFollower`` (zmq is blocking, so it
never runs on the asyncio loop) and hands each batch to the loop, which copies it into every
client's bounded queue. Everything that touches the set of clients or the hub's ``position``
runs on the loop, so a client that subscribes sees a consistent cut: every event with
``seq <= position`` was committed before it subscribed (the store can replay those), every
event with ``seq > position`` will arrive in its queue.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import structlog

from bus.client import EventFollower
from bus.endpoints import Endpoints
from bus.messages import Message
from bus.topics import EVENTS
from services.store import log
from services.store.database import connect_reader

QUEUE_SIZE = 10_000
"""Events a client may fall behind by before it is disconnected (it can resume by seq)."""
POLL_MS = 200
"""How long the follower waits for the bus per round: bounds how long stopping takes."""
STOP_WAIT_SECONDS = 0.3

logger = structlog.get_logger().bind(process="api")


@dataclass(frozen=True)
class StreamedEvent:
    """One committed event, already encoded as an SSE message (shared by every client)."""

    seq: int
    topic: str
    sse: bytes


@dataclass(frozen=True)
class Closed:
    """Put in a client's queue to end its stream; ``reason`` is sent as a final comment."""

    reason: str


@dataclass(eq=False)
class Subscription:
    """One connected client: the hub's position when it joined and its queue of live events."""

    prefix: str
    start: int
    queue: asyncio.Queue[StreamedEvent | Closed] = field(repr=False)


def streamed(seq: int, topic: str, message: Message) -> StreamedEvent:
    """Encode a committed event as an SSE message: ``id`` = seq, ``event`` = topic, JSON data."""
    # Topics come off a private bus, but a stray newline would split the SSE frame: drop it.
    safe_topic = topic.replace("\r", "").replace("\n", "")
    data = msgspec.json.encode(message)
    sse = b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, safe_topic.encode(), data)
    return StreamedEvent(seq=seq, topic=topic, sse=sse)


def database_head(db_path: Path) -> int | None:
    """The highest committed seq in the database, ``None`` if there is no usable database."""
    if not db_path.exists():
        return None
    conn = connect_reader(str(db_path))
    try:
        return log.head(conn)
    except sqlite3.OperationalError:
        # The store created the file but has not migrated it yet.
        return None
    finally:
        conn.close()


class StreamHub:
    """Follows committed events in one thread and fans them out to per-client queues."""

    def __init__(self, endpoints: Endpoints, db_path: Path, queue_size: int = QUEUE_SIZE) -> None:
        self.endpoints = endpoints
        self.db_path = db_path
        self.queue_size = queue_size
        self.position = 0
        self.dropped = 0
        self._clients: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def clients(self) -> int:
        """How many clients are connected."""
        return len(self._clients)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start following from the database's current head; events go to ``loop``."""
        self._loop = loop
        # Start at the head rather than 0 so a long history is not replayed into nobody;
        # a client that wants older events gets them from the store's replay socket.
        self.position = database_head(self.db_path) or 0
        self._thread = threading.Thread(
            target=self._follow, args=(self.position,), name="stream-hub", daemon=True
        )
        self._thread.start()
        logger.info("stream_following", after=self.position)

    def stop(self) -> None:
        """Stop the follower thread and end every client's stream (on the loop; idempotent)."""
        self._stop.set()
        self.close_all("server shutting down")

    def join(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        """Wait (blocking, off the loop) for the follower thread to finish."""
        if self._thread is not None:
            # A replay request to a store that is down can block the follower for ~2 s; the
            # thread is a daemon, so we wait a bounded time and let process exit take it.
            self._thread.join(timeout=timeout)
            self._thread = None

    def subscribe(self, prefix: str = EVENTS) -> Subscription:
        """Register a client (on the loop); it receives every event with ``seq > start``."""
        queue: asyncio.Queue[StreamedEvent | Closed] = asyncio.Queue(maxsize=self.queue_size)
        subscription = Subscription(prefix=prefix, start=self.position, queue=queue)
        self._clients.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a client (on the loop); safe to call twice."""
        self._clients.discard(subscription)

    def deliver(self, events: list[StreamedEvent], position: int) -> None:
        """Queue a batch for every client (on the loop) and advance the hub to ``position``."""
        for subscription in list(self._clients):
            for event in events:
                if event.seq <= subscription.start or not event.topic.startswith(
                    subscription.prefix
                ):
                    continue
                try:
                    subscription.queue.put_nowait(event)
                except asyncio.QueueFull:
                    self._drop(subscription, f"too slow: {self.queue_size} events behind")
                    break
        self.position = max(self.position, position)

    def close_all(self, reason: str) -> None:
        """End every client's stream (on the loop)."""
        for subscription in list(self._clients):
            self._end(subscription, reason)

    def _drop(self, subscription: Subscription, reason: str) -> None:
        self.dropped += 1
        logger.warning("stream_client_dropped", reason=reason, prefix=subscription.prefix)
        self._end(subscription, reason)

    def _end(self, subscription: Subscription, reason: str) -> None:
        self._clients.discard(subscription)
        # Empty the queue so the close marker fits and the backlog's memory is freed; the
        # client resumes from its Last-Event-ID, so nothing is lost by discarding.
        while not subscription.queue.empty():
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(Closed(reason))

    def _follow(self, after: int) -> None:
        with EventFollower(prefixes=(EVENTS,), after=after, where=self.endpoints) as follower:
            first = True
            while not self._stop.is_set():
                try:
                    events = follower.catch_up() if first else follower.poll(POLL_MS)
                except Exception:
                    # Never let one bad round end the stream for every client.
                    logger.exception("stream_follow_failed")
                    self._stop.wait(1.0)
                    continue
                first = False
                if events or follower.last_seq > self.position:
                    self._hand_over(events, follower.last_seq)

    def _hand_over(self, events: list[tuple[str, Message]], position: int) -> None:
        batch = [
            streamed(seq, topic, message)
            for topic, message in events
            if isinstance(seq := getattr(message, "seq", None), int)
        ]
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.deliver, batch, position)
        except RuntimeError:
            # The loop closed between the check and the call: we are shutting down.
            self._stop.set()
