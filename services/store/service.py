"""The store process: the only writer of the database.

It applies observations in batched ``BEGIN IMMEDIATE`` transactions (each batch's records and
its file cursor together), publishes each committed event exactly as logged, answers replay
requests, records the heartbeat of every process of the stack for ``otm status`` (heartbeats
naming any other process are counted, never stored: storage stays bounded), and announces the
head ``seq`` in its own heartbeat so a consumer notices an event it missed even when nothing
follows it.

In: observations and heartbeats from the bus, replay requests. Work: commit. Out: committed
events, replay answers.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import structlog
import zmq

from bus.client import Publisher
from bus.lock import ProcessLock
from bus.messages import Heartbeat, Message, ReplayReply, ReplayRequest
from bus.topics import HEARTBEAT, OBSERVATIONS
from services.processes import PROCESSES
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse
from services.runtime.runner import Batch, Gather, Node, run_service
from services.store.database import connect_writer
from services.store.writer import Store

MAX_MESSAGES_PER_TRANSACTION = 256
GATHER = Gather(gap_ms=3, max_seconds=0.05, max_messages=MAX_MESSAGES_PER_TRANSACTION)
"""A batch is what is waiting plus whatever keeps arriving a few milliseconds apart: every
commit costs a few milliseconds whatever its size, so during a backlog a bigger transaction is
much cheaper per batch, while a lone live append waits only 3 ms."""
IDLE_SECONDS = 1.0
KNOWN_PROCESSES = frozenset(p.name for p in PROCESSES)
"""The only heartbeats recorded in ``process_status``."""
UNKNOWN_HEARTBEATS = "heartbeats_from_unknown_processes"
"""The store's counter of heartbeats ignored because they name no process of the stack."""
_replay_request_decoder = msgspec.msgpack.Decoder(ReplayRequest)


class StoreService:
    """The single writer: commits observations, serves replay, announces the head seq."""

    name = "store"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = ProcessLock(runtime.lock_path("store"))
        self.store: Store | None = None
        self.replies: zmq.Socket[bytes] | None = None

    def start(self, node: Node) -> Mapping[str, object]:
        """Take the lock, open the database, bind the replay socket, subscribe."""
        self.node = node
        self.lock.acquire()
        self.store = Store(connect_writer(str(self.runtime.db_path)))
        _forget_unknown_processes(self.store)
        activity = self.runtime.config.activity
        self.store.configure_activity(enabled=activity.enabled, keep=activity.keep)
        replies: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REP)
        replies.setsockopt(zmq.LINGER, 0)
        replies.bind(self.runtime.endpoints.replay)
        self.replies = replies
        node.serve(replies, self._answer_replay)
        node.subscribe((OBSERVATIONS, HEARTBEAT))
        node.gather = GATHER
        node.pulse.detail["db"] = str(self.runtime.db_path)
        node.pulse.head_seq = self.store.head
        return {
            "db": str(self.runtime.db_path),
            "head_seq": self.store.head,
            "demo": self.runtime.demo,
        }

    def handle(self, batch: Batch) -> None:
        """Record heartbeats, commit observations, publish what was committed."""
        assert self.store is not None
        _drain_observations(
            self.store, batch, self.node.publisher, self.node.pulse, self.node.logger
        )
        self.node.pulse.head_seq = self.store.head

    def step(self) -> float:
        """Nothing is due between messages."""
        return IDLE_SECONDS

    def stop(self) -> Mapping[str, object]:
        """Close the replay socket and the database, release the lock."""
        head = self.store.head if self.store is not None else None
        if self.replies is not None:
            self.replies.close(0)
        if self.store is not None:
            self.store.conn.close()
        self.lock.release()
        return {"head_seq": head}

    def _answer_replay(self, socket: zmq.Socket[bytes]) -> None:
        assert self.store is not None
        _serve_replay(self.store, socket, self.node.pulse)


def run(runtime: Runtime) -> None:
    """Run the store until SIGTERM."""
    run_service(StoreService(runtime), runtime)


def _serve_replay(store: Store, replies: zmq.Socket[bytes], pulse: Pulse) -> None:
    raw = replies.recv()
    try:
        reply = store.replay(_replay_request_decoder.decode(raw))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        pulse.counters["bad_replay_requests"] += 1
        reply = ReplayReply(head=store.head, error=f"bad replay request: {exc}")
    replies.send(msgspec.msgpack.encode(reply))
    pulse.counters["replays_served"] += 1


def _forget_unknown_processes(store: Store) -> None:
    # Rows an older store recorded for any name a heartbeat carried.
    known = sorted(KNOWN_PROCESSES)
    marks = ", ".join("?" * len(known))
    store.conn.execute(f"DELETE FROM process_status WHERE process NOT IN ({marks})", known)


def _drain_observations(
    store: Store,
    batch: Batch,
    publisher: Publisher,
    pulse: Pulse,
    logger: structlog.typing.FilteringBoundLogger,
) -> None:
    observations: list[Message] = []
    beats: list[Heartbeat] = []
    for _topic, message in batch:
        if isinstance(message, Heartbeat):
            if message.process in KNOWN_PROCESSES:
                beats.append(message)
            else:
                pulse.counters[UNKNOWN_HEARTBEATS] += 1
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
