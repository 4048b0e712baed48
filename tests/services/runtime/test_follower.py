"""The durable follower: one contract for every tracking backend, then the real thing.

The end-to-end cases run the real store service (``StoreService`` on the shared runner, in a
thread), a real forwarder, real ZeroMQ sockets and real SQLite files.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bus.client import Publisher
from bus.endpoints import Endpoints
from bus.forwarder import Forwarder
from bus.messages import Message, UsageBatch
from services.runtime.follower import DurableFollower, MemoryTracking, SQLiteTracking, Tracking
from services.runtime.installation import load_runtime
from services.runtime.lifecycle import StopFlag
from services.runtime.runner import run_service
from services.store.database import connect_reader
from services.store.service import StoreService
from tests.helpers import batch, record, wait_until

TrackingFactory = Callable[[], Tracking]


@pytest.fixture(params=["memory", "sqlite"])
def make_tracking(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingFactory]:
    """A factory of trackings of one backend that all see the same recorded position."""
    opened: list[Tracking] = []
    memory = MemoryTracking()

    def make() -> Tracking:
        tracking: Tracking = (
            memory
            if request.param == "memory"
            else SQLiteTracking.open(tmp_path / "consumer.db", "consumer")
        )
        opened.append(tracking)
        return tracking

    yield make
    for tracking in opened:
        tracking.close()


# -- the contract every backend keeps ----------------------------------------------------------


def test_a_new_tracking_starts_before_the_first_event(make_tracking: TrackingFactory) -> None:
    """Nothing applied yet: the position is 0."""
    assert 0 == make_tracking().position()


def test_apply_runs_the_effect_and_records_the_seq(make_tracking: TrackingFactory) -> None:
    """Applying seq 3 runs its effect once and moves the position to 3."""
    tracking = make_tracking()
    effects: list[int] = []
    assert tracking.apply(3, lambda _conn: effects.append(3))
    assert ([3], 3) == (effects, tracking.position())


def test_an_event_already_applied_is_not_applied_again(make_tracking: TrackingFactory) -> None:
    """A replayed copy (same or older seq) has no effect and returns False."""
    tracking = make_tracking()
    effects: list[int] = []
    tracking.apply(5, lambda _conn: effects.append(5))
    assert (False, False) == (
        tracking.apply(5, lambda _conn: effects.append(55)),
        tracking.apply(4, lambda _conn: effects.append(44)),
    )
    assert [5] == effects


def test_a_failing_effect_records_nothing(make_tracking: TrackingFactory) -> None:
    """If the effect raises, the position stays where it was, so the event comes again."""
    tracking = make_tracking()
    tracking.apply(1, lambda _conn: None)

    def fail(_conn: sqlite3.Connection | None) -> None:
        raise RuntimeError("effect failed")

    with pytest.raises(RuntimeError):
        tracking.apply(2, fail)
    assert 1 == tracking.position()


def test_skip_to_moves_forward_only(make_tracking: TrackingFactory) -> None:
    """Skipping records a later seq and never moves the position back."""
    tracking = make_tracking()
    tracking.skip_to(9)
    tracking.skip_to(4)
    assert 9 == tracking.position()


def test_reset_to_moves_the_position_back(make_tracking: TrackingFactory) -> None:
    """A replaced log ending at 3 moves a position of 9 back to 3, and seq 4 applies again."""
    tracking = make_tracking()
    tracking.skip_to(9)
    tracking.reset_to(3)
    assert (3, True) == (tracking.position(), tracking.apply(4, lambda _conn: None))


def test_the_position_survives_reopening(make_tracking: TrackingFactory) -> None:
    """A tracking opened again (a restart) resumes from the recorded seq."""
    first = make_tracking()
    first.apply(7, lambda _conn: None)
    assert 7 == make_tracking().position()


# -- SQLite: the effect and the position in one transaction ------------------------------------


def test_sqlite_effect_and_position_commit_together(tmp_path: Path) -> None:
    """The effect's rows and the recorded seq are both there, or (on failure) neither is."""
    tracking = SQLiteTracking.open(tmp_path / "c.db", "c")
    tracking.conn.execute("CREATE TABLE seen (seq INTEGER)")

    def insert_then_fail(conn: sqlite3.Connection | None) -> None:
        assert conn is not None
        conn.execute("INSERT INTO seen VALUES (2)")
        raise RuntimeError("after the write")

    tracking.apply(1, lambda conn: conn.execute("INSERT INTO seen VALUES (1)") if conn else None)
    with pytest.raises(RuntimeError):
        tracking.apply(2, insert_then_fail)
    rows = tracking.conn.execute("SELECT seq FROM seen").fetchall()
    assert ([(1,)], 1) == (rows, tracking.position())
    tracking.close()


def test_sqlite_tracking_file_is_private(tmp_path: Path) -> None:
    """The consumer's database is created readable by its owner only."""
    SQLiteTracking.open(tmp_path / "private" / "c.db", "c").close()
    assert (0o700, 0o600) == (
        (tmp_path / "private").stat().st_mode & 0o777,
        (tmp_path / "private" / "c.db").stat().st_mode & 0o777,
    )


def test_two_followers_in_one_database_keep_their_own_positions(tmp_path: Path) -> None:
    """Positions are per follower name."""
    a = SQLiteTracking.open(tmp_path / "c.db", "a")
    b = SQLiteTracking.open(tmp_path / "c.db", "b")
    a.apply(4, lambda _conn: None)
    assert (4, 0) == (a.position(), b.position())
    a.close()
    b.close()


# -- end to end: the real store, the real bus --------------------------------------------------


class RunningStore:
    """The store service on the shared runner, in a thread, with a publisher to feed it."""

    def __init__(self, addresses: Endpoints) -> None:
        self.runtime = load_runtime()
        self.stop = StopFlag()
        self.thread = threading.Thread(
            target=run_service, args=(StoreService(self.runtime), self.runtime, self.stop)
        )
        self.thread.start()
        self.publisher = Publisher(addresses)

    def head(self) -> int:
        """The highest committed seq in the database."""
        if not self.runtime.db_path.exists():
            return 0
        conn = connect_reader(str(self.runtime.db_path))
        try:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
        except sqlite3.OperationalError:  # the store is still creating its tables
            return 0
        finally:
            conn.close()

    def commit(self, observation: UsageBatch) -> int:
        """Publish until the store has committed it (PUB/SUB may drop the first copies, as
        the collector's re-sends assume); the new head."""
        before = self.head()

        def committed() -> bool:
            self.publisher.publish(observation)
            return self.head() > before

        wait_until(committed, timeout=10, what="the store to commit")
        return self.head()

    def close(self) -> None:
        """Stop the store and wait for its thread."""
        self.publisher.close()
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.fixture
def running_store(
    state: Path, forwarder: Forwarder, addresses: Endpoints
) -> Iterator[RunningStore]:
    """A real store committing into ``$OTM_HOME``, stopped afterwards."""
    store = RunningStore(addresses)
    yield store
    store.close()


def usage(n: int) -> UsageBatch:
    """A batch of one record from its own file, so any order of batches commits."""
    return batch([record(f"k{n}")], None, 100, source=f"/logs/p/s{n}.jsonl")


def consume(follower: DurableFollower, upto: int, seen: list[int]) -> None:
    """Apply events (recording each seq in ``seen`` inside the transaction) until the follower
    reaches ``upto``."""

    def done() -> bool:
        for _topic, event in follower.poll(100):
            follower.apply(event, lambda _conn, e=event: seen.append(e.seq))
        return follower.position >= upto

    wait_until(done, timeout=15, what=f"the follower to reach seq {upto}")


def two_events_read(
    store: RunningStore, addresses: Endpoints, tmp_path: Path
) -> tuple[DurableFollower, list[Message]]:
    """Two usage events committed, and a new follower (tracking in ``c.db``) that has read
    both and applied neither."""
    for n in range(2):
        store.commit(usage(n))
    follower = DurableFollower(
        ("evt.usage.",), SQLiteTracking.open(tmp_path / "c.db", "c"), addresses
    )
    events: list[Message] = []
    wait_until(
        lambda: events.extend(e for _t, e in follower.poll(100)) or len(events) >= 2, 10, "2"
    )
    return follower, events


@pytest.mark.e2e
def test_restarted_follower_gets_what_was_committed_while_it_was_down(
    running_store: RunningStore, addresses: Endpoints, tmp_path: Path
) -> None:
    """Every event exactly once: three applied, the follower down for four more, then the rest."""
    for n in range(3):
        running_store.commit(usage(n))
    first = DurableFollower(("evt.usage.",), SQLiteTracking.open(tmp_path / "c.db", "c"), addresses)
    seen: list[int] = []
    consume(first, upto=3, seen=seen)
    first.close()
    for n in range(3, 7):
        head = running_store.commit(usage(n))
    again = DurableFollower(("evt.usage.",), SQLiteTracking.open(tmp_path / "c.db", "c"), addresses)
    consume(again, upto=head, seen=seen)
    again.close()
    assert list(range(1, head + 1)) == seen


@pytest.mark.e2e
def test_an_event_whose_effect_failed_comes_again_after_a_restart(
    running_store: RunningStore, addresses: Endpoints, tmp_path: Path
) -> None:
    """A crash inside the effect leaves the seq unrecorded; the next start applies it."""
    follower, events = two_events_read(running_store, addresses, tmp_path)
    seen: list[int] = []
    follower.apply(events[0], lambda _conn: seen.append(1))

    def crash(_conn: sqlite3.Connection | None) -> None:
        raise RuntimeError("killed mid-effect")

    with pytest.raises(RuntimeError):
        follower.apply(events[1], crash)
    follower.close()
    again = DurableFollower(("evt.usage.",), SQLiteTracking.open(tmp_path / "c.db", "c"), addresses)
    consume(again, upto=2, seen=seen)
    again.close()
    assert [1, 2] == seen


@pytest.mark.e2e
def test_a_rewound_follower_gets_the_failed_event_again_without_a_restart(
    running_store: RunningStore, addresses: Endpoints, tmp_path: Path
) -> None:
    """An effect that could not be written (a full disk) is applied later, in order."""
    follower, events = two_events_read(running_store, addresses, tmp_path)

    def disk_full(_conn: sqlite3.Connection | None) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(sqlite3.OperationalError):
        follower.apply(events[0], disk_full)
    follower.rewind()
    seen: list[int] = []
    consume(follower, upto=2, seen=seen)
    follower.close()
    assert [1, 2] == seen


@pytest.mark.e2e
def test_position_moves_past_events_outside_the_prefixes(
    running_store: RunningStore, addresses: Endpoints, tmp_path: Path
) -> None:
    """A follower of evt.limits. records the usage events it skipped (no replay on restart)."""
    head = 0
    for n in range(3):
        head = running_store.commit(usage(n))
    tracking = SQLiteTracking.open(tmp_path / "c.db", "c")
    follower = DurableFollower(("evt.limits.",), tracking, addresses)
    wait_until(lambda: follower.poll(100) == [] and tracking.position() >= head, 15, "skip")
    follower.close()
    assert head == SQLiteTracking.open(tmp_path / "c.db", "c").position()


@pytest.mark.e2e
def test_a_replaced_database_moves_the_position_back_and_new_events_apply(
    state: Path, forwarder: Forwarder, addresses: Endpoints, tmp_path: Path
) -> None:
    """At seq 3, a new database (head 0) resets the follower; its first event is applied."""
    store = RunningStore(addresses)
    tracking = SQLiteTracking.open(tmp_path / "c.db", "c")
    follower = DurableFollower(("evt.usage.",), tracking, addresses)
    seen: list[int] = []
    try:
        for n in range(3):
            store.commit(usage(n))
        consume(follower, upto=3, seen=seen)
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store.runtime.db_path}{suffix}").unlink(missing_ok=True)
        store = RunningStore(addresses)
        wait_until(lambda: follower.poll(100) or follower.events.resets, 15, "the reset")
        assert 0 == tracking.position()
        head = store.commit(usage(9))
        consume(follower, upto=head, seen=seen)
    finally:
        follower.close()
        store.close()
    assert [1, 2, 3, 1] == seen


def test_sqlite_tracking_commits_without_an_fsync_each(tmp_path: Path) -> None:
    """The tracking database is WAL with synchronous NORMAL (1): no fsync per applied event."""
    tracking = SQLiteTracking.open(tmp_path / "t.db", "f")
    try:
        assert ("wal", 1) == (
            tracking.conn.execute("PRAGMA journal_mode").fetchone()[0],
            tracking.conn.execute("PRAGMA synchronous").fetchone()[0],
        )
    finally:
        tracking.close()
