"""The store process: the only writer of the database.

It applies observations in batched ``BEGIN IMMEDIATE`` transactions (each batch's records and
its file cursor together), publishes each committed event exactly as logged, answers replay
requests, keeps the latest heartbeat of every process of the stack in memory for ``otm status``
(answered on the replay socket; written into ``process_status`` only for a new process or pid,
every ``HEARTBEAT_SAVE_SECONDS`` and at stop, so an idle stack writes next to nothing; heartbeats
naming any other process are counted, never kept: memory and storage stay bounded), and
announces the head ``seq`` in its own heartbeat so a consumer notices an event it missed even
when nothing follows it.

A full disk or a damaged file never ends the process. A transaction that cannot be written is
rolled back and nothing of it is acknowledged, so the senders send it again (the collector
from the committed cursor); writes are retried with a back-off and resume as soon as space
returns. A damaged file (``PRAGMA quick_check`` at start, or an error found later) is no
longer written; replay answers what can still be read. Either state is one log line when it
begins and one when it ends, in the heartbeat's ``trouble`` and in ``<state>/run/store.health``.

In: observations and heartbeats from the bus, replay requests. Work: commit. Out: committed
events, replay answers.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec
import structlog
import zmq

from bus.client import Publisher
from bus.curve import serve_curve
from bus.lock import ProcessLock
from bus.messages import (
    CursorsReply,
    CursorsRequest,
    Heartbeat,
    HeartbeatsReply,
    HeartbeatsRequest,
    Message,
    ReplayReply,
    ReplayRequest,
)
from bus.topics import HEARTBEAT, OBSERVATIONS
from services.processes import PROCESSES
from services.runtime.hub import count_refusals, hub_pair, open_gate
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse
from services.runtime.runner import Batch, Gather, Node, run_service
from services.store.database import Opened, open_checked
from services.store.health import (
    HEALTH_FILE,
    MAX_RETRY_SECONDS,
    OK,
    HealthFile,
    WriteHealth,
    health_record,
)
from services.store.machines import committed_cursors, keep_store_machine
from services.store.trouble import DAMAGED, DISK_FULL, classify, classify_at, describe, free_mb
from services.store.writer import Store

if TYPE_CHECKING:
    from bus.gate import Gate  # a hub's only, and its authenticator brings asyncio

MAX_MESSAGES_PER_TRANSACTION = 256
GATHER = Gather(gap_ms=3, max_seconds=0.05, max_messages=MAX_MESSAGES_PER_TRANSACTION)
"""A batch is what is waiting plus whatever keeps arriving a few milliseconds apart: every
commit costs a few milliseconds whatever its size, so during a backlog a bigger transaction is
much cheaper per batch, while a lone live append waits only 3 ms."""
IDLE_SECONDS = 60.0
"""The store has nothing of its own to do between messages: its loop wakes for messages and
for its own heartbeat."""
KNOWN_PROCESSES = frozenset(p.name for p in PROCESSES)
"""The only heartbeats kept (in memory and in ``process_status``)."""
UNKNOWN_HEARTBEATS = "heartbeats_from_unknown_processes"
"""The store's counter of heartbeats ignored because they name no process of the stack."""
TROUBLE_EVENTS = {DISK_FULL: "disk_full", DAMAGED: "database_damaged"}
"""The log line's event for the start of each problem (others: ``write_failed``)."""
_replay_request_decoder = msgspec.msgpack.Decoder(
    ReplayRequest | HeartbeatsRequest | CursorsRequest
)


class StoreService:
    """The single writer: commits observations, serves replay, announces the head seq."""

    name = "store"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = ProcessLock(runtime.lock_path("store"))
        self.store: Store | None = None
        self.replies: zmq.Socket[bytes] | None = None
        self.health = WriteHealth(runtime.db_path)
        self.health_file = HealthFile(runtime.run / HEALTH_FILE)
        self.seen: dict[str, float] = {}
        """When each process's latest heartbeat came (also while none can be written)."""
        self.latest: dict[tuple[str, str], tuple[Heartbeat, float]] = {}
        """Each (machine, process)'s latest heartbeat and when it came: what
        ``HeartbeatsRequest`` gets."""
        self.configured = False
        self.gate: Gate | None = None

    def _listen(self, replies: zmq.Socket[bytes], where: str) -> None:
        """On a hub: also answer agents on tcp, with CURVE, after the local bind."""
        pair = hub_pair(self.runtime)
        self.gate = open_gate(self.runtime)
        serve_curve(replies, pair)
        self.gate.watch(replies)
        replies.bind(where)
        self.node.pulse.detail["listen"] = where

    def start(self, node: Node) -> Mapping[str, object]:
        """Take the lock, open and check the database, bind the replay socket, subscribe."""
        self.node = node
        self.lock.acquire()
        problem = self.health_file.open()
        if problem is not None:
            node.logger.warning(
                "health_file_unwritable", path=str(self.health_file.path), error=problem
            )
        self._open(time.monotonic())
        replies: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REP)
        replies.setsockopt(zmq.LINGER, 0)
        replies.bind(self.runtime.endpoints.replay)
        if self.runtime.listen is not None:
            self._listen(replies, self.runtime.listen.replay)
        self.replies = replies
        node.serve(replies, self._answer_replay)
        node.subscribe((OBSERVATIONS, HEARTBEAT))
        node.gather = GATHER
        node.pulse.detail["db"] = str(self.runtime.db_path)
        node.pulse.head_seq = self.head
        self._write_health()
        return {
            "db": str(self.runtime.db_path),
            "head_seq": self.head,
            "demo": self.runtime.demo,
            "state": self.health.state,
        }

    @property
    def head(self) -> int | None:
        """The log's head seq, None while no database is open."""
        return None if self.store is None else self.store.head

    def handle(self, batch: Batch) -> None:
        """Record heartbeats, commit observations, publish what was committed."""
        beats: list[Heartbeat] = []
        observations: list[Message] = []
        for _topic, message in batch:
            if isinstance(message, Heartbeat):
                if message.process in KNOWN_PROCESSES:
                    beats.append(message)
                else:
                    self.node.pulse.counters[UNKNOWN_HEARTBEATS] += 1
            else:
                observations.append(message)
        received = time.time()
        here = self.runtime.machine.id
        for beat in beats:
            key = (beat.machine or here, beat.process)
            if key[0] == here:
                # The health file speaks for this machine's processes (``otm status``).
                self.seen[beat.process] = received
            self.latest[key] = (beat, received)
        if self.store is not None:
            self.store.note_heartbeats(beats, received)
        self._write(observations)
        count_refusals(self.gate, self.node.pulse)
        self.node.pulse.head_seq = self.head
        if not self.health.writing:
            self._write_health(throttle=True)

    def step(self) -> float:
        """Nothing is due between messages (heartbeats arrive every few seconds, so a write that
        failed is tried again on time)."""
        count_refusals(self.gate, self.node.pulse)
        return IDLE_SECONDS

    def stop(self) -> Mapping[str, object]:
        """Close the replay socket and the database, release the lock."""
        head = self.head
        if self.replies is not None:
            self.replies.close(0)
        if self.gate is not None:
            self.gate.stop()
        if self.store is not None:
            if self.health.writing:
                # The last word of every process, for `otm status` once the stack is down.
                with contextlib.suppress(sqlite3.Error, OSError):
                    self.store.save_heartbeats(everything=True)
            self.store.conn.close()
        self.health_file.close()
        self.lock.release()
        return {"head_seq": head, "state": self.health.state}

    # -- writing -------------------------------------------------------------------------------

    def _open(self, now: float) -> None:
        """Open the database and check it; a problem becomes the health state, not an error."""
        opened = open_checked(str(self.runtime.db_path))
        self._log_integrity(opened)
        if opened.conn is None:
            assert opened.problem is not None and opened.error is not None
            self._failed(opened.problem, opened.error, now)
            return
        try:
            self.store = Store(opened.conn)
            _forget_unknown_processes(self.store)
        except sqlite3.Error as exc:
            opened.conn.close()
            kind = classify_at(exc, self.runtime.db_path)
            if kind is None:
                raise
            self._failed(kind, exc, now)
            return
        if opened.problem == DAMAGED:
            self._failed(DAMAGED, sqlite3.DatabaseError("; ".join(opened.findings)), now)

    def _log_integrity(self, opened: Opened) -> None:
        if opened.conn is None:
            return  # not opened: the problem is logged as the state it puts the store in
        self.node.logger.info(
            "integrity_checked",
            db=str(self.runtime.db_path),
            result="damaged" if opened.findings else "ok",
            found=list(opened.findings),
            seconds=round(opened.seconds, 3),
        )

    def _write(self, observations: list[Message]) -> None:
        """Write heartbeats and observations if writing is possible now; a failure is rolled
        back, acknowledges nothing and becomes the health state."""
        now = time.monotonic()
        if not self.health.may_try(now):
            self.node.pulse.counters["observations_not_written"] += len(observations)
            return
        try:
            if self.store is None:
                self._open(now)
                if self.store is None or not self.health.may_try(now):
                    return
            if not self.configured:
                activity = self.runtime.config.activity
                self.store.configure_activity(enabled=activity.enabled, keep=activity.keep)
                keep_store_machine(self.store.conn, self.runtime.machine)
                self.configured = True
            # In trouble, every try writes (all heartbeats): only a real write can tell that
            # space is back, and an idle stack has nothing else to write.
            saved = self.store.save_heartbeats(everything=self.health.state != OK)
            _drain_observations(
                self.store, observations, self.node.publisher, self.node.pulse, self.node.logger
            )
        except (sqlite3.Error, OSError) as exc:
            kind = classify_at(exc, self.runtime.db_path)
            if kind is None:
                raise
            self.node.pulse.counters["observations_not_written"] += len(observations)
            self._failed(kind, exc, now)
            return
        if saved or observations:
            self._recovered()

    def _failed(self, kind: str, exc: BaseException, now: float) -> None:
        message = describe(kind, self.runtime.db_path, exc)
        changed = self.health.failed(kind, message, now)
        self.node.pulse.detail["trouble"] = message
        self.node.pulse.counters["write_failures"] += 1
        if changed:
            log = self.node.logger.error if kind == DAMAGED else self.node.logger.warning
            log(
                TROUBLE_EVENTS.get(kind, "write_failed"),
                db=str(self.runtime.db_path),
                message=message,
                error=str(exc),
                free_mb=round(free_mb(self.runtime.db_path), 1),
                then=_what_follows(kind),
            )
        self._write_health(throttle=not changed)

    def _recovered(self) -> None:
        state, since, failures = self.health.state, self.health.since, self.health.failures
        if not self.health.succeeded():
            return
        self.node.pulse.detail.pop("trouble", None)
        self.node.logger.info(
            "writing_again",
            db=str(self.runtime.db_path),
            was=state,
            after_seconds=round(time.time() - since, 1),
            failed_attempts=failures,
            head_seq=self.head,
        )
        self._write_health()

    def _write_health(self, *, throttle: bool = False) -> None:
        self.health_file.write(health_record(self.health, self.seen, self.head), throttle=throttle)

    # -- replay --------------------------------------------------------------------------------

    def _answer_replay(self, socket: zmq.Socket[bytes]) -> None:
        reply = self._replay(socket.recv())
        socket.send(msgspec.msgpack.encode(reply))
        counter = (
            "heartbeats_served"
            if isinstance(reply, HeartbeatsReply)
            else "cursors_served"
            if isinstance(reply, CursorsReply)
            else "replays_served"
        )
        self.node.pulse.counters[counter] += 1

    def _replay(self, raw: bytes) -> ReplayReply | HeartbeatsReply | CursorsReply:
        """The answer to one request on the replay socket: events or the latest heartbeats,
        or an error saying why not (a REP socket must always answer, and a damaged page must
        not end the store)."""
        pulse = self.node.pulse
        try:
            request = _replay_request_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            pulse.counters["bad_replay_requests"] += 1
            return ReplayReply(head=self.head or 0, error=f"bad replay request: {exc}")
        if isinstance(request, HeartbeatsRequest):
            # From memory, also while nothing can be written: a full disk keeps status fresh.
            return HeartbeatsReply(heartbeats=sorted(self.latest.values(), key=_by_process))
        if self.store is None:
            return ReplayReply(head=0, error=self.health.message or "no database is open")
        try:
            if isinstance(request, CursorsRequest):
                return CursorsReply(cursors=committed_cursors(self.store.conn, request.machine))
            return self.store.replay(request)
        except sqlite3.Error as exc:
            pulse.counters["replays_failed"] += 1
            kind = classify(exc)
            if kind == DAMAGED:
                self._failed(DAMAGED, exc, time.monotonic())
            message = (
                describe(kind, self.runtime.db_path, exc)
                if kind is not None
                else f"cannot read {self.runtime.db_path}: {exc}"
            )
            return ReplayReply(head=self.store.head, error=message)


def _by_process(entry: tuple[Heartbeat, float]) -> tuple[str, str]:
    return entry[0].process, entry[0].machine


def _forget_unknown_processes(store: Store) -> None:
    # Rows an older store recorded for any name a heartbeat carried.
    known = sorted(KNOWN_PROCESSES)
    marks = ", ".join("?" * len(known))
    store.conn.execute(f"DELETE FROM process_status WHERE process NOT IN ({marks})", known)


def run(runtime: Runtime) -> None:
    """Run the store until SIGTERM."""
    run_service(StoreService(runtime), runtime)


def _what_follows(kind: str) -> str:
    if kind == DAMAGED:
        return (
            "nothing more is written to this file; replay serves what can be read; "
            "stop the stack and run `otm store recover`"
        )
    return (
        "nothing is committed or acknowledged (senders send again); retrying with a back-off "
        f"of up to {MAX_RETRY_SECONDS:g} s, and at once when space returns"
    )


def _drain_observations(
    store: Store,
    observations: list[Message],
    publisher: Publisher,
    pulse: Pulse,
    logger: structlog.typing.FilteringBoundLogger,
) -> None:
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
