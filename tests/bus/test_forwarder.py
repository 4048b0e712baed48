"""The forwarder: one pair of endpoints, prefix-matched delivery, one instance per state dir."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
import zmq

from bus.client import Publisher, Subscriber
from bus.codec import BAD_BODY, BAD_FRAMES, BAD_TOPIC, UNKNOWN_TYPE, WRONG_TOPIC, encode
from bus.endpoints import Endpoints, run_dir
from bus.forwarder import FORWARDER_THREAD, Forwarder
from bus.lock import AlreadyRunning
from bus.messages import Heartbeat, PriceCommitted, UsageCommitted
from tests.helpers import await_subscription, cursor, wait_until

USAGE = UsageCommitted(seq=1, batch_id="b", provider="claude", source="/a", cursor=cursor(10))
PRICE = PriceCommitted(seq=2, provider="claude", model="m", source="config")


@pytest.fixture
def publisher(addresses: Endpoints) -> Iterator[Publisher]:
    """A Publisher on the bus, closed afterwards."""
    pub = Publisher(addresses)
    yield pub
    pub.close()


@pytest.fixture
def raw_publisher(addresses: Endpoints) -> Iterator[zmq.Socket[bytes]]:
    """A bare PUB socket on the bus, for frames the Publisher would never send."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(addresses.publish)
    yield sock
    sock.close()


@pytest.fixture
def subscribe(addresses: Endpoints) -> Iterator[Callable[..., Subscriber]]:
    """Make Subscribers on the bus (``subscribe("evt.")``); all are closed afterwards."""
    made: list[Subscriber] = []

    def make(*prefixes: str) -> Subscriber:
        made.append(Subscriber(prefixes, addresses))
        return made[-1]

    yield make
    for sub in made:
        sub.close()


Subscribe = Callable[..., Subscriber]


@pytest.mark.usefixtures("forwarder")
def test_message_flows_from_publisher_to_subscriber(
    publisher: Publisher, subscribe: Subscribe
) -> None:
    """A published message reaches a subscriber as its topic and an equal message."""
    sub = subscribe("evt.")
    await_subscription(lambda body: publisher.publish_raw("evt.probe", body), sub)
    publisher.publish(USAGE)
    assert ("evt.usage.claude", USAGE) == sub.recv(timeout_ms=5000)


@pytest.mark.usefixtures("forwarder")
def test_subscriber_gets_only_its_prefixes(publisher: Publisher, subscribe: Subscribe) -> None:
    """A subscriber to ``evt.usage.`` never sees ``evt.price.*``, published just before."""
    sub = subscribe("evt.usage.")
    await_subscription(lambda body: publisher.publish_raw("evt.usage.probe", body), sub)
    publisher.publish(PRICE)
    publisher.publish(USAGE)
    # One publisher's messages arrive in order, so a delivered price would come first.
    assert ("evt.usage.claude", USAGE) == sub.recv(timeout_ms=5000)


@pytest.mark.usefixtures("forwarder")
def test_heartbeat_reaches_a_system_subscriber(publisher: Publisher, subscribe: Subscribe) -> None:
    """A subscriber to ``sys.heartbeat`` receives each process's beat under its own topic."""
    sub = subscribe("sys.heartbeat")
    await_subscription(lambda body: publisher.publish_raw("sys.heartbeat", body), sub)
    beat = Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0, head_seq=4)
    publisher.publish(beat)
    assert ("sys.heartbeat.store", beat) == sub.recv(timeout_ms=5000)


@pytest.mark.usefixtures("forwarder")
def test_subscriber_recv_times_out_with_none(subscribe: Subscribe) -> None:
    """recv returns None once its timeout passes with nothing to deliver."""
    assert subscribe("evt.").recv(timeout_ms=20) is None


@pytest.mark.usefixtures("forwarder")
def test_second_forwarder_on_the_same_state_dir_is_refused(
    state: Path, addresses: Endpoints
) -> None:
    """Starting another forwarder while one runs raises AlreadyRunning."""
    with pytest.raises(AlreadyRunning):
        Forwarder(addresses, state).start()


def test_forwarder_can_start_again_after_stop(state: Path, addresses: Endpoints) -> None:
    """A stopped forwarder releases its lock and endpoints: the next one starts."""
    first = Forwarder(addresses, state)
    first.start()
    first.stop()
    second = Forwarder(addresses, state)
    second.start()
    second.stop()


@pytest.mark.usefixtures("forwarder")
def test_run_dir_is_private(state: Path) -> None:
    """The directory holding the sockets is mode 0700."""
    assert 0o700 == stat.S_IMODE((state / "run").stat().st_mode)


def test_run_dir_is_made_private_even_if_it_existed(state: Path) -> None:
    """A pre-existing world-readable run dir is tightened to 0700."""
    (state / "run").mkdir()
    (state / "run").chmod(0o755)
    run_dir(state)
    assert 0o700 == stat.S_IMODE((state / "run").stat().st_mode)


@pytest.mark.e2e
def test_stale_socket_of_a_dead_forwarder_does_not_block_a_new_one(
    state: Path, addresses: Endpoints, publisher: Publisher, subscribe: Subscribe
) -> None:
    """After a forwarder is killed -9, leaving its socket files, a new one starts and forwards."""
    script = (
        "import time; from bus.endpoints import endpoints; from bus.forwarder import Forwarder; "
        "Forwarder(endpoints()).start(); print('ready', flush=True); time.sleep(60)"
    )
    dead = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert b"ready\n" == dead.stdout.readline()  # type: ignore[union-attr]
    finally:
        dead.kill()
        dead.wait()
        dead.stdout.close()  # type: ignore[union-attr]
    assert (state / "run" / "bus-in.sock").exists()
    fresh = Forwarder(addresses, state)
    fresh.start()
    try:
        sub = subscribe("evt.")
        await_subscription(lambda body: publisher.publish_raw("evt.probe", body), sub)
        publisher.publish(USAGE)
        assert ("evt.usage.claude", USAGE) == sub.recv(timeout_ms=5000)
    finally:
        fresh.stop()


UNKNOWN_BODY = msgspec.msgpack.encode({"type": "evt.future", "seq": 3})


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([b"evt.usage.claude", encode(USAGE), b"extra"], BAD_FRAMES, id="three-frames"),
        pytest.param([b"evt.usage.claude"], BAD_FRAMES, id="one-frame"),
        pytest.param([b"evt.usage.claude", b"\xc1not msgpack"], BAD_BODY, id="garbage-body"),
        pytest.param([b"evt.\xff\xfe", encode(USAGE)], BAD_TOPIC, id="topic-not-utf8"),
        pytest.param([b"evt.future.claude", UNKNOWN_BODY], UNKNOWN_TYPE, id="unknown-type"),
    ],
)
@pytest.mark.usefixtures("forwarder")
def test_subscriber_counts_bad_frames_and_keeps_receiving(
    raw_publisher: zmq.Socket[bytes], subscribe: Subscribe, frames: list[bytes], reason: str
) -> None:
    """A bad message is counted under its reason and the good one after it still arrives."""
    sub = subscribe("evt.")
    await_subscription(lambda body: raw_publisher.send_multipart([b"evt.probe", body]), sub)
    raw_publisher.send_multipart(frames)
    raw_publisher.send_multipart([b"evt.usage.claude", encode(USAGE)])
    received = sub.recv(timeout_ms=5000)
    assert (("evt.usage.claude", USAGE), {reason: 1}) == (received, dict(sub.dropped))


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        pytest.param(b"evt.usage.claude", encode(PRICE), id="price-as-usage"),
        pytest.param(b"evt.usage.codex", encode(USAGE), id="other-provider"),
        pytest.param(b"evt.usage.claude", encode(Heartbeat("x", 1, 0.0, 0.0)), id="heartbeat"),
    ],
)
@pytest.mark.usefixtures("forwarder")
def test_checking_subscriber_drops_a_message_under_a_topic_it_is_never_published_on(
    raw_publisher: zmq.Socket[bytes], addresses: Endpoints, topic: bytes, body: bytes
) -> None:
    """With check_topics, a known type under a foreign topic is counted wrong_topic, not given."""
    sub = Subscriber(("evt.",), addresses, check_topics=True)
    try:

        def one_round() -> tuple[str, object] | None:
            raw_publisher.send_multipart([topic, body])
            raw_publisher.send_multipart([b"evt.usage.claude", encode(USAGE)])
            return sub.recv(timeout_ms=50)

        received = wait_until(one_round, what="the good message")
        assert (("evt.usage.claude", USAGE), {WRONG_TOPIC}) == (received, set(sub.dropped))
    finally:
        sub.close()


@pytest.mark.usefixtures("forwarder")
def test_the_forwarder_thread_is_named_in_the_os() -> None:
    """`top -H` (and bench.idle) can tell the forwarder thread from the process's others."""
    names = {task.read_text().strip() for task in Path("/proc/self/task").glob("*/comm")}
    assert FORWARDER_THREAD in names
