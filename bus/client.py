"""A small client for the bus: publish, subscribe, replay, and follow committed events gaplessly.

Custom tools need only ``EventFollower``::

    from bus.client import EventFollower
    with EventFollower(prefixes=("evt.usage.",)) as follower:
        for topic, event in follower.events():
            print(topic, event.seq)
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from types import TracebackType

import msgspec
import zmq

from bus.codec import Garbage, UnknownType, decode, encode
from bus.endpoints import Endpoints, endpoints
from bus.messages import Heartbeat, Message, ReplayReply, ReplayRequest
from bus.topics import EVENTS, HEARTBEAT, topic_for

HIGH_WATER_MARK = 200_000
_reply_decoder = msgspec.msgpack.Decoder(ReplayReply)
_request_encoder = msgspec.msgpack.Encoder()


class Publisher:
    """A PUB socket connected to the forwarder. Publishing never blocks; see DESIGN.md on loss."""

    def __init__(self, where: Endpoints | None = None) -> None:
        self.endpoints = where or endpoints()
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        self._sock.setsockopt(zmq.LINGER, 500)
        self._sock.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
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


class Subscriber:
    """A SUB socket on the forwarder that decodes frames and counts what it cannot use."""

    def __init__(self, prefixes: Sequence[str], where: Endpoints | None = None) -> None:
        self.endpoints = where or endpoints()
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
        for prefix in prefixes:
            self._sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self._sock.connect(self.endpoints.subscribe)
        self.garbage = 0
        self.unknown = 0

    @property
    def socket(self) -> zmq.Socket[bytes]:
        """The underlying socket, for use in a ``zmq.Poller``."""
        return self._sock

    def recv(self, timeout_ms: int | None = None) -> tuple[str, Message] | None:
        """The next usable message, or ``None`` once ``timeout_ms`` passes without one."""
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while True:
            remaining = None if deadline is None else max(0, deadline - time.monotonic())
            if not self._sock.poll(None if remaining is None else int(remaining * 1000)):
                return None
            item = self._decode(self._sock.recv_multipart())
            if item is not None:
                return item
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def drain(self) -> list[tuple[str, Message]]:
        """Every usable message already waiting, without blocking."""
        out = []
        while self._sock.poll(0):
            item = self._decode(self._sock.recv_multipart())
            if item is not None:
                out.append(item)
        return out

    def _decode(self, frames: list[bytes]) -> tuple[str, Message] | None:
        if len(frames) != 2:
            self.garbage += 1
            return None
        try:
            return frames[0].decode(), decode(frames[1])
        except UnknownType:
            self.unknown += 1
        except (Garbage, UnicodeDecodeError):
            self.garbage += 1
        return None

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

    def close(self) -> None:
        """Close the socket; the next fetch opens a new one."""
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None


class EventFollower:
    """Every committed event after ``after``, exactly once and in ``seq`` order.

    Live events come from the bus; whatever PUB/SUB dropped (a gap in ``seq``, or a head ``seq``
    in the store's heartbeat that we have not reached) is fetched from the store's replay socket.
    """

    def __init__(
        self,
        prefixes: Sequence[str] = (EVENTS,),
        after: int = 0,
        where: Endpoints | None = None,
    ) -> None:
        self.endpoints = where or endpoints()
        self.prefixes = tuple(prefixes)
        self.last_seq = after
        self._sub = Subscriber((EVENTS, HEARTBEAT), self.endpoints)
        self._replay = ReplayClient(self.endpoints)
        self._known_head = 0
        self.filled = 0

    def __enter__(self) -> EventFollower:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def poll(self, timeout_ms: int) -> list[tuple[str, Message]]:
        """Events that became available within ``timeout_ms``, gaps filled, in seq order."""
        out: list[tuple[str, Message]] = []
        first = self._sub.recv(timeout_ms)
        batch = [first] if first is not None else []
        batch.extend(self._sub.drain())
        for topic, message in batch:
            if isinstance(message, Heartbeat):
                if message.head_seq is not None:
                    self._known_head = max(self._known_head, message.head_seq)
                continue
            seq = getattr(message, "seq", None)
            if seq is None or seq <= self.last_seq:
                continue
            if seq > self.last_seq + 1:
                out.extend(self._fill(seq - 1))
                if seq <= self.last_seq:
                    continue
                if seq > self.last_seq + 1:
                    # The store could not fill the gap now: never deliver past a hole. The
                    # event will come back through replay once the store answers.
                    self._known_head = max(self._known_head, seq)
                    continue
            self.last_seq = seq
            if topic.startswith(self.prefixes):
                out.append((topic, message))
        if self._known_head > self.last_seq:
            out.extend(self._fill(self._known_head))
        return out

    def catch_up(self) -> list[tuple[str, Message]]:
        """Everything the store has committed after ``last_seq``, fetched by replay."""
        return self._fill(None)

    def events(self, timeout_ms: int = 1000) -> Iterator[tuple[str, Message]]:
        """Yield events forever: the backlog first, then live ones as they commit."""
        yield from self.catch_up()
        while True:
            yield from self.poll(timeout_ms)

    def _fill(self, upto: int | None) -> list[tuple[str, Message]]:
        out: list[tuple[str, Message]] = []
        while upto is None or self.last_seq < upto:
            try:
                reply = self._replay.fetch(self.last_seq, prefix=EVENTS)
            except StoreUnavailable:
                break
            self._known_head = max(self._known_head, reply.head)
            if not reply.events:
                break
            for seq, topic, body in reply.events:
                if seq <= self.last_seq:
                    continue
                self.last_seq = seq
                if not topic.startswith(self.prefixes):
                    continue
                try:
                    out.append((topic, decode(body)))
                except UnknownType:
                    self._sub.unknown += 1
                except Garbage:
                    self._sub.garbage += 1
                self.filled += 1
        return out

    def close(self) -> None:
        """Close both sockets."""
        self._sub.close()
        self._replay.close()
