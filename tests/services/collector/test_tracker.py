"""The collector's tracker: positions, batches in flight, and settling overdue ones."""

from __future__ import annotations

import sqlite3
import time

from bus.messages import UsageBatch
from services.collector.tracker import (
    MAX_IN_FLIGHT,
    RESEND_AFTER_SECONDS,
    Tracker,
    batch_id,
    committed_cursor,
)
from services.store.machines import store_machine
from services.store.writer import Store
from tests.helpers import SOURCE, batch, cursor, record

OTHER = "/logs/project/other.jsonl"


def age(tracker: Tracker, *batches: UsageBatch) -> None:
    """Make ``batches`` look sent long enough ago to be overdue."""
    for b in batches:
        tracker.pending[b.batch_id].sent_at = time.monotonic() - RESEND_AFTER_SECONDS - 1


def chain(tracker: Tracker, *offsets: int, source: str = SOURCE) -> list[UsageBatch]:
    """Send consecutive batches of ``source`` between ``offsets`` (the first from no cursor)."""
    sent = []
    starts: list[int | None] = [None, *offsets[:-1]]
    for before, after in zip(starts, offsets, strict=True):
        b = batch([record(f"{source}:{after}")], before=before, after=after, source=source)
        tracker.sent(b)
        sent.append(b)
    return sent


# -- batch ids --------------------------------------------------------------------------------


def test_batch_id_is_deterministic() -> None:
    """The same span of the same file always gets the same id."""
    assert batch_id(SOURCE, cursor(10), cursor(90)) == batch_id(SOURCE, cursor(10), cursor(90))


def test_batch_id_of_no_cursor_is_that_of_offset_zero() -> None:
    """A first batch (no cursor) is the span from offset 0."""
    assert batch_id(SOURCE, cursor(0), cursor(90)) == batch_id(SOURCE, None, cursor(90))


def test_batch_id_differs_by_span() -> None:
    """Different offsets give different ids."""
    ids = {
        batch_id(SOURCE, cursor(10), cursor(90)),
        batch_id(SOURCE, cursor(10), cursor(91)),
        batch_id(SOURCE, cursor(11), cursor(90)),
    }
    assert 3 == len(ids)


def test_batch_id_differs_by_file() -> None:
    """The same span of another path, or of a replaced file (new inode), has another id."""
    ids = {
        batch_id(SOURCE, None, cursor(90)),
        batch_id(OTHER, None, cursor(90, path=OTHER)),
        batch_id(SOURCE, None, cursor(90, ino=99)),
    }
    assert 3 == len(ids)


# -- sending and commits ----------------------------------------------------------------------


def test_position_advances_on_sent() -> None:
    """After a batch is sent, the file's next batch starts where it ended."""
    tracker = Tracker()
    chain(tracker, 100, 250)
    assert cursor(250) == tracker.position(SOURCE)


def test_unknown_file_has_no_position() -> None:
    """A file never read starts from no cursor."""
    assert Tracker().position(SOURCE) is None


def test_sent_batch_is_pending() -> None:
    """A sent batch waits for its commit and makes its file busy."""
    tracker = Tracker()
    (sent,) = chain(tracker, 100)
    assert ([sent.batch_id], True) == (list(tracker.pending), tracker.busy(SOURCE))


def test_committed_removes_the_pending_batch() -> None:
    """Seeing a batch's commit forgets it and frees its file."""
    tracker = Tracker()
    (sent,) = chain(tracker, 100)
    assert (True, {}, False) == (
        tracker.committed(sent.batch_id),
        tracker.pending,
        tracker.busy(SOURCE),
    )


def test_commit_of_someone_elses_batch_is_not_ours() -> None:
    """committed is False for an id that was not pending (another collector's, or a repeat)."""
    tracker = Tracker()
    (sent,) = chain(tracker, 100)
    tracker.committed(sent.batch_id)
    assert not tracker.committed(sent.batch_id)


def test_commit_keeps_the_position() -> None:
    """A commit does not move the file's position (it already moved on send)."""
    tracker = Tracker()
    (sent,) = chain(tracker, 100)
    tracker.committed(sent.batch_id)
    assert cursor(100) == tracker.position(SOURCE)


def test_not_full_below_max_in_flight() -> None:
    """One batch short of MAX_IN_FLIGHT, reading may go on."""
    tracker = Tracker()
    chain(tracker, *range(100, 100 * MAX_IN_FLIGHT, 100))
    assert (MAX_IN_FLIGHT - 1, False) == (len(tracker.pending), tracker.full)


def test_full_at_max_in_flight() -> None:
    """With MAX_IN_FLIGHT batches pending, reading pauses."""
    tracker = Tracker()
    chain(tracker, *range(100, 100 * (MAX_IN_FLIGHT + 1), 100))
    assert (MAX_IN_FLIGHT, True) == (len(tracker.pending), tracker.full)


# -- overdue batches --------------------------------------------------------------------------


def test_fresh_batches_are_not_overdue() -> None:
    """Batches sent just now are not overdue."""
    tracker = Tracker()
    chain(tracker, 100, 200)
    assert [] == tracker.overdue()


def test_overdue_gives_only_the_oldest_of_each_file() -> None:
    """Of a file's chain of overdue batches, only the first is returned; each file once."""
    tracker = Tracker()
    mine = chain(tracker, 100, 200, 300)
    other = chain(tracker, 50, 80, source=OTHER)
    age(tracker, *mine, *other)
    assert [mine[0].batch_id, other[0].batch_id] == [p.batch.batch_id for p in tracker.overdue()]


def test_overdue_waits_for_the_oldest() -> None:
    """A late batch behind a fresh oldest one is not judged yet."""
    tracker = Tracker()
    _, second = chain(tracker, 100, 200)
    age(tracker, second)
    assert [] == tracker.overdue()


def test_before_any_commit_a_batch_is_overdue_quickly() -> None:
    """Until a first commit returns, a batch is re-checked after FIRST_RESEND_AFTER_SECONDS."""
    tracker = Tracker()
    (only,) = chain(tracker, 100)
    tracker.pending[only.batch_id].sent_at = time.monotonic() - 0.3
    assert [only.batch_id] == [p.batch.batch_id for p in tracker.overdue()]


def test_after_a_commit_a_batch_waits_the_full_resend_time() -> None:
    """Once commits come back, a batch is given RESEND_AFTER_SECONDS before it is re-checked."""
    tracker = Tracker()
    first, second = chain(tracker, 100), chain(tracker, 200, source=OTHER)
    tracker.committed(first[0].batch_id)
    tracker.pending[second[0].batch_id].sent_at = time.monotonic() - 0.3
    assert [] == tracker.overdue()


def test_expire_all_makes_everything_overdue_at_once() -> None:
    """After a store restart every pending batch is settled immediately."""
    tracker = Tracker()
    tracker.acknowledged = True
    (only,) = chain(tracker, 100)
    tracker.expire_all()
    assert [only.batch_id] == [p.batch.batch_id for p in tracker.overdue()]


# -- reconcile --------------------------------------------------------------------------------


def test_reconcile_resends_the_chain_when_never_applied() -> None:
    """Committed cursor == the oldest's ``before``: the whole chain is re-sent, in order."""
    tracker = Tracker()
    sent = chain(tracker, 100, 200, 300)
    age(tracker, *sent)
    (oldest,) = tracker.overdue()
    assert sent == tracker.reconcile(oldest, committed=None)


def test_reconcile_resend_restarts_the_clock() -> None:
    """A re-sent chain is not overdue again straight away."""
    tracker = Tracker()
    sent = chain(tracker, 100, 200)
    age(tracker, *sent)
    (oldest,) = tracker.overdue()
    tracker.reconcile(oldest, committed=None)
    assert [] == tracker.overdue()


def test_reconcile_resends_only_that_files_chain() -> None:
    """Re-sending one file's chain leaves other files' batches out of it."""
    tracker = Tracker()
    mine = chain(tracker, 100, 200)
    chain(tracker, 50, source=OTHER)
    age(tracker, *mine)
    (oldest,) = tracker.overdue()
    assert mine == tracker.reconcile(oldest, committed=None)


def test_reconcile_forgets_a_batch_that_was_applied() -> None:
    """Committed cursor == the oldest's ``after``: its commit was lost, so it is forgotten."""
    tracker = Tracker()
    first, second = chain(tracker, 100, 200)
    age(tracker, first)
    (oldest,) = tracker.overdue()
    assert ([], [second.batch_id]) == (
        tracker.reconcile(oldest, committed=cursor(100)),
        list(tracker.pending),
    )


def test_reconcile_keeps_the_position_of_an_applied_batch() -> None:
    """Forgetting an applied batch leaves the file's position past the batches behind it."""
    tracker = Tracker()
    first, _ = chain(tracker, 100, 200)
    age(tracker, first)
    (oldest,) = tracker.overdue()
    tracker.reconcile(oldest, committed=cursor(100))
    assert cursor(200) == tracker.position(SOURCE)


def test_reconcile_resets_a_diverged_file_to_the_committed_cursor() -> None:
    """A committed cursor matching neither end drops the file's chain and resumes from it."""
    tracker = Tracker()
    sent = chain(tracker, 100, 200)
    age(tracker, *sent)
    (oldest,) = tracker.overdue()
    result = tracker.reconcile(oldest, committed=cursor(40))
    assert ([], {}, cursor(40)) == (result, tracker.pending, tracker.position(SOURCE))


def test_reconcile_resets_to_the_start_when_nothing_is_committed_any_more() -> None:
    """A diverged file with no committed cursor (a rebuilt database) is read from the start."""
    tracker = Tracker()
    first, second = chain(tracker, 100, 200)
    tracker.committed(first.batch_id)
    age(tracker, second)
    (oldest,) = tracker.overdue()
    tracker.reconcile(oldest, committed=None)
    assert (None, {}) == (tracker.position(SOURCE), tracker.pending)


def test_reconcile_of_a_diverged_file_leaves_other_files_alone() -> None:
    """Dropping one file's chain keeps other files' pending batches and positions."""
    tracker = Tracker()
    mine = chain(tracker, 100)
    (theirs,) = chain(tracker, 50, source=OTHER)
    age(tracker, *mine)
    (oldest,) = tracker.overdue()
    tracker.reconcile(oldest, committed=cursor(40))
    assert ([theirs.batch_id], cursor(50, path=OTHER)) == (
        list(tracker.pending),
        tracker.position(OTHER),
    )


# -- the committed cursors in the database ----------------------------------------------------


def test_load_committed_starts_from_the_databases_cursors(db: sqlite3.Connection) -> None:
    """Positions start at the store's committed cursors; nothing is pending."""
    Store(db).apply([batch([record("a")], before=None, after=100)])
    tracker = Tracker()
    chain(tracker, 500, source=OTHER)
    tracker.load_committed(db, store_machine(db).id)
    assert ({SOURCE: cursor(100)}, {}) == (tracker.positions, tracker.pending)


def test_load_committed_without_a_database_starts_empty() -> None:
    """With no database yet, every file starts from no cursor."""
    tracker = Tracker()
    chain(tracker, 100)
    tracker.load_committed(None, "")
    assert ({}, {}) == (tracker.positions, tracker.pending)


def test_committed_cursor_reads_the_store(db: sqlite3.Connection) -> None:
    """committed_cursor returns the store's cursor of a file, or None for an unknown one."""
    Store(db).apply([batch([record("a")], before=None, after=100)])
    assert (cursor(100), None) == (
        committed_cursor(db, store_machine(db).id, SOURCE),
        committed_cursor(db, store_machine(db).id, OTHER),
    )


def test_positions_from_the_hub_are_where_reading_resumes() -> None:
    """An agent's cursors from the hub become its positions, dropping what was in flight."""
    tracker = Tracker()
    chain(tracker, 100)
    tracker.load_positions({SOURCE: cursor(400)})
    assert (cursor(400), {}) == (tracker.position(SOURCE), tracker.pending)


def test_postponed_batch_is_not_overdue_again_at_once() -> None:
    """A batch the hub could not settle waits a whole re-send wait before it is judged again."""
    tracker = Tracker()
    (sent,) = chain(tracker, 100)
    tracker.pending[sent.batch_id].sent_at = float("-inf")
    tracker.postpone(tracker.overdue())
    assert [] == tracker.overdue()
