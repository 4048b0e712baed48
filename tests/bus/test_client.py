"""EventFollower: every committed event exactly once, in seq order, whatever PUB/SUB dropped,
and nothing the store did not log (forged events, garbage); a replaced log restarts it.

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

from bus.client import FORGED, UNCONFIRMED, EventFollower, Publisher
from bus.codec import BAD_BODY, BAD_FRAMES, UNKNOWN_TYPE, WRONG_TOPIC, decode, encode
from bus.endpoints import Endpoints
from bus.messages import (
    Heartbeat,
    Message,
    ModelPrice,
    PriceCommitted,
    PriceObserved,
    ReplayRequest,
    UsageCommitted,
)
from services.store.database import connect_reader, connect_writer
from services.store.ingest import Committed, committed_cursor
from services.store.writer import Store
from tests.helpers import SOURCE, batch, cursor, record, wait_until

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
        current = committed_cursor(store.conn, "", SOURCE)
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
    go_live(publisher, follower, commit(store, 1)[0])
    events = commit(store, 3)
    publisher.publish_raw(events[2].topic, events[2].body)
    assert [2, 3, 4] == collect(follower, 4)


@pytest.mark.usefixtures("replay")
def test_events_already_replayed_are_not_delivered_again(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """Live copies of events a replay already delivered are skipped: each seq comes once."""
    go_live(publisher, follower, commit(store, 1)[0])
    events = commit(store, 4)
    publisher.publish_raw(events[1].topic, events[1].body)
    filled = collect(follower, 5)  # the read brings everything up to the head
    for event in (events[2], events[3], events[0], *commit(store, 1)):
        publisher.publish_raw(event.topic, event.body)
    # One publisher's messages arrive in order: when 6 is delivered, the copies were handled.
    assert [2, 3, 4, 5, 6] == filled + collect(follower, 6)


@pytest.mark.usefixtures("replay")
def test_live_duplicates_are_skipped(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """A live event delivered twice is handed out once."""
    go_live(publisher, follower, commit(store, 1)[0])
    events = commit(store, 2)
    for event in (events[0], events[0], events[1]):
        publisher.publish_raw(event.topic, event.body)
    assert [2, 3] == collect(follower, 3)


@pytest.mark.usefixtures("replay")
def test_heartbeat_head_beyond_last_seq_triggers_a_fill(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """With nothing published after seq 1, a store heartbeat at head 3 brings 2 and 3."""
    go_live(publisher, follower, commit(store, 1)[0])
    commit(store, 2)
    publisher.publish(
        Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0, head_seq=store.head)
    )
    assert [2, 3] == collect(follower, 3)


@pytest.mark.usefixtures("replay")
def test_follower_hears_only_the_stores_heartbeat(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """Another process's beat never reaches a follower's socket (it would wake for nothing)."""
    go_live(publisher, follower, commit(store, 1)[0])
    for process in ("collector", "store"):
        publisher.publish(Heartbeat(process=process, pid=1, started_at=0.0, sent_at=0.0))
    # One publisher's messages arrive in order: had the collector's come, it would come first.
    received = follower.subscriber.recv(5000)
    assert "store" == getattr(received[1] if received else None, "process", None)


@pytest.mark.usefixtures("replay", "forwarder")
def test_catch_up_returns_the_backlog_in_order(store: Store, addresses: Endpoints) -> None:
    """catch_up returns every event committed after ``after``, in seq order."""
    commit(store, 6)
    with EventFollower(where=addresses, after=2) as late:
        assert [3, 4, 5, 6] == [seq_of(event) for _, event in late.catch_up()]


@pytest.mark.usefixtures("replay", "forwarder")
def test_a_paged_catch_up_delivers_at_most_a_page_and_says_it_is_behind(
    store: Store, addresses: Endpoints
) -> None:
    """With ``most=2`` a catch-up of five events delivers two, and ``behind`` says more wait."""
    commit(store, 5)
    with EventFollower(where=addresses, most=2) as paged:
        seqs = [seq_of(event) for _, event in paged.catch_up()]
        assert ([1, 2], True) == (seqs, paged.behind)


@pytest.mark.usefixtures("replay", "forwarder")
def test_polls_after_a_paged_catch_up_bring_the_rest_with_no_news_on_the_bus(
    store: Store, addresses: Endpoints
) -> None:
    """Being behind is news enough: ``poll(0)`` pages on to the head, then ``behind`` is off."""
    commit(store, 5)
    with EventFollower(where=addresses, most=2) as paged:
        pages = [[seq_of(event) for _, event in paged.catch_up()]]
        while paged.behind:
            pages.append([seq_of(event) for _, event in paged.poll(0)])
        assert [[1, 2], [3, 4], [5]] == pages


@pytest.mark.usefixtures("replay")
def test_a_paged_follower_checks_live_copies_beyond_its_page_when_it_gets_there(
    store: Store, publisher: Publisher, addresses: Endpoints, forwarder: object
) -> None:
    """A forged live copy of a seq past the first page is still counted when its page comes."""
    with EventFollower(where=addresses, most=1) as paged:
        go_live(publisher, paged, commit(store, 1)[0])
        commit(store, 3)
        fake = forged(4)
        publisher.publish(fake)
        delivered = collect(paged, 4)
        assert ([2, 3, 4], 1) == (delivered, paged.dropped["forged"])


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
    """Events the store cannot confirm yet come once it answers; no seq is ever skipped."""
    server = ReplayServer(addresses.replay, db_path).start()
    go_live(publisher, follower, commit(store, 1)[0])
    server.stop()
    events = commit(store, 3)
    publisher.publish_raw(events[2].topic, events[2].body)
    early = collect(follower, 4, timeout=3.0)  # the read times out: nothing may be skipped
    server = ReplayServer(addresses.replay, db_path).start()
    try:
        publisher.publish(
            Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0, head_seq=4)
        )
        late = collect(follower, 4)
    finally:
        server.stop()
    assert [2, 3, 4] == early + late


# -- forged events: only what the store logged is delivered ----------------------------------


def forged(seq: int) -> UsageCommitted:
    """A commit nobody made: seq ``seq``, a record of a million output tokens."""
    fake = record("forged", output=1_000_000)
    return UsageCommitted(
        seq=seq,
        batch_id="forged",
        provider="claude",
        source=SOURCE,
        cursor=cursor(999),
        records=(fake,),
    )


@pytest.mark.usefixtures("replay")
def test_forged_event_beyond_the_head_is_dropped_and_the_real_one_delivered(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """A forged seq head+1 is counted unconfirmed; the event the store commits there arrives."""
    go_live(publisher, follower, commit(store, 1)[0])
    publisher.publish(forged(2))
    wait_until(lambda: follower.poll(20) or follower.dropped[UNCONFIRMED], what="the forgery")
    real = commit(store, 1)[0]
    publisher.publish_raw(real.topic, real.body)
    delivered = wait_until(lambda: follower.poll(20), what="the real event")
    expected = ([(real.topic, decode(real.body))], 1)
    assert expected == (delivered, follower.dropped[UNCONFIRMED])


@pytest.mark.usefixtures("replay")
def test_forged_body_under_a_logged_seq_is_dropped_and_counted(
    store: Store, publisher: Publisher, follower: EventFollower
) -> None:
    """Another body under seq 2 (logged, not yet delivered) gives the logged one, counted forged."""
    go_live(publisher, follower, commit(store, 1)[0])
    real = commit(store, 1)[0]
    publisher.publish(forged(2))
    delivered = wait_until(lambda: follower.poll(20), what="seq 2")
    expected = ([(real.topic, decode(real.body))], 1)
    assert expected == (delivered, follower.dropped[FORGED])


@pytest.mark.usefixtures("replay", "forwarder")
def test_forged_event_under_a_seq_logged_for_another_topic_is_counted_forged(
    store: Store, publisher: Publisher, addresses: Endpoints
) -> None:
    """A price follower told of price seq 2, where the log holds a usage event, gets nothing."""
    commit(store, 2)
    fake = PriceCommitted(seq=2, provider="claude", model="m", source="config")
    with EventFollower(prefixes=("evt.price.",), where=addresses) as prices:
        delivered: list[tuple[str, Message]] = []

        def refused() -> int:
            publisher.publish(fake)
            delivered.extend(prices.poll(20))
            return prices.dropped[FORGED]

        wait_until(refused, what="the forgery to be noticed")
        assert ([], 1, 2) == (delivered, prices.dropped[FORGED], prices.last_seq)


# -- garbage on the bus -----------------------------------------------------------------------


@pytest.fixture
def raw_publisher(addresses: Endpoints, forwarder: object) -> Iterator[zmq.Socket[bytes]]:
    """A bare PUB socket on the bus, for frames no Publisher would send."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(addresses.publish)
    yield sock
    sock.close()


@pytest.mark.usefixtures("replay")
def test_garbage_on_the_bus_is_dropped_counted_by_reason_and_following_goes_on(
    store: Store, raw_publisher: zmq.Socket[bytes], follower: EventFollower
) -> None:
    """Bad msgpack, an unknown type and a heartbeat under evt. are counted; seq 2 still comes."""
    (first,) = commit(store, 1)
    heartbeat = encode(Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0))
    garbage = [
        [b"evt.usage.claude", b"\xc1 not msgpack"],
        [b"evt.future.claude", msgspec.msgpack.encode({"type": "evt.future", "seq": 9})],
        [b"evt.usage.claude", heartbeat],
        [b"evt.usage.claude"],
    ]
    reasons = {BAD_BODY, UNKNOWN_TYPE, WRONG_TOPIC, BAD_FRAMES}
    delivered: list[tuple[str, Message]] = []

    def one_round() -> bool:
        for frames in garbage:
            raw_publisher.send_multipart(frames)
        raw_publisher.send_multipart([first.topic.encode(), first.body])
        delivered.extend(follower.poll(50))
        return reasons <= set(follower.dropped) and bool(delivered)

    wait_until(one_round, what="the garbage counted and seq 1 delivered")
    (real,) = commit(store, 1)
    raw_publisher.send_multipart([real.topic.encode(), real.body])
    assert ([1, 2], reasons) == (
        [seq_of(event) for _, event in delivered] + collect(follower, 2),
        set(follower.dropped),
    )


# -- a replaced database ----------------------------------------------------------------------


@pytest.mark.usefixtures("forwarder")
def test_a_replaced_log_with_a_lower_head_restarts_the_follower_there(
    addresses: Endpoints, store: Store, db_path: Path, tmp_path: Path, publisher: Publisher
) -> None:
    """Following at seq 5, a new database ending at 2 resets the follower to 2; 3 then comes."""
    server = ReplayServer(addresses.replay, db_path).start()
    with EventFollower(where=addresses) as follower:
        go_live(publisher, follower, commit(store, 1)[0])
        last = commit(store, 4)[-1]
        publisher.publish_raw(last.topic, last.body)
        assert [2, 3, 4, 5] == collect(follower, 5)
        server.stop()
        new_path = tmp_path / "rebuilt.db"
        new_store = Store(connect_writer(str(new_path)))
        commit(new_store, 2)
        server = ReplayServer(addresses.replay, new_path).start()
        try:
            beat = Heartbeat(process="store", pid=2, started_at=0.0, sent_at=0.0, head_seq=2)
            wait_until(
                lambda: publisher.publish(beat) or follower.poll(20) or follower.resets,
                what="the reset",
            )
            assert (1, 2) == (follower.resets, follower.last_seq)
            after = commit(new_store, 1)[0]
            publisher.publish_raw(after.topic, after.body)
            assert [3] == collect(follower, 3)
        finally:
            server.stop()
            new_store.conn.close()
