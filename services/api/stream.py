"""The fan-out of committed events to Server-Sent-Event clients.

One background thread follows the bus with ``bus.client.EventFollower`` (zmq is blocking, so it
never runs on the asyncio loop) and hands each batch to the loop, which copies it into every
client's bounded queue. The follower reads every event it delivers from the database itself
(``DatabaseLog``, read-only, one indexed read per batch): an event some other process forged on
the bus is counted and never reaches a client, and the real event with that seq still does.
When the database is replaced by one with a lower head (rebuilt, restored, new), every client
gets one ``reset`` message whose ``id`` is the new head, and the stream goes on from there.

Everything that touches the set of clients or the hub's ``position`` runs on the loop, so a
client that subscribes sees a consistent cut: every event with ``seq <= position`` was committed
before it subscribed (the store can replay those), every event with ``seq > position`` will
arrive in its queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import structlog
import zmq

from bus.client import EventFollower, StoreUnavailable
from bus.endpoints import Endpoints
from bus.messages import Message, ReplayReply
from bus.topics import EVENTS
from services.store import log
from services.store.database import connect_reader

QUEUE_SIZE = 10_000
"""Events a client may fall behind by before it is disconnected (it can resume by seq)."""
PAGE_EVENTS = 200
"""Committed events read per round at most, so catching up on a burst holds one page of them."""
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


@dataclass(frozen=True)
class Reset:
    """Put in a client's queue when the log was replaced: the stream goes on after ``head``."""

    head: int

    @property
    def sse(self) -> bytes:
        """The ``reset`` message: its ``id`` makes a reconnecting browser resume after ``head``."""
        return b'id: %d\nevent: reset\ndata: {"head":%d}\n\n' % (self.head, self.head)


Item = StreamedEvent | Closed | Reset


@dataclass(eq=False)
class Subscription:
    """One connected client: the hub's position when it joined and its queue of live events."""

    prefix: str
    start: int
    queue: asyncio.Queue[Item] = field(repr=False)


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
    except sqlite3.DatabaseError:
        # Not migrated yet, or damaged: the api still starts and says so on every query.
        return None
    finally:
        conn.close()


class DatabaseLog:
    """The store's event log read from its database file, read-only: the ``EventLog`` the hub
    confirms live events against without asking the store process. A database file replaced
    under the same name is noticed (by its identity) and opened anew."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None

    def fetch(self, after: int, prefix: str = EVENTS, limit: int = 1000) -> ReplayReply:
        """Committed events with ``seq > after`` and the head; ``StoreUnavailable`` without a
        usable database."""
        try:
            conn = self._connection()
            events = log.after(conn, after, prefix, limit)
            # Read after the events, so the head is never below one of them.
            return ReplayReply(head=log.head(conn), events=events)
        except sqlite3.Error as exc:
            self.close()
            raise StoreUnavailable(f"{self.db_path}: {exc}") from None

    def close(self) -> None:
        """Close the connection; the next fetch opens a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        try:
            info = os.stat(self.db_path)
        except OSError as exc:
            self.close()
            raise StoreUnavailable(f"{self.db_path}: {exc.strerror}") from None
        identity = (info.st_dev, info.st_ino)
        if self._conn is None or identity != self._identity:
            self.close()
            self._conn = connect_reader(str(self.db_path))
            self._identity = identity
        return self._conn


class StreamHub:
    """Follows committed events in one thread and fans them out to per-client queues."""

    def __init__(self, endpoints: Endpoints, db_path: Path, queue_size: int = QUEUE_SIZE) -> None:
        self.endpoints = endpoints
        self.db_path = db_path
        self.queue_size = queue_size
        self.position = 0
        self.dropped = 0
        self.resets = 0
        self.bus_dropped: dict[str, int] = {}
        """What the follower dropped, by reason; replaced (never changed) by its thread, so
        the heartbeat's thread may read it."""
        self.on_change: Callable[[], None] = lambda: None
        """Called (on the loop, or the follower's thread) when ``clients``, ``dropped``,
        ``position`` or ``bus_dropped`` changed: the heartbeat then reports them."""
        self._clients: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        # The follower thread sleeps in a poll on the bus and on this pipe, so it never wakes
        # just to look at the stop flag.
        self._stop_read, self._stop_write = os.pipe()
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
        self._request_stop()
        self.close_all("server shutting down")

    def _request_stop(self) -> None:
        self._stop.set()
        if self._stop_write >= 0:
            with contextlib.suppress(OSError):
                os.write(self._stop_write, b"x")

    def join(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        """Wait (blocking, off the loop) for the follower thread to finish."""
        if self._thread is not None:
            # A replay request to a store that is down can block the follower for ~2 s; the
            # thread is a daemon, so we wait a bounded time and let process exit take it.
            self._thread.join(timeout=timeout)
            if not self._thread.is_alive():
                self._close_stop_pipe()
            self._thread = None

    def _close_stop_pipe(self) -> None:
        for fd in (self._stop_read, self._stop_write):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._stop_read = self._stop_write = -1

    def subscribe(self, prefix: str = EVENTS) -> Subscription:
        """Register a client (on the loop); it receives every event with ``seq > start``."""
        queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=self.queue_size)
        subscription = Subscription(prefix=prefix, start=self.position, queue=queue)
        self._clients.add(subscription)
        self.on_change()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a client (on the loop); safe to call twice."""
        if subscription in self._clients:
            self._clients.discard(subscription)
            self.on_change()

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
        if position > self.position:
            self.position = position
            self.on_change()

    def reset(self, head: int) -> None:
        """The log was replaced and ends at ``head`` (on the loop): every client is told, and
        from now on gets the events after ``head``."""
        self.resets += 1
        self.position = head
        self.on_change()
        logger.warning("stream_log_replaced", head=head, clients=len(self._clients))
        for subscription in list(self._clients):
            subscription.start = head
            try:
                subscription.queue.put_nowait(Reset(head))
            except asyncio.QueueFull:
                self._drop(subscription, f"too slow: {self.queue_size} events behind")

    def close_all(self, reason: str) -> None:
        """End every client's stream (on the loop)."""
        for subscription in list(self._clients):
            self._end(subscription, reason)

    def _drop(self, subscription: Subscription, reason: str) -> None:
        self.dropped += 1
        self.on_change()
        logger.warning("stream_client_dropped", reason=reason, prefix=subscription.prefix)
        self._end(subscription, reason)

    def _end(self, subscription: Subscription, reason: str) -> None:
        if subscription in self._clients:
            self._clients.discard(subscription)
            self.on_change()
        # Empty the queue so the close marker fits and the backlog's memory is freed; the
        # client resumes from its Last-Event-ID, so nothing is lost by discarding.
        while not subscription.queue.empty():
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(Closed(reason))

    def _follow(self, after: int) -> None:
        follower = EventFollower(
            prefixes=(EVENTS,),
            after=after,
            where=self.endpoints,
            log=DatabaseLog(self.db_path),
            most=PAGE_EVENTS,
        )
        poller = zmq.Poller()
        poller.register(follower.subscriber.socket, zmq.POLLIN)
        poller.register(self._stop_read, zmq.POLLIN)
        with follower:
            first = True
            resets = 0
            while not self._stop.is_set():
                if not first and not follower.behind:
                    poller.poll()  # until the bus has something, or a stop
                    if self._stop.is_set():
                        break
                try:
                    events = follower.catch_up() if first else follower.poll(0)
                except Exception:
                    # Never let one bad round end the stream for every client.
                    logger.exception("stream_follow_failed")
                    self._stop.wait(1.0)
                    continue
                first = False
                if follower.dropped != self.bus_dropped:
                    self.bus_dropped = dict(follower.dropped)
                    self.on_change()
                if follower.resets != resets:
                    resets = follower.resets
                    self._call_on_loop(self.reset, follower.last_seq)
                elif events or follower.last_seq > self.position:
                    self._call_on_loop(self._deliver_decoded, events, follower.last_seq)

    def _deliver_decoded(self, events: list[tuple[str, Message]], position: int) -> None:
        # Encoded on the loop, and only with a client there to read them: during a first scan
        # of a long history nobody is usually connected (17 ms of JSON for nobody at 300 MB).
        # A client joins on the loop too, so it is either counted here or starts after
        # ``position``.
        batch = (
            [
                streamed(seq, topic, message)
                for topic, message in events
                if isinstance(seq := getattr(message, "seq", None), int)
            ]
            if self._clients
            else []
        )
        self.deliver(batch, position)

    def _call_on_loop(self, function: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(function, *args)
        except RuntimeError:
            # The loop closed between the check and the call: we are shutting down.
            self._request_stop()
