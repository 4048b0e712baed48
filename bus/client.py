"""A small client for the bus: publish, subscribe, replay, and follow committed events gaplessly.

Custom tools need only ``EventFollower``::

    from bus.client import EventFollower
    with EventFollower(prefixes=("evt.usage.",)) as follower:
        for topic, event in follower.events():
            print(topic, event.seq)
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import NamedTuple, Protocol

import msgspec
import zmq

from bus.codec import (
    BAD_BODY,
    UNKNOWN_TYPE,
    Dropped,
    Garbage,
    UnknownType,
    decode,
    encode,
    read_frames,
)
from bus.endpoints import Endpoints, endpoints
from bus.messages import (
    CursorsReply,
    CursorsRequest,
    FileCursor,
    Heartbeat,
    HeartbeatsReply,
    HeartbeatsRequest,
    Message,
    ReplayReply,
    ReplayRequest,
)
from bus.topics import EVENTS, STORE_HEARTBEAT, topic_for

HIGH_WATER_MARK = 200_000
READ_PAGE = 1000
"""Events per read of the store's log."""
STORE = "store"
"""The process whose heartbeat announces the log's head."""
FORGED = "forged"
"""A live event whose body differs from the one the store logged under its seq."""
UNCONFIRMED = "unconfirmed"
"""A live event whose seq the store's log does not hold (beyond its head)."""
_reply_decoder = msgspec.msgpack.Decoder(ReplayReply)
_heartbeats_decoder = msgspec.msgpack.Decoder(HeartbeatsReply | ReplayReply)
_cursors_decoder = msgspec.msgpack.Decoder(CursorsReply | ReplayReply)
_request_encoder = msgspec.msgpack.Encoder()


class Publisher:
    """A PUB socket connected to the forwarder. Publishing never blocks; see DESIGN.md on loss."""

    def __init__(self, where: Endpoints | None = None) -> None:
        self.endpoints = where or endpoints()
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        self._sock.setsockopt(zmq.LINGER, 500)
        self._sock.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
        if self.endpoints.curve is not None:
            self.endpoints.curve.apply(self._sock)
        self._sock.connect(self.endpoints.publish)

    def publish(self, message: Message, topic: str | None = None) -> None:
        """Send ``[topic, body]``; the topic defaults to the message's own."""
        self.publish_raw(topic or topic_for(message), encode(message))

    def publish_raw(self, topic: str, body: bytes) -> None:
        """Send an already-encoded body (the store re-publishes bodies exactly as logged)."""
        self._sock.send_multipart([topic.encode(), body], copy=False)

    def close(self) -> None:
        """Close the socket, flushing for up to half a second."""
        self._sock.close()


class Received(NamedTuple):
    """One usable message off the bus, with the body exactly as it arrived."""

    topic: str
    message: Message
    body: bytes


class Subscriber:
    """A SUB socket on the forwarder that decodes frames and counts, by reason, what it drops.

    ``dropped`` maps a reason (``bus.codec``: ``bad_frames``, ``bad_topic``, ``bad_body``,
    ``unknown_type``, ``wrong_topic``) to the frames dropped for it. With ``check_topics``, a
    known message under a topic it is never published on is dropped too; the stack's own
    processes read that way, a custom tool may choose.
    """

    def __init__(
        self,
        prefixes: Sequence[str],
        where: Endpoints | None = None,
        check_topics: bool = False,
    ) -> None:
        self.endpoints = where or endpoints()
        self.check_topics = check_topics
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
        for prefix in prefixes:
            self._sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        if self.endpoints.curve is not None:
            self.endpoints.curve.apply(self._sock)
        self._sock.connect(self.endpoints.subscribe)
        self.dropped: Counter[str] = Counter()

    @property
    def socket(self) -> zmq.Socket[bytes]:
        """The underlying socket, for use in a ``zmq.Poller``."""
        return self._sock

    def recv(self, timeout_ms: int | None = None) -> tuple[str, Message] | None:
        """The next usable message, or ``None`` once ``timeout_ms`` passes without one."""
        item = self.recv_with_body(timeout_ms)
        return None if item is None else (item.topic, item.message)

    def drain(self) -> list[tuple[str, Message]]:
        """Every usable message already waiting, without blocking."""
        return [(item.topic, item.message) for item in self.drain_with_body()]

    def recv_with_body(self, timeout_ms: int | None = None) -> Received | None:
        """As ``recv``, keeping the body's bytes (to compare it with the store's log)."""
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while True:
            remaining = None if deadline is None else max(0, deadline - time.monotonic())
            if not self._sock.poll(None if remaining is None else int(remaining * 1000)):
                return None
            item = self._read(self._sock.recv_multipart())
            if item is not None:
                return item
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def drain_with_body(self) -> list[Received]:
        """As ``drain``, keeping each body's bytes."""
        return list(self.waiting_with_body())

    def waiting_with_body(self) -> Iterator[Received]:
        """As ``drain_with_body``, one message at a time: a reader that keeps only a little
        of each never holds a burst of them decoded at once."""
        while self._sock.poll(0):
            item = self._read(self._sock.recv_multipart())
            if item is not None:
                yield item

    def _read(self, frames: list[bytes]) -> Received | None:
        try:
            topic, message = read_frames(frames, self.check_topics)
        except Dropped as exc:
            self.dropped[exc.reason] += 1
            return None
        return Received(topic, message, frames[1])

    def close(self) -> None:
        """Close the socket."""
        self._sock.close(0)


class StoreUnavailable(Exception):
    """The store did not answer a replay request in time."""


class ReplayClient:
    """Asks the store for committed events after a ``seq``; survives a store that is down."""

    def __init__(self, where: Endpoints | None = None, timeout_ms: int = 2000) -> None:
        self.endpoints = where or endpoints()
        self.timeout_ms = timeout_ms
        self._sock: zmq.Socket[bytes] | None = None

    def _socket(self) -> zmq.Socket[bytes]:
        if self._sock is None:
            sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            # Relaxed + correlate lets us send again after a lost reply instead of deadlocking.
            sock.setsockopt(zmq.REQ_RELAXED, 1)
            sock.setsockopt(zmq.REQ_CORRELATE, 1)
            if self.endpoints.curve is not None:
                self.endpoints.curve.apply(sock)
            sock.connect(self.endpoints.replay)
            self._sock = sock
        return self._sock

    def fetch(self, after: int, prefix: str = EVENTS, limit: int = 1000) -> ReplayReply:
        """One page of committed events with ``seq > after``; raise ``StoreUnavailable``."""
        sock = self._socket()
        sock.send(_request_encoder.encode(ReplayRequest(after=after, prefix=prefix, limit=limit)))
        if not sock.poll(self.timeout_ms):
            self.close()
            raise StoreUnavailable(f"no answer from the store at {self.endpoints.replay}")
        reply: ReplayReply = _reply_decoder.decode(sock.recv())
        return reply

    def heartbeats(self) -> list[tuple[Heartbeat, float]]:
        """The latest heartbeat of each process and when the store received it, from the
        running store's memory; raise ``StoreUnavailable`` (no answer in time, or a store too
        old to know the request)."""
        sock = self._socket()
        sock.send(_request_encoder.encode(HeartbeatsRequest()))
        if not sock.poll(self.timeout_ms):
            self.close()
            raise StoreUnavailable(f"no answer from the store at {self.endpoints.replay}")
        reply = _heartbeats_decoder.decode(sock.recv())
        if isinstance(reply, ReplayReply) or reply.error is not None:
            raise StoreUnavailable(f"the store cannot say its heartbeats: {reply.error}")
        return reply.heartbeats

    def cursors(self, machine: str) -> dict[str, FileCursor]:
        """One machine's committed file cursors by path (what an agent resumes from); raise
        ``StoreUnavailable`` (no answer in time, or an error in the answer)."""
        sock = self._socket()
        sock.send(_request_encoder.encode(CursorsRequest(machine=machine)))
        if not sock.poll(self.timeout_ms):
            self.close()
            raise StoreUnavailable(f"no answer from the store at {self.endpoints.replay}")
        reply = _cursors_decoder.decode(sock.recv())
        if isinstance(reply, ReplayReply) or reply.error is not None:
            raise StoreUnavailable(f"the store cannot say the cursors: {reply.error}")
        return reply.cursors

    def close(self) -> None:
        """Close the socket; the next fetch opens a new one."""
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None


class EventLog(Protocol):
    """Where committed events are read back from: the store's replay socket
    (``ReplayClient``), or anything answering the same way (the api reads the database)."""

    def fetch(self, after: int, prefix: str = EVENTS, limit: int = 1000) -> ReplayReply:
        """Committed events with ``seq > after`` and the log's head; raise ``StoreUnavailable``."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class EventFollower:
    """Every committed event after ``after``, exactly once and in ``seq`` order.

    The bus only says *that* something was committed: a live event under one of ``prefixes``,
    or a head ``seq`` in the store's heartbeat beyond ours. What is delivered is always read
    back from the store's log (``log``, by default the store's replay socket), one read per
    batch and prefix, so a gap PUB/SUB left is filled, events outside ``prefixes`` are never
    sent to us, and an event the log does not hold as published (a forged one, from any process
    that can reach the bus) is never delivered: it is counted in ``dropped`` as ``forged``
    (another body or topic under a logged seq) or ``unconfirmed`` (a seq beyond the log's
    head).

    When the log's head is below ``last_seq`` the database was replaced (rebuilt, restored,
    new): the follower starts over at the new head and counts one more in ``resets``; its
    consumer re-reads whatever it derived from the old log.

    With ``most`` set, a ``poll`` or ``catch_up`` delivers about that many events at most (whole
    pages of the log), and ``behind`` tells that more are waiting: a long-running consumer
    catching up on a large history then holds one page of decoded events at a time, not the
    whole history (whose memory a process keeps long after it freed it).
    """

    def __init__(
        self,
        prefixes: Sequence[str] = (EVENTS,),
        after: int = 0,
        where: Endpoints | None = None,
        log: EventLog | None = None,
        most: int | None = None,
    ) -> None:
        if not prefixes:
            raise ValueError("EventFollower needs at least one topic prefix, e.g. 'evt.'")
        if most is not None and most < 1:
            raise ValueError(f"EventFollower's most is a number of events, at least 1, not {most}")
        self.endpoints = where or endpoints()
        self.prefixes = tuple(prefixes)
        self.last_seq = after
        self.resets = 0
        self.most = most
        self._behind_to: int | None = None
        """The log's head when the last read stopped at ``most`` events before it."""
        self._live_ahead: dict[int, list[tuple[str, bytes]]] = {}
        """Live copies beyond where that read stopped, checked when the log gets there."""
        self._read_prefixes = _outermost(self.prefixes)
        # Only our own topics: the store's heartbeat tells how far the rest of the log went.
        self._sub = Subscriber(
            (*self._read_prefixes, STORE_HEARTBEAT), self.endpoints, check_topics=True
        )
        self._log: EventLog = log or ReplayClient(self.endpoints)
        self._refused: Counter[str] = Counter()
        self._log_answers = True

    def __enter__(self) -> EventFollower:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def subscriber(self) -> Subscriber:
        """The bus subscription underneath (to wait on it in a ``zmq.Poller``)."""
        return self._sub

    @property
    def dropped(self) -> Counter[str]:
        """What was dropped, by reason: frames off the bus (``bus.codec``'s reasons),
        logged events this version cannot read, and ``forged`` or ``unconfirmed`` events."""
        return self._sub.dropped + self._refused

    @property
    def behind(self) -> bool:
        """Whether the last ``poll`` or ``catch_up`` stopped at ``most`` events with more
        already committed: the next ``poll(0)`` delivers them, whatever the bus says."""
        return self._behind_to is not None

    def poll(self, timeout_ms: int) -> list[tuple[str, Message]]:
        """Events that became available within ``timeout_ms``, gaps filled, in seq order."""
        first = self._sub.recv_with_body(timeout_ms)
        # One at a time: of a burst of live events only the bodies are kept, never all of
        # them decoded at once.
        received = itertools.chain([] if first is None else [first], self._sub.waiting_with_body())
        live, self._live_ahead = self._live_ahead, {}
        store_head = self._behind_to
        for item in received:
            message = item.message
            if isinstance(message, Heartbeat):
                if message.process == STORE and message.head_seq is not None:
                    store_head = max(message.head_seq, store_head or 0)
                continue
            seq = getattr(message, "seq", None)
            if isinstance(seq, int) and seq > self.last_seq:
                live.setdefault(seq, []).append((item.topic, item.body))
        if store_head is not None:
            # The store is beating again: worth asking, even if it did not answer last time.
            self._log_answers = True
        news = [*live, *([] if store_head is None else [store_head])]
        if not news or max(news) == self.last_seq or not self._log_answers:
            return []
        # A head below our seq (only a heartbeat says so): one read tells whether the log was
        # replaced.
        return self._read(max(*news, self.last_seq), live)

    def catch_up(self) -> list[tuple[str, Message]]:
        """Everything the store has committed after ``last_seq``, read from its log."""
        return self._read(None, {})

    def events(self, timeout_ms: int = 1000) -> Iterator[tuple[str, Message]]:
        """Yield events forever: the backlog first, then live ones as they commit."""
        yield from self.catch_up()
        while True:
            yield from self.poll(timeout_ms)

    def _read(
        self, upto: int | None, live: dict[int, list[tuple[str, bytes]]]
    ) -> list[tuple[str, Message]]:
        """The log's events after ``last_seq`` up to ``upto`` (None: its head), checking each
        live copy in ``live`` against the logged one; at ``most`` events, what was read so far."""
        out: list[tuple[str, Message]] = []
        taken = 0
        page = READ_PAGE if self.most is None else min(READ_PAGE, self.most)
        self._behind_to = None
        while True:
            try:
                replies = [
                    self._log.fetch(self.last_seq, prefix=prefix, limit=page)
                    for prefix in self._read_prefixes
                ]
            except StoreUnavailable:
                # Deliver nothing unconfirmed: the store's next heartbeat brings it back.
                self._log_answers = False
                return out
            if any(reply.error is not None for reply in replies):
                self._log_answers = False
                return out
            self._log_answers = True
            head = min(reply.head for reply in replies)
            if head < self.last_seq:
                self.last_seq = head
                self.resets += 1
                return []
            # Each prefix's reply covers the log up to its head, or its last event if the page
            # is full: together they cover the log up to the lowest of these.
            covered = min(_covered(reply, page) for reply in replies)
            logged = sorted(
                event for reply in replies for event in reply.events if event[0] <= covered
            )
            if self.most is not None and len(logged) > self.most - taken:
                # Several prefixes' pages together can hold more than is left of ``most``.
                logged = logged[: self.most - taken]
                covered = logged[-1][0]
            taken += len(logged)
            for seq, topic, body in logged:
                for copy in live.pop(seq, ()):
                    if copy != (topic, body):
                        self._refused[FORGED] += 1
                self._deliver(topic, body, out)
            for seq in [seq for seq in live if seq <= covered]:
                # Logged under another topic than ours (or that seq is not ours at all).
                self._refused[FORGED] += len(live.pop(seq))
            self.last_seq = covered
            if covered == head or (upto is not None and covered >= upto):
                break
            if self.most is not None and taken >= self.most:
                # Live copies claiming more than the head stay in ``live``: counted when read.
                self._behind_to = head
                self._live_ahead = live
                return out
        # What is left claims a seq beyond the log's head: nobody committed it.
        self._refused[UNCONFIRMED] += sum(len(copies) for copies in live.values())
        return out

    def _deliver(self, topic: str, body: bytes, out: list[tuple[str, Message]]) -> None:
        try:
            out.append((topic, decode(body)))
        except UnknownType:
            self._refused[UNKNOWN_TYPE] += 1
        except Garbage:
            self._refused[BAD_BODY] += 1

    def close(self) -> None:
        """Close both sockets."""
        self._sub.close()
        self._log.close()


def _covered(reply: ReplayReply, page: int) -> int:
    """How far one prefix's reply covers the log: its head, or its last event when full."""
    if len(reply.events) < page:
        return reply.head
    return reply.events[-1][0]


def _outermost(prefixes: Sequence[str]) -> tuple[str, ...]:
    """The prefixes that no other one already covers (``evt.`` covers ``evt.usage.``)."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes), key=len):
        if not prefix.startswith(tuple(kept)):
            kept.append(prefix)
    return tuple(kept)
