"""The one process runner every process of the stack shares.

A process is a *service*: policy only (what to do with a message, what work is due). The runner
owns everything around it, the same way for every process, as circus's arbiter owns its
watchers' sockets and loop:

* start-up: logging, the runtime (config, state folder, endpoints), one ``ready`` log line with
  the fields the service returns from ``start``;
* the sockets: one publisher, the subscriptions the service asks for (``Node.subscribe``), a
  durable follower of committed events (``Node.follow``), extra sockets it serves
  (``Node.serve``, e.g. the store's replay socket);
* the loop: wait for messages, for the service's next due work or for the next heartbeat, hand
  messages over in batches, call ``step``; nothing else wakes it (a stop wakes it through the
  stop flag's file descriptor), so an idle process wakes only to beat;
* heartbeats: within a second of a change of the service's counters and details, else every
  ``IDLE_HEARTBEAT_SECONDS`` (faster just after start; a blocking service's thread learns of a
  change from ``Node.figures_changed`` and otherwise sleeps until the idle beat),
  and what every bus reader of the process dropped, by reason (``bus_dropped.<reason>``:
  undecodable frames, forged or unconfirmed events), for ``otm status``;
* stopping: SIGTERM or SIGINT ends the loop at once, ``stop`` closes the
  service, one ``stopping`` line, sockets closed: gone well within 2 s.

A service that must block in a library's own loop (uvicorn) is a
``BlockingService``: the runner calls ``serve`` on the main thread and beats from a thread of its
own (zmq sockets are not shared across threads).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import structlog
import zmq

from bus.client import Publisher, Subscriber
from bus.messages import Heartbeat, Message
from services.runtime.lifecycle import HEARTBEAT_SECONDS, Pulse, StopFlag
from services.runtime.memory import Rest

if TYPE_CHECKING:
    from services.runtime.follower import DurableFollower, Tracking
    from services.runtime.installation import Runtime

DROPPED = "bus_dropped."
"""Heartbeat counters ``bus_dropped.<reason>``: what this process's bus readers dropped."""

Batch = list[tuple[str, Message]]

BEATS_GATHER_SECONDS = 0.03
"""The stack's processes beat together (on whole seconds of the wall clock), but their beats
arrive a few milliseconds apart: a batch of heartbeats alone waits this long, asleep, for the
rest, so a reader of every beat (the store) wakes once for them all, not once per process."""

REST_SECONDS = 1.0
"""A wait at least this long is a rest: before it the process gives back the memory its work
freed (``services.runtime.memory``). Shorter waits are pauses within the work."""


class Service(Protocol):
    """A process's policy. The runner calls ``start`` once, then ``handle`` with each batch of
    messages that arrived and ``step`` after each wake-up, then ``stop``."""

    name: str

    def start(self, node: Node) -> Mapping[str, object]:
        """Open what the service needs (subscriptions through ``node``); the ``ready`` fields."""
        ...

    def handle(self, batch: Batch) -> None:
        """Act on messages from the subscriptions and the follower, in arrival order."""
        ...

    def step(self) -> float:
        """Do the work that is due; the seconds until more is due (0: call again at once)."""
        ...

    def stop(self) -> Mapping[str, object]:
        """Close what ``start`` opened; the ``stopping`` fields."""
        ...


class BlockingService(Protocol):
    """A process whose work runs in a library's own blocking loop."""

    name: str

    def start(self, node: Node) -> Mapping[str, object] | None:
        """Prepare (nothing may block here); the ``ready`` fields, or None when the service
        calls ``node.ready`` itself once it is ready (e.g. once a server is listening)."""
        ...

    def serve(self) -> None:
        """Block until ``node.stop`` is set (or the library's own loop ends)."""
        ...

    def stop(self) -> Mapping[str, object]:
        """Close what ``start`` opened; the ``stopping`` fields."""
        ...


@dataclass(frozen=True)
class Gather:
    """How the runner collects one batch: after the first message, it keeps receiving while
    messages arrive at most ``gap_ms`` apart, up to ``max_seconds`` and ``max_messages``.

    The store uses it: every commit costs a few milliseconds whatever its size, so a bigger
    transaction is much cheaper per message during a backlog, and a lone message waits only
    ``gap_ms``."""

    gap_ms: int = 0
    max_seconds: float = 0.0
    max_messages: int = 1 << 30


class Node:
    """What the runner gives a service: the runtime, a logger, the publisher, the heartbeat's
    counters and details, the stop flag, and the sockets the service asks for."""

    def __init__(self, name: str, runtime: Runtime, stop: StopFlag) -> None:
        self.name = name
        self.runtime = runtime
        self.stop = stop
        self.logger: structlog.typing.FilteringBoundLogger = structlog.get_logger().bind(
            process=name
        )
        self.publisher = Publisher(runtime.endpoints)
        self.pulse = Pulse(name, self.publisher, runtime.machine.id)
        self.gather = Gather()
        self.subscriber: Subscriber | None = None
        self.follower: DurableFollower | None = None
        self.before_beat: Callable[[], None] | None = None
        """For a blocking service: called in the heartbeat thread before each beat, to put
        current figures into ``pulse.counters``."""
        self.changed = threading.Event()
        """Set by ``figures_changed``: wakes a blocking service's heartbeat thread."""
        stop.also_wake(self.changed)
        self._served: list[tuple[zmq.Socket[bytes], Callable[[zmq.Socket[bytes]], None]]] = []
        self._drop_counts: list[Callable[[], Mapping[str, int]]] = []
        self._poller: zmq.Poller | None = None
        self.rest = Rest()
        """Gives freed memory back before a rest that follows work."""

    def figures_changed(self) -> None:
        """A blocking service says (from any thread) that what ``before_beat`` reports changed:
        the heartbeat thread looks at once and beats within a second, instead of at the next
        idle beat."""
        self.changed.set()

    def subscribe(self, prefixes: Sequence[str]) -> Subscriber:
        """Subscribe to topic prefixes; their messages reach ``Service.handle``."""
        self.subscriber = Subscriber(tuple(prefixes), self.runtime.endpoints, check_topics=True)
        self._poller = None
        return self.subscriber

    def follow(self, prefixes: Sequence[str], tracking: Tracking) -> DurableFollower:
        """Follow committed events durably from ``tracking``'s recorded position; they reach
        ``Service.handle`` in ``seq`` order, each exactly once (the service records each one it
        applied with ``follower.applied`` in the transaction of its effect)."""
        from services.runtime.follower import DurableFollower

        self.follower = DurableFollower(prefixes, tracking, self.runtime.endpoints)
        self._poller = None
        return self.follower

    def serve(
        self, socket: zmq.Socket[bytes], handler: Callable[[zmq.Socket[bytes]], None]
    ) -> None:
        """Call ``handler(socket)`` whenever ``socket`` is readable (e.g. a REP socket)."""
        self._served.append((socket, handler))
        self._poller = None

    def ready(self, fields: Mapping[str, object]) -> None:
        """Log the one ``ready`` line (tests and ``otm up`` wait for it)."""
        self.logger.info("ready", **fields)

    def publish(self, message: Message) -> None:
        """Publish on the bus under the message's own topic."""
        self.publisher.publish(message)

    def close(self) -> None:
        """Close every socket the node opened."""
        if self.follower is not None:
            self.follower.close()
        if self.subscriber is not None:
            self.subscriber.close()
        self.publisher.close()

    def receive(self, timeout: float) -> Batch:
        """Messages that arrive within ``timeout`` seconds (gathered as ``self.gather`` says),
        serving any readable served socket meanwhile."""
        poller = self._poller or self._new_poller()
        # Rounded up: a wait truncated to 0 ms would spin until the next heartbeat is due.
        wait_ms = math.ceil(timeout * 1000)
        if self.follower is not None and self.follower.behind:
            wait_ms = 0  # more committed events are waiting: only look what else came
        if wait_ms >= REST_SECONDS * 1000:
            self.rest.before_rest()
        ready = dict(poller.poll(wait_ms))
        batch: Batch = []
        if self.follower is not None:
            # Also when nothing arrived: the follower fills gaps the heartbeats reveal.
            batch.extend(self.follower.poll(0))
        for socket, handler in self._served:
            if socket in ready:
                handler(socket)
        if self.subscriber is not None and self.subscriber.socket in ready:
            batch.extend(self._gathered(self.subscriber))
        return batch

    def _new_poller(self) -> zmq.Poller:
        poller = zmq.Poller()
        for subscriber in self._subscribers():
            poller.register(subscriber.socket, zmq.POLLIN)
        for socket, _handler in self._served:
            poller.register(socket, zmq.POLLIN)
        # A stop wakes the poll at once, so it may sleep until the next thing that is due.
        poller.register(self.stop.fileno(), zmq.POLLIN)
        self._poller = poller
        return poller

    def _gathered(self, subscriber: Subscriber) -> Batch:
        batch = subscriber.drain()
        if batch and all(isinstance(message, Heartbeat) for _topic, message in batch):
            return self._with_the_other_beats(subscriber, batch)
        deadline = time.monotonic() + self.gather.max_seconds
        while (
            self.gather.gap_ms
            and len(batch) < self.gather.max_messages
            and time.monotonic() < deadline
        ):
            more = subscriber.recv(self.gather.gap_ms)
            if more is None:
                break
            batch.append(more)
            batch.extend(subscriber.drain())
        return batch

    def _with_the_other_beats(self, subscriber: Subscriber, batch: Batch) -> Batch:
        # Our own beat, if due about now, goes out first: a reader of every beat hears itself,
        # and so within this same sleep rather than in a wake-up of its own.
        if self.pulse.due_in() < BEATS_GATHER_SECONDS:
            self.count_bus_problems()
            self.pulse.beat(force=True)
        # Asleep, not polling: a poll would wake for each beat as it lands.
        self.stop.wait(BEATS_GATHER_SECONDS)
        batch.extend(subscriber.drain())
        return batch

    def count_drops_of(self, dropped: Callable[[], Mapping[str, int]]) -> None:
        """Also count what a bus reader the service runs itself dropped (``dropped()``: by
        reason; it may be called from the heartbeat's thread, so it returns a snapshot)."""
        self._drop_counts.append(dropped)

    def count_bus_problems(self) -> None:
        """Put what the bus readers dropped, by reason, into the heartbeat's counters."""
        total: Counter[str] = Counter()
        if self.subscriber is not None:
            total.update(self.subscriber.dropped)
        if self.follower is not None:
            total.update(self.follower.events.dropped)
        for dropped in self._drop_counts:
            total.update(dropped())
        for reason, count in total.items():
            self.pulse.counters[DROPPED + reason] = count

    def _subscribers(self) -> Iterable[Subscriber]:
        if self.subscriber is not None:
            yield self.subscriber
        if self.follower is not None:
            yield self.follower.events.subscriber


def run_service(service: Service, runtime: Runtime, stop: StopFlag | None = None) -> None:
    """Run ``service`` until SIGTERM or SIGINT (or until ``stop`` is set)."""
    stop = stop or StopFlag()
    node = Node(service.name, runtime, stop)
    try:
        node.ready(service.start(node))
        wait = 0.0
        while not stop.stopped:
            batch = node.receive(min(wait, node.pulse.due_in()))
            if batch:
                service.handle(batch)
            wait = service.step()
            node.count_bus_problems()
            node.pulse.beat()
        node.logger.info("stopping", **service.stop())
        node.pulse.beat(stopping=True)
    finally:
        node.close()


def run_blocking_service(
    service: BlockingService, runtime: Runtime, stop: StopFlag | None = None
) -> None:
    """Run a service that blocks in its own loop, with heartbeats from a thread of their own."""
    stop = stop or StopFlag()
    node = Node(service.name, runtime, stop)
    beats = threading.Thread(target=_beat_until_stopped, args=(node,), daemon=True)
    try:
        ready = service.start(node)
        if ready is not None:
            node.ready(ready)
        beats.start()
        service.serve()
        stop.set()
        node.logger.info("stopping", **service.stop())
    finally:
        stop.set()
        if beats.is_alive():
            beats.join(timeout=1.0)
        node.close()


def _beat_until_stopped(node: Node) -> None:
    # This thread's own publisher: the service's is used from the main thread.
    publisher = Publisher(node.runtime.endpoints)
    pulse = Pulse(node.name, publisher, node.pulse.machine)
    pulse.counters = node.pulse.counters
    pulse.detail = node.pulse.detail
    try:
        # Idle, the thread sleeps until the next idle beat unless the service says its figures
        # changed (``Node.figures_changed``); once a beat is due within a second it sleeps
        # through further changes, so a busy service still wakes it about once a second.
        while True:
            due = pulse.due_in()
            if due > HEARTBEAT_SECONDS:
                node.rest.before_rest()
                node.changed.wait(due)
            else:
                node.stop.wait(due)
            if node.stop.stopped:
                break
            node.changed.clear()
            if node.before_beat is not None:
                node.before_beat()
            node.count_bus_problems()
            pulse.beat()
        pulse.beat(stopping=True)
    finally:
        publisher.close()


def main(process: str, start: Callable[[Runtime], None]) -> int:
    """Start-up every process shares: logging, then the runtime (a wrong config or a second
    instance gets a one-line message and exit status 2), then ``start(runtime)``."""
    from bus.lock import AlreadyRunning
    from services.runtime.config import ConfigError
    from services.runtime.installation import load_runtime
    from services.runtime.logs import configure

    logger = configure(process, logging.INFO)
    try:
        runtime = load_runtime()
    except ConfigError as exc:
        logger.error("config_error", error=str(exc))
        return 2
    try:
        start(runtime)
    except ConfigError as exc:
        # A setting only the process itself can judge (a hub without its keys).
        logger.error("config_error", error=str(exc))
        return 2
    except AlreadyRunning as exc:
        logger.error(
            "already_running",
            error=f"another {process} is already running ({exc}). "
            "Stop it first, or use `otm status`.",
        )
        return 2
    return 0
