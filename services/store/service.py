"""The store process: the only writer of the database.

It applies observations in batched ``BEGIN IMMEDIATE`` transactions (each batch's records and
its file cursor together), publishes each committed event exactly as logged, answers replay
requests, records every process's heartbeat for ``otm status``, and announces the head ``seq``
in its own heartbeat so a consumer notices an event it missed even when nothing follows it.
"""

from __future__ import annotations

import sqlite3
import time

import msgspec
import structlog
import zmq

from bus.client import Publisher, Subscriber
from bus.lock import ProcessLock
from bus.messages import Heartbeat, Message, PriceObserved, ReplayReply, ReplayRequest, UsageBatch
from bus.topics import HEARTBEAT, OBSERVATIONS
from otm.process import Pulse, StopFlag
from otm.runtime import Runtime
from services.store import log
from services.store.ingest import (
    AlreadyApplied,
    Committed,
    OutOfStep,
    Unchanged,
    apply_batch,
    apply_price,
)
from services.store.schema import connect_writer

MAX_MESSAGES_PER_TRANSACTION = 256
MAX_REPLAY_PAGE = 5000
_heartbeat_encoder = msgspec.msgpack.Encoder()
_replay_request_decoder = msgspec.msgpack.Decoder(ReplayRequest)


class Store:
    """The writer: owns the connection and the head ``seq``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.head = log.head(conn)

    def apply(self, messages: list[Message]) -> tuple[list[Committed], list[int], list[str]]:
        """Apply observations in one transaction.

        Returns the new events, the seqs of batches that were already applied (to be
        acknowledged again) and the reasons for the batches rejected as out of step.
        """
        committed: list[Committed] = []
        acks: list[int] = []
        rejected: list[str] = []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for message in messages:
                outcome = self._apply_one(message)
                match outcome:
                    case Committed():
                        committed.append(outcome)
                        self.head = outcome.seq
                    case AlreadyApplied(seq=seq):
                        acks.append(seq)
                    case OutOfStep(reason=reason):
                        rejected.append(reason)
                    case Unchanged():
                        pass
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.head = log.head(self.conn)
            raise
        return committed, acks, rejected

    def _apply_one(self, message: Message) -> Committed | AlreadyApplied | OutOfStep | Unchanged:
        if isinstance(message, UsageBatch):
            return apply_batch(self.conn, self.head, message)
        if isinstance(message, PriceObserved):
            return apply_price(self.conn, self.head, message)
        return Unchanged()

    def event(self, seq: int) -> tuple[str, bytes] | None:
        """The topic and body of one logged event."""
        row = self.conn.execute("SELECT topic, body FROM events WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def replay(self, request: ReplayRequest) -> ReplayReply:
        """Answer a replay request from the log."""
        limit = max(1, min(request.limit, MAX_REPLAY_PAGE))
        events = log.after(self.conn, request.after, request.prefix, limit)
        return ReplayReply(head=self.head, events=events)

    def record_heartbeats(self, beats: list[Heartbeat]) -> None:
        """Keep the latest heartbeat of each process (status only; not part of the log)."""
        now = time.time()
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO process_status (process, heartbeat, received_at) "
                "VALUES (?, ?, ?)",
                [(b.process, _heartbeat_encoder.encode(b), now) for b in beats],
            )


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


def _drain_observations(
    store: Store,
    subscriber: Subscriber,
    publisher: Publisher,
    pulse: Pulse,
    logger: structlog.typing.FilteringBoundLogger,
) -> None:
    observations: list[Message] = []
    beats: list[Heartbeat] = []
    for _topic, message in subscriber.drain():
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
