"""EventFollower: every committed event exactly once, in seq order, whatever PUB/SUB dropped.

The store side is real: events are committed by ``services.store.service.Store`` into a SQLite
file and replay requests are answered by ``Store.replay`` behind a REP socket in a thread.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import zmq

from bus.client import EventFollower, Publisher
from bus.endpoints import Endpoints
from bus.messages import Heartbeat, Message, ModelPrice, PriceObserved, ReplayRequest
from services.store.database import connect_reader
from services.store.ingest import Committed, committed_cursor
from services.store.writer import Store
from tests.helpers import SOURCE, batch, record

_request_decoder = msgspec.msgpack.Decoder(ReplayRequest)


class ReplayServer:
    """The store's replay socket, served from the database file by a thread."""

    def __init__(self, endpoint: str, db_path: Path) -> None:
        self.endpoint = endpoint
        self.db_path = db_path
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replay-server", daemon=True)

    def start(self) -> ReplayServer:
        """Bind and serve until ``stop``."""
        self._thread.start()
        assert self._bound.wait(5), "the replay server did not bind"
        return self

    def stop(self) -> None:
        """Stop serving and close the socket and connection."""
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        conn = connect_reader(str(self.db_path))
        sock = zmq.Context.instance().socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.bind(self.endpoint)
            self._bound.set()
            while not self._stop.is_set():
                if sock.poll(20):
                    request = _request_decoder.decode(sock.recv())
                    # A fresh Store per request reads the current head, as the live store knows it.
                    sock.send(msgspec.msgpack.encode(Store(conn).replay(request)))
        finally:
            sock.close(0)
            conn.close()


@pytest.fixture
def store(db: sqlite3.Connection) -> Store:
    """The writer, on the test's database."""
    return Store(db)


@pytest.fixture
def replay(addresses: Endpoints, store: Store, db_path: Path) -> Iterator[ReplayServer]:
    """The store's replay endpoint, answering from the test's database."""
    server = ReplayServer(addresses.replay, db_path).start()
    yield server
    server.stop()


@pytest.fixture
def publisher(addresses: Endpoints, forwarder: object) -> Iterator[Publisher]:
    """The store's publisher on a running bus."""
    pub = Publisher(addresses)
    yield pub
    pub.close()


@pytest.fixture
def follower(addresses: Endpoints, forwarder: object) -> Iterator[EventFollower]:
    """A follower of every committed event, starting after seq 0."""
    with EventFollower(where=addresses) as following:
        yield following


def commit(store: Store, count: int) -> list[Committed]:
    """Commit ``count`` usage batches of one file, one record each: seqs head+1 .. head+count."""
    out: list[Committed] = []
    for _ in range(count):
        current = committed_cursor(store.conn, SOURCE)
        before = None if current is None else current[0].offset
        after = (before or 0) + 100
        committed, _, _ = store.apply([batch([record(f"k{after}")], before, after)])
        out.extend(committed)
    assert count == len(out)
    return out


def go_live(publisher: Publisher, follower: EventFollower, first: Committed) -> None:
    """Re-publish ``first`` (seq 1) until the follower's subscription delivers it live."""
    deadline = time.monotonic() + 5
    while not follower.poll(20):
        assert time.monotonic() < deadline, "the follower never received a live event"
        publisher.publish_raw(first.topic, first.body)
    assert 1 == follower.last_seq


def collect(follower: EventFollower, upto: int, timeout: float = 5.0) -> list[int]:
    """Poll until ``upto`` is delivered; the seqs delivered meanwhile, in order."""
    seqs: list[int] = []
    deadline = time.monotonic() + timeout
    while follower.last_seq < upto and time.monotonic() < deadline:
        seqs.extend(seq_of(event) for _, event in follower.poll(20))
    return seqs


def seq_of(event: Message) -> int:
    """The seq of a committed event."""
    return int(event.seq)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("replay")
def test_gap_in_live_events_is_filled_from_replay(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """Live seq 4 after seq 1 makes the follower fetch 2 and 3 (never published) first."""
    events = commit(store, 4)
    go_live(publisher, follower, events[0])
    publisher.publish_raw(events[3].topic, events[3].body)
    assert [2, 3, 4] == collect(follower, 4)


@pytest.mark.usefixtures("replay")
def test_events_already_replayed_are_not_delivered_again(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """Live copies of events a replay already delivered are skipped: each seq comes once."""
    events = commit(store, 5)
    go_live(publisher, follower, events[0])
    publisher.publish_raw(events[2].topic, events[2].body)
    filled = collect(follower, 5)  # the replay brings everything up to the head
    for event in (events[3], events[4], events[1], *commit(store, 1)):
        publisher.publish_raw(event.topic, event.body)
    # One publisher's messages arrive in order: when 6 is delivered, the copies were handled.
    assert [2, 3, 4, 5, 6] == filled + collect(follower, 6)


def test_live_duplicates_are_skipped(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """A live event delivered twice is handed out once (no replay needed)."""
    events = commit(store, 3)
    go_live(publisher, follower, events[0])
    for event in (events[1], events[1], events[0], events[2]):
        publisher.publish_raw(event.topic, event.body)
    assert [2, 3] == collect(follower, 3)


@pytest.mark.usefixtures("replay")
def test_heartbeat_head_beyond_last_seq_triggers_a_fill(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """With nothing published after seq 1, a store heartbeat at head 3 brings 2 and 3."""
    events = commit(store, 3)
    go_live(publisher, follower, events[0])
    publisher.publish(
        Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0, head_seq=store.head)
    )
    assert [2, 3] == collect(follower, 3)


@pytest.mark.usefixtures("replay", "forwarder")
def test_catch_up_returns_the_backlog_in_order(store: Store, addresses: Endpoints) -> None:
    """catch_up returns every event committed after ``after``, in seq order."""
    commit(store, 6)
    with EventFollower(where=addresses, after=2) as late:
        assert [3, 4, 5, 6] == [seq_of(event) for _, event in late.catch_up()]


@pytest.mark.usefixtures("replay", "forwarder")
def test_catch_up_filters_by_prefix_but_advances_past_everything(
    store: Store, addresses: Endpoints
) -> None:
    """A follower of ``evt.price.`` gets only prices, yet its last_seq reaches the head."""
    commit(store, 2)
    price = ModelPrice(
        input="1", output="2", cache_write_5m="1", cache_write_1h="2", cache_read="0"
    )
    store.apply([PriceObserved(provider="claude", model="m", source="config", price=price)])
    commit(store, 2)
    with EventFollower(prefixes=("evt.price.",), where=addresses) as prices:
        topics = [topic for topic, _ in prices.catch_up()]
        assert (["evt.price.claude"], 5) == (topics, prices.last_seq)


@pytest.mark.slow
def test_gap_is_not_skipped_while_the_store_is_unreachable(
    addresses: Endpoints, store: Store, db_path: Path, publisher: Publisher, follower: EventFollower
) -> None:
    """A gap the store cannot fill yet is filled once it answers; no seq is ever skipped."""
    events = commit(store, 4)
    go_live(publisher, follower, events[0])
    publisher.publish_raw(events[3].topic, events[3].body)
    early = collect(follower, 4, timeout=3.0)  # replay times out: nothing may be skipped
    server = ReplayServer(addresses.replay, db_path).start()
    try:
        publisher.publish(
            Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0, head_seq=4)
        )
        late = collect(follower, 4)
    finally:
        server.stop()
    assert [2, 3, 4] == early + late
