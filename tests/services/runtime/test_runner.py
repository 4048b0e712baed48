"""The one process runner: start-up, the loop, heartbeats and stopping, shared by every process.

Toy services run on the real runner in a thread, over a real forwarder and real sockets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import structlog
import zmq

from bus.client import Publisher, Subscriber
from bus.codec import encode
from bus.endpoints import Endpoints
from bus.forwarder import Forwarder
from bus.messages import Heartbeat, RefreshRequested, UsageCommitted
from services.runtime.installation import load_runtime
from services.runtime.lifecycle import (
    HEARTBEAT_SECONDS,
    IDLE_HEARTBEAT_SECONDS,
    STARTUP_SECONDS,
    StopFlag,
)
from services.runtime.runner import Batch, Node, main, run_blocking_service, run_service
from tests.helpers import cursor, wait_until


class Echo:
    """Counts refresh requests and asks to be stepped every 50 ms."""

    name = "echo"

    def __init__(self) -> None:
        self.handled: list[str] = []
        self.steps = 0
        self.stopped = False

    def start(self, node: Node) -> Mapping[str, object]:
        """Subscribe to refresh requests."""
        self.node = node
        node.subscribe(("cmd.refresh.",))
        return {"answer": 42}

    def handle(self, batch: Batch) -> None:
        """Remember each request's provider and count it."""
        for _topic, message in batch:
            assert isinstance(message, RefreshRequested)
            self.handled.append(message.provider)
            self.node.pulse.counters["requests"] += 1

    def step(self) -> float:
        """Count the wake-ups."""
        self.steps += 1
        return 0.05

    def stop(self) -> Mapping[str, object]:
        """Note that stop was called."""
        self.stopped = True
        return {"handled": len(self.handled)}


class Blocking:
    """Blocks in its own loop until the stop flag is set; says ready itself."""

    name = "blocker"

    def start(self, node: Node) -> None:
        """Nothing to prepare; ready comes from ``serve``."""
        self.node = node
        node.before_beat = lambda: node.pulse.counters.update(beats_prepared=1)

    def serve(self) -> None:
        """Say ready, then wait for the stop flag like a library loop would."""
        self.node.ready({"listening": True})
        while not self.node.stop.wait(0.05):
            pass

    def stop(self) -> Mapping[str, object]:
        """Nothing to close."""
        return {}


@pytest.fixture
def runtime(state: Path, forwarder: Forwarder) -> Any:
    """The runtime of this test's state folder, with a forwarder running on it."""
    return load_runtime()


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """Every structlog entry logged during the test."""
    with structlog.testing.capture_logs() as entries:
        yield entries


def start_in_thread(target: Any, *args: Any) -> threading.Thread:
    """Run ``target(*args)`` in a thread (signals only reach the main thread; tests use
    ``StopFlag.set``)."""
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def heartbeat_of(
    name: str, addresses: Endpoints, timeout: float = 5.0, having: str | None = None
) -> Heartbeat:
    """The next heartbeat of process ``name`` on the bus (with a non-zero counter ``having``)."""
    subscriber = Subscriber(("sys.heartbeat",), addresses)
    try:

        def beat() -> Heartbeat | None:
            received = subscriber.recv(100)
            beat = received[1] if received else None
            if not isinstance(beat, Heartbeat) or beat.process != name:
                return None
            return beat if having is None or beat.counters.get(having) else None

        found: Heartbeat = wait_until(beat, timeout=timeout, what=f"a heartbeat of {name}")
        return found
    finally:
        subscriber.close()


def last_heartbeat(subscriber: Subscriber) -> Heartbeat:
    """The first beat marked ``stopping`` on ``subscriber`` (closed afterwards)."""
    try:

        def stopping() -> Heartbeat | None:
            received = subscriber.recv(100)
            beat = received[1] if received else None
            return beat if isinstance(beat, Heartbeat) and beat.stopping else None

        found: Heartbeat = wait_until(stopping, timeout=3.0, what="a beat marked stopping")
        return found
    finally:
        subscriber.close()


def test_ready_line_carries_the_fields_start_returned(
    runtime: Any, logs: list[dict[str, Any]]
) -> None:
    """One "ready" entry, bound to the process name, with what ``start`` returned."""
    stop = StopFlag()
    thread = start_in_thread(run_service, Echo(), runtime, stop)
    ready = wait_until(lambda: [e for e in logs if e["event"] == "ready"], what="ready")
    stop.set()
    thread.join(timeout=2)
    assert [{"event": "ready", "process": "echo", "answer": 42, "log_level": "info"}] == ready


def test_messages_on_subscribed_topics_reach_handle(runtime: Any, addresses: Endpoints) -> None:
    """A published refresh request arrives in ``handle``."""
    service = Echo()
    stop = StopFlag()
    thread = start_in_thread(run_service, service, runtime, stop)
    publisher = Publisher(addresses)
    request = RefreshRequested(provider="codex", reason="manual", requested_at=time.time())

    def arrived() -> bool:
        publisher.publish(request)
        return bool(service.handled)

    wait_until(arrived, what="the request to reach handle")
    publisher.close()
    stop.set()
    thread.join(timeout=2)
    assert "codex" == service.handled[0]


class BeatReader(Echo):
    """Records the size of each batch of heartbeats it is handed."""

    name = "beat-reader"

    def start(self, node: Node) -> Mapping[str, object]:
        """Subscribe to every heartbeat."""
        self.node = node
        self.batches: list[list[str]] = []
        node.subscribe(("sys.heartbeat",))
        return {}

    def handle(self, batch: Batch) -> None:
        """Keep the processes of the beats in this batch."""
        self.batches.append([getattr(message, "process", "") for _topic, message in batch])


def test_beats_landing_a_few_milliseconds_apart_come_in_one_batch(runtime: Any) -> None:
    """Two beats 10 ms apart reach ``handle`` together: one wake-up for the stack's beats."""
    service = BeatReader()
    stop = StopFlag()
    thread = start_in_thread(run_service, service, runtime, stop)
    publisher = Publisher(runtime.endpoints)
    first, second = (
        Heartbeat(process=name, pid=1, started_at=0.0, sent_at=0.0) for name in ("a", "b")
    )
    try:

        def pair_arrived() -> bool:
            publisher.publish(first)
            time.sleep(0.01)
            publisher.publish(second)
            time.sleep(0.1)
            return any("b" in batch for batch in service.batches)

        # The first pair may go out before the subscription is ready: only a whole one counts.
        wait_until(pair_arrived, what="the two beats to reach handle")
        wait_until(pair_arrived, what="the two beats to reach handle again")
        last = next(b for b in reversed(service.batches) if "b" in b)
        assert ["a", "b"] == [name for name in last if name in "ab"]
    finally:
        publisher.close()
        stop.set()
        thread.join(timeout=2)


def test_heartbeats_carry_the_service_counters(runtime: Any, addresses: Endpoints) -> None:
    """The runner beats with the counters the service keeps in ``node.pulse``."""
    service = Echo()
    stop = StopFlag()
    thread = start_in_thread(run_service, service, runtime, stop)
    wait_until(lambda: hasattr(service, "node"), what="start")
    service.node.pulse.counters["requests"] = 7
    beat = heartbeat_of("echo", addresses)
    stop.set()
    thread.join(timeout=2)
    assert 7 == beat.counters["requests"]


def test_step_is_called_again_after_the_wait_it_asked_for(runtime: Any) -> None:
    """A service asking for 50 ms between steps is stepped about 20 times a second."""
    service = Echo()
    stop = StopFlag()
    thread = start_in_thread(run_service, service, runtime, stop)
    time.sleep(1.0)
    stop.set()
    thread.join(timeout=2)
    assert 10 <= service.steps <= 40


def test_stop_flag_ends_the_loop_promptly_and_calls_stop(
    runtime: Any, logs: list[dict[str, Any]]
) -> None:
    """Within 2 s of the stop request the loop has ended, ``stop`` ran, "stopping" was logged."""
    service = Echo()
    stop = StopFlag()
    thread = start_in_thread(run_service, service, runtime, stop)
    wait_until(lambda: service.steps > 0, what="the loop to run")
    asked = time.monotonic()
    stop.set()
    thread.join(timeout=2)
    took = time.monotonic() - asked
    assert (False, True) == (thread.is_alive(), service.stopped)
    assert took < 2.0
    assert ["stopping"] == [e["event"] for e in logs if e["event"] == "stopping"]


@pytest.mark.parametrize(
    ("runner", "make", "name"),
    [(run_service, Echo, "echo"), (run_blocking_service, Blocking, "blocker")],
    ids=["loop", "blocking"],
)
def test_a_stopping_service_says_so_in_its_last_heartbeat(
    runtime: Any, addresses: Endpoints, runner: Any, make: Any, name: str
) -> None:
    """After a stop request the process's last beat (from the loop, or a blocking service's
    beat thread) is marked ``stopping``."""
    subscriber = Subscriber(("sys.heartbeat",), addresses)
    stop = StopFlag()
    thread = start_in_thread(runner, make(), runtime, stop)
    heartbeat_of(name, addresses)
    stop.set()
    thread.join(timeout=3)
    last = last_heartbeat(subscriber)
    assert (name, False) == (last.process, thread.is_alive())


def test_blocking_service_beats_while_it_blocks(runtime: Any, addresses: Endpoints) -> None:
    """A blocking service beats from the runner's thread, figures from ``before_beat``."""
    stop = StopFlag()
    thread = start_in_thread(run_blocking_service, Blocking(), runtime, stop)
    beat = heartbeat_of("blocker", addresses)
    stop.set()
    thread.join(timeout=2)
    # The first beats may go out before the subscription reaches the bus: any one will do.
    assert (True, False) == (beat.counters["beats_prepared"] >= 1, thread.is_alive())


def test_blocking_service_says_ready_itself(runtime: Any, logs: list[dict[str, Any]]) -> None:
    """When ``start`` returns None the runner logs no ready line; the service's own counts."""
    stop = StopFlag()
    thread = start_in_thread(run_blocking_service, Blocking(), runtime, stop)
    wait_until(lambda: any(e["event"] == "ready" for e in logs), what="ready")
    stop.set()
    thread.join(timeout=2)
    assert [{"listening": True}] == [
        {"listening": e["listening"]} for e in logs if e["event"] == "ready"
    ]


def test_garbage_on_a_subscription_is_dropped_counted_and_the_service_lives_on(
    runtime: Any, addresses: Endpoints
) -> None:
    """Bad msgpack and a commit sent as a command never reach ``handle``; the heartbeat counts
    them by reason and the next real request is handled."""
    service = Echo()
    stop = StopFlag()
    thread = start_in_thread(run_service, service, runtime, stop)
    raw = zmq.Context.instance().socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(addresses.publish)
    commit = UsageCommitted(seq=1, batch_id="b", provider="claude", source="/a", cursor=cursor(1))
    request = RefreshRequested(provider="codex", reason="manual", requested_at=time.time())

    def garbage_then_request() -> bool:
        raw.send_multipart([b"cmd.refresh.claude", b"\xc1 not msgpack"])
        raw.send_multipart([b"cmd.refresh.claude", encode(commit)])
        raw.send_multipart([b"cmd.refresh.codex", encode(request)])
        return bool(service.handled)

    try:
        wait_until(garbage_then_request, what="the request after the garbage")
        beat = heartbeat_of("echo", addresses, having="bus_dropped.wrong_topic")
    finally:
        raw.close()
        stop.set()
        thread.join(timeout=2)
    dropped = {k for k, v in beat.counters.items() if k.startswith("bus_dropped.") and v}
    assert ({"bus_dropped.bad_body", "bus_dropped.wrong_topic"}, "codex") == (
        dropped,
        service.handled[0],
    )


def test_blocking_service_heartbeat_counts_what_its_own_readers_dropped(
    runtime: Any, addresses: Endpoints
) -> None:
    """A reader the service runs itself (the api's stream) is counted via ``count_drops_of``."""
    service = Blocking()
    stop = StopFlag()
    thread = start_in_thread(run_blocking_service, service, runtime, stop)
    wait_until(lambda: hasattr(service, "node"), what="start")
    service.node.count_drops_of(lambda: {"forged": 2})
    beat = heartbeat_of("blocker", addresses, having="bus_dropped.forged")
    stop.set()
    thread.join(timeout=2)
    assert 2 == beat.counters["bus_dropped.forged"]


def test_a_wrong_config_stops_start_up_with_a_message_naming_the_file(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit status 2 and a log line naming config.toml; the service never starts."""
    (state / "config.toml").write_text("[scheduler]\nrefresh_seconds = 'often'\n")
    started: list[object] = []
    code = main("scheduler", started.append)
    err = capsys.readouterr().err
    assert (2, []) == (code, started)
    assert "config.toml" in err and "refresh_seconds" in err


class Quiet:
    """A blocking service whose figures change only when the test says so; it records each
    time the heartbeat thread prepares them."""

    name = "quiet"

    def __init__(self) -> None:
        self.prepared = 0
        self.figure = 0

    def start(self, node: Node) -> Mapping[str, object]:
        """Count each preparation; report ``figure``."""
        self.node = node
        node.before_beat = self._prepare
        return {}

    def _prepare(self) -> None:
        self.prepared += 1
        self.node.pulse.counters["figure"] = self.figure

    def serve(self) -> None:
        """Block until stopped."""
        self.node.stop.wait(None)

    def stop(self) -> Mapping[str, object]:
        """Nothing to close."""
        return {}


def idle_beats(subscriber: Subscriber, count: int) -> list[Heartbeat]:
    """The next ``count`` beats of "quiet" sent after its start-up phase."""
    beats: list[Heartbeat] = []

    def more() -> bool:
        received = subscriber.recv(100)
        beat = received[1] if received else None
        grown = isinstance(beat, Heartbeat) and beat.process == "quiet"
        if grown and beat.sent_at - beat.started_at > STARTUP_SECONDS + HEARTBEAT_SECONDS:
            beats.append(beat)
        return len(beats) >= count

    wait_until(more, timeout=4 * IDLE_HEARTBEAT_SECONDS + STARTUP_SECONDS, what="idle beats")
    return beats


def test_idle_blocking_service_prepares_figures_once_per_idle_beat(
    runtime: Any, logs: list[dict[str, Any]]
) -> None:
    """While nothing changes, the heartbeat thread wakes only for the idle beats: one
    ``before_beat`` between two of them, not one a second."""
    service = Quiet()
    stop = StopFlag()
    subscriber = Subscriber(("sys.heartbeat",), runtime.endpoints)
    thread = start_in_thread(run_blocking_service, service, runtime, stop)
    try:
        idle_beats(subscriber, 1)
        before = service.prepared
        idle_beats(subscriber, 1)
        between = service.prepared - before
    finally:
        subscriber.close()
        stop.set()
        thread.join(timeout=2)
    assert 1 == between


def test_changed_figures_are_beaten_before_the_next_idle_beat(
    runtime: Any, logs: list[dict[str, Any]]
) -> None:
    """``figures_changed`` right after an idle beat gets the new figure out in a beat of its
    own, before the next idle beat is due."""
    service = Quiet()
    stop = StopFlag()
    subscriber = Subscriber(("sys.heartbeat",), runtime.endpoints)
    thread = start_in_thread(run_blocking_service, service, runtime, stop)
    try:
        [idle] = idle_beats(subscriber, 1)
        service.figure = 7
        service.node.figures_changed()
        [announced] = idle_beats(subscriber, 1)
    finally:
        subscriber.close()
        stop.set()
        thread.join(timeout=2)
    next_idle = (idle.sent_at // IDLE_HEARTBEAT_SECONDS + 1) * IDLE_HEARTBEAT_SECONDS
    assert (7, True) == (announced.counters["figure"], announced.sent_at < next_idle)


class WorksOnce:
    """Works for 50 ms of CPU in its first step, then rests for a long time."""

    name = "worker"

    def start(self, node: Node) -> Mapping[str, object]:
        """Nothing to open."""
        self.node = node
        return {}

    def handle(self, batch: Batch) -> None:
        """No subscriptions, so never called."""

    def step(self) -> float:
        """The first call burns CPU; every call asks for a long rest."""
        if not hasattr(self, "worked"):
            started = time.process_time()
            while time.process_time() - started < 0.05:
                pass
            self.worked = True
        return 30.0

    def stop(self) -> Mapping[str, object]:
        """Nothing to close."""
        return {}


@pytest.mark.parametrize(
    ("runner", "make"), [(run_service, WorksOnce), (run_blocking_service, Blocking)]
)
def test_a_process_resting_after_work_gives_memory_back(
    runtime: Any, logs: list[dict[str, Any]], runner: Any, make: Any
) -> None:
    """Before the rest that follows work (the loop's, or a blocking service's beat thread's),
    the runner trims the heap (``services.runtime.memory``)."""
    # ``logs`` captures what the service logs: an earlier test's structlog output may be closed.
    service = make()
    stop = StopFlag()
    thread = start_in_thread(runner, service, runtime, stop)
    try:
        trims = wait_until(
            lambda: hasattr(service, "node") and service.node.rest.trims,
            timeout=15.0,
            what="a trim",
        )
    finally:
        stop.set()
        thread.join(timeout=2)
    assert 1 == trims
