"""The store process: the only writer of the database.

It applies observations in batched ``BEGIN IMMEDIATE`` transactions (each batch's records and
its file cursor together), publishes each committed event exactly as logged, answers replay
requests, records every process's heartbeat for ``otm status``, and announces the head ``seq``
in its own heartbeat so a consumer notices an event it missed even when nothing follows it.
"""

from __future__ import annotations

import time

import msgspec
import structlog
import zmq

from bus.client import Publisher, Subscriber
from bus.lock import ProcessLock
from bus.messages import Heartbeat, Message, ReplayReply, ReplayRequest
from bus.topics import HEARTBEAT, OBSERVATIONS
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse, StopFlag
from services.store.database import connect_writer
from services.store.writer import Store

MAX_MESSAGES_PER_TRANSACTION = 256
GATHER_GAP_MS = 3
GATHER_MAX_SECONDS = 0.05
_replay_request_decoder = msgspec.msgpack.Decoder(ReplayRequest)


def run(runtime: Runtime) -> None:
    """Run the store until SIGTERM."""
    logger = structlog.get_logger().bind(process="store")
    stop = StopFlag()
    lock = ProcessLock(runtime.lock_path("store")).acquire()
    store = Store(connect_writer(str(runtime.db_path)))
    publisher = Publisher(runtime.endpoints)
    subscriber = Subscriber((OBSERVATIONS, HEARTBEAT), runtime.endpoints)
    replies: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REP)
    replies.setsockopt(zmq.LINGER, 0)
    replies.bind(runtime.endpoints.replay)
    poller = zmq.Poller()
    poller.register(subscriber.socket, zmq.POLLIN)
    poller.register(replies, zmq.POLLIN)
    pulse = Pulse("store", publisher)
    pulse.detail["db"] = str(runtime.db_path)
    logger.info("ready", db=str(runtime.db_path), head_seq=store.head, demo=runtime.demo)
    try:
        while not stop.stopped:
            ready = dict(poller.poll(timeout=int(min(200, pulse.due_in() * 1000) or 1)))
            if replies in ready:
                _serve_replay(store, replies, pulse)
            if subscriber.socket in ready:
                _drain_observations(store, subscriber, publisher, pulse, logger)
            pulse.counters["garbage_dropped"] = subscriber.garbage
            pulse.counters["unknown_types"] = subscriber.unknown
            pulse.beat(head_seq=store.head)
    finally:
        logger.info("stopping", head_seq=store.head)
        replies.close(0)
        subscriber.close()
        publisher.close()
        store.conn.close()
        lock.release()


def _serve_replay(store: Store, replies: zmq.Socket[bytes], pulse: Pulse) -> None:
    raw = replies.recv()
    try:
        reply = store.replay(_replay_request_decoder.decode(raw))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        pulse.counters["bad_replay_requests"] += 1
        reply = ReplayReply(head=store.head, error=f"bad replay request: {exc}")
    replies.send(msgspec.msgpack.encode(reply))
    pulse.counters["replays_served"] += 1


def _gather(subscriber: Subscriber) -> list[tuple[str, Message]]:
    """What is waiting, plus whatever keeps arriving a few milliseconds apart.

    Every commit costs a few milliseconds whatever its size, so during a backlog a bigger
    transaction is much cheaper per batch; a lone live append waits only ``GATHER_GAP_MS``.
    """
    messages = subscriber.drain()
    deadline = time.monotonic() + GATHER_MAX_SECONDS
    while len(messages) < MAX_MESSAGES_PER_TRANSACTION and time.monotonic() < deadline:
        more = subscriber.recv(GATHER_GAP_MS)
        if more is None:
            break
        messages.append(more)
        messages.extend(subscriber.drain())
    return messages


def _drain_observations(
    store: Store,
    subscriber: Subscriber,
    publisher: Publisher,
    pulse: Pulse,
    logger: structlog.typing.FilteringBoundLogger,
) -> None:
    observations: list[Message] = []
    beats: list[Heartbeat] = []
    for _topic, message in _gather(subscriber):
        if isinstance(message, Heartbeat):
            beats.append(message)
        else:
            observations.append(message)
    if beats:
        store.record_heartbeats(beats)
    for start in range(0, len(observations), MAX_MESSAGES_PER_TRANSACTION):
        chunk = observations[start : start + MAX_MESSAGES_PER_TRANSACTION]
        committed, acks, rejected = store.apply(chunk)
        for event in committed:
            publisher.publish_raw(event.topic, event.body)
        for seq in acks:
            # The first publication may have been lost: say it again so the sender stops.
            logged = store.event(seq)
            if logged is not None:
                publisher.publish_raw(*logged)
        pulse.counters["events_committed"] += len(committed)
        pulse.counters["batches_acknowledged_again"] += len(acks)
        pulse.counters["batches_out_of_step"] += len(rejected)
        for reason in rejected:
            logger.info("batch_out_of_step", reason=reason)
