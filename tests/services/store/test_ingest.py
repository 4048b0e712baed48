"""apply_batch / apply_price: cursor checks, idempotent append and which copy of a key counts."""

from __future__ import annotations

import sqlite3

import msgspec
import pytest

from bus.codec import decode
from bus.messages import (
    ModelPrice,
    PriceObserved,
    SkipCounts,
    UsageBatch,
    UsageCommitted,
)
from services.store import log
from services.store.ingest import (
    AlreadyApplied,
    Committed,
    Outcome,
    OutOfStep,
    Unchanged,
    apply_batch,
    apply_price,
    committed_cursor,
)
from tests.helpers import batch, cursor, record

PRICE = ModelPrice(
    input="3", output="15", cache_write_5m="3.75", cache_write_1h="6", cache_read="0.3"
)


def ingest(db: sqlite3.Connection, message: UsageBatch | PriceObserved) -> Outcome:
    """Apply one observation in its own transaction, as the store does."""
    db.execute("BEGIN IMMEDIATE")
    if isinstance(message, UsageBatch):
        outcome = apply_batch(db, log.head(db), message)
    else:
        outcome = apply_price(db, log.head(db), message)
    db.execute("COMMIT")
    return outcome


def committed_event(outcome: Outcome) -> UsageCommitted:
    """The UsageCommitted event an outcome committed."""
    assert isinstance(outcome, Committed)
    event = decode(outcome.body)
    assert isinstance(event, UsageCommitted)
    return event


def session_totals(db: sqlite3.Connection) -> list[tuple[int, int, int]]:
    """(input, output, records) of every usage_by_session row."""
    return db.execute(
        "SELECT input, output, records FROM usage_by_session ORDER BY 1, 2"
    ).fetchall()


def usage_tables(db: sqlite3.Connection) -> list[list[tuple[object, ...]]]:
    """Everything the usage projections hold."""
    return [
        db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5").fetchall()
        for table in ("usage_by_slot", "usage_by_session")
    ] + [db.execute("SELECT * FROM usage_claims ORDER BY key").fetchall()]


def price(
    model: str = "m", value: ModelPrice | None = PRICE, source: str = "config"
) -> PriceObserved:
    """An observed price."""
    return PriceObserved(provider="claude", model=model, source=source, price=value)


# -- cursors and seqs -------------------------------------------------------------------------


def test_first_batch_commits_seq_one(db: sqlite3.Connection) -> None:
    """The first batch of a file (before=None) on an empty log commits seq 1."""
    outcome = ingest(db, batch([record("a")], before=None, after=100))
    assert 1 == committed_event(outcome).seq


def test_batch_seq_follows_the_head(db: sqlite3.Connection) -> None:
    """A batch commits at head + 1, whatever event the head is."""
    ingest(db, price())
    outcome = ingest(db, batch([record("a")], before=None, after=100))
    assert 2 == committed_event(outcome).seq


def test_committed_body_is_what_the_log_holds(db: sqlite3.Connection) -> None:
    """The outcome's topic and body are exactly the logged event."""
    outcome = ingest(db, batch([record("a")], before=None, after=100))
    assert isinstance(outcome, Committed)
    assert [(outcome.seq, outcome.topic, outcome.body)] == log.after(db, 0)


def test_batch_moves_the_committed_cursor(db: sqlite3.Connection) -> None:
    """The file's committed cursor is the batch's ``after``, with its id and seq."""
    applied = batch([record("a")], before=None, after=100)
    ingest(db, applied)
    assert (cursor(100), applied.batch_id, 1) == committed_cursor(db, "", applied.source)


def test_same_batch_again_is_already_applied(db: sqlite3.Connection) -> None:
    """Re-sending an applied batch appends nothing and names the seq that applied it."""
    ingest(db, price())
    sent = batch([record("a")], before=None, after=100)
    ingest(db, sent)
    assert (AlreadyApplied(2), 2) == (ingest(db, sent), log.head(db))


def test_next_batch_in_step_is_applied(db: sqlite3.Connection) -> None:
    """A batch starting at the committed cursor commits the next seq."""
    ingest(db, batch([record("a")], before=None, after=100))
    outcome = ingest(db, batch([record("b")], before=100, after=250))
    assert 2 == committed_event(outcome).seq


@pytest.mark.parametrize(
    ("committed_to", "before"),
    [
        pytest.param(None, 100, id="cursor-but-none-committed"),
        pytest.param(100, None, id="no-cursor-but-one-committed"),
        pytest.param(100, 50, id="behind"),
        pytest.param(100, 150, id="ahead"),
    ],
)
def test_batch_not_at_the_committed_cursor_is_out_of_step(
    db: sqlite3.Connection, committed_to: int | None, before: int | None
) -> None:
    """A batch whose ``before`` is not the committed cursor is rejected and appends nothing."""
    if committed_to is not None:
        ingest(db, batch([record("a")], before=None, after=committed_to))
    head = log.head(db)
    outcome = ingest(db, batch([record("b")], before=before, after=300))
    assert (OutOfStep, head) == (type(outcome), log.head(db))


def test_same_offset_of_a_replaced_file_is_out_of_step(db: sqlite3.Connection) -> None:
    """A cursor at the right offset but another inode is not the committed cursor."""
    ingest(db, batch([record("a")], before=None, after=100))
    stale = msgspec.structs.replace(
        batch([record("b")], before=100, after=200), before=cursor(100, ino=99)
    )
    assert isinstance(ingest(db, stale), OutOfStep)


def test_empty_batch_still_commits_an_event(db: sqlite3.Connection) -> None:
    """A batch with no records moves the cursor through its own event."""
    outcome = ingest(db, batch([], before=None, after=100))
    assert ((), 1) == (committed_event(outcome).records, log.head(db))


def test_skip_counts_travel_with_the_event(db: sqlite3.Connection) -> None:
    """The batch's skip counts are carried by its committed event."""
    skipped = SkipCounts(malformed_json=2, oversized_line=1)
    outcome = ingest(db, batch([], before=None, after=100, skipped=skipped))
    assert skipped == committed_event(outcome).skipped


# -- duplicates and replacements --------------------------------------------------------------


def test_larger_copy_replaces_the_counted_one(db: sqlite3.Connection) -> None:
    """A later, larger copy of a key is committed with the old copy in ``replaces``."""
    old, new = record("k", output=9), record("k", output=159)
    ingest(db, batch([old], before=None, after=100))
    event = committed_event(ingest(db, batch([new], before=100, after=200)))
    assert ((new,), (old,)) == (event.records, event.replaces)


def test_replacement_leaves_only_the_new_totals(db: sqlite3.Connection) -> None:
    """After a replacement the projections count the larger copy once and the old one not at all."""
    ingest(db, batch([record("k", input=3, output=9)], before=None, after=100))
    ingest(db, batch([record("k", input=3, output=159)], before=100, after=200))
    assert [(3, 159, 1)] == session_totals(db)


def test_smaller_copy_is_a_duplicate(db: sqlite3.Connection) -> None:
    """A smaller copy of a counted key is counted as a duplicate and commits no record."""
    ingest(db, batch([record("k", output=159)], before=None, after=100))
    event = committed_event(ingest(db, batch([record("k", output=9)], before=100, after=200)))
    assert ((), (), 1) == (event.records, event.replaces, event.duplicates)


def test_smaller_copy_changes_no_usage(db: sqlite3.Connection) -> None:
    """A smaller copy of a counted key leaves every usage projection as it was."""
    ingest(db, batch([record("k", output=159)], before=None, after=100))
    before = usage_tables(db)
    ingest(db, batch([record("k", output=9)], before=100, after=200))
    assert before == usage_tables(db)


def test_equal_copy_is_a_duplicate(db: sqlite3.Connection) -> None:
    """A byte-identical copy (a re-read file) is a duplicate."""
    ingest(db, batch([record("k")], before=None, after=100))
    event = committed_event(ingest(db, batch([record("k")], before=100, after=200)))
    assert ((), 1) == (event.records, event.duplicates)


def test_copy_in_another_file_is_deduplicated(db: sqlite3.Connection) -> None:
    """Keys are global: the same response read from a resumed session's file counts once."""
    ingest(db, batch([record("k", output=50)], before=None, after=100))
    ingest(db, batch([record("k", output=50)], before=None, after=80, source="/logs/resumed.jsonl"))
    assert [(10, 50, 1)] == session_totals(db)


def test_largest_copy_inside_one_batch_counts(db: sqlite3.Connection) -> None:
    """Three streaming copies in one batch commit only the largest."""
    copies = [record("k", output=9), record("k", output=159), record("k", output=40)]
    event = committed_event(ingest(db, batch(copies, before=None, after=100)))
    assert ((copies[1],), (), 2) == (event.records, event.replaces, event.duplicates)


def test_largest_copy_inside_one_batch_is_projected_once(db: sqlite3.Connection) -> None:
    """Copies inside one batch add one record with the largest totals to the projections."""
    copies = [record("k", output=9), record("k", output=159), record("k", output=40)]
    ingest(db, batch(copies, before=None, after=100))
    assert [(10, 159, 1)] == session_totals(db)


def test_batch_copies_beating_a_committed_copy_replace_it_once(db: sqlite3.Connection) -> None:
    """Two larger copies of a committed key in one batch give one winner and one replacement."""
    old = record("k", output=9)
    ingest(db, batch([old], before=None, after=100))
    copies = [record("k", output=40), record("k", output=159)]
    event = committed_event(ingest(db, batch(copies, before=100, after=200)))
    assert ((copies[1],), (old,)) == (event.records, event.replaces)


def test_winners_keep_their_arrival_order(db: sqlite3.Connection) -> None:
    """Distinct keys are committed in the order they were read."""
    records = [record("b"), record("a"), record("c")]
    event = committed_event(ingest(db, batch(records, before=None, after=100)))
    assert ["b", "a", "c"] == [r.key for r in event.records]


def test_main_chain_copy_beats_a_larger_sidechain_copy(db: sqlite3.Connection) -> None:
    """A non-sidechain copy replaces a counted sidechain copy even when smaller."""
    side = record("k", output=500, sidechain=True)
    main = record("k", output=10)
    ingest(db, batch([side], before=None, after=100))
    event = committed_event(ingest(db, batch([main], before=100, after=200)))
    assert ((main,), (side,)) == (event.records, event.replaces)


def test_sidechain_copy_never_displaces_the_main_chain(db: sqlite3.Connection) -> None:
    """A larger sidechain replay of a counted main-chain record is a duplicate."""
    ingest(db, batch([record("k", output=10)], before=None, after=100))
    replay = record("k", output=500, sidechain=True)
    event = committed_event(ingest(db, batch([replay], before=100, after=200)))
    assert ((), 1) == (event.records, event.duplicates)


def test_copy_stating_speed_beats_an_equal_one_without(db: sqlite3.Connection) -> None:
    """On equal totals, a copy that states its speed replaces one that does not."""
    plain, stated = record("k"), record("k", speed="standard")
    ingest(db, batch([plain], before=None, after=100))
    event = committed_event(ingest(db, batch([stated], before=100, after=200)))
    assert ((stated,), (plain,)) == (event.records, event.replaces)


def test_claim_points_at_the_event_of_the_winning_copy(db: sqlite3.Connection) -> None:
    """After a replacement the key's claim names the event (and total) of the larger copy."""
    ingest(db, batch([record("k", output=9)], before=None, after=100))
    second = committed_event(ingest(db, batch([record("k", output=159)], before=100, after=200)))
    claim = db.execute("SELECT seq, total FROM usage_claims WHERE key = 'k'").fetchone()
    assert (second.seq, record("k", output=159).total_tokens) == claim


def test_a_third_copy_replaces_the_second_read_back_from_the_log(db: sqlite3.Connection) -> None:
    """The record being replaced is read back from its event: the projection subtracts it."""
    ingest(db, batch([record("k", output=9)], before=None, after=100))
    ingest(db, batch([record("k", output=159)], before=100, after=200))
    third = committed_event(ingest(db, batch([record("k", output=500)], before=200, after=300)))
    assert (record("k", output=159),) == third.replaces


# -- prices -----------------------------------------------------------------------------------


def test_first_price_is_committed(db: sqlite3.Connection) -> None:
    """A model's first price appends an event."""
    assert isinstance(ingest(db, price()), Committed)


def test_same_price_again_is_unchanged(db: sqlite3.Connection) -> None:
    """Observing the committed price again appends nothing."""
    ingest(db, price())
    assert (Unchanged(), 1) == (ingest(db, price()), log.head(db))


def test_changed_price_is_committed(db: sqlite3.Connection) -> None:
    """A different price for the same model appends an event at the next seq."""
    ingest(db, price())
    changed = msgspec.structs.replace(PRICE, output="16")
    outcome = ingest(db, price(value=changed))
    assert isinstance(outcome, Committed)
    assert 2 == outcome.seq


def test_changed_source_is_committed(db: sqlite3.Connection) -> None:
    """The same numbers from another source are a new price event."""
    ingest(db, price(source="genai-prices 0.0.30"))
    assert isinstance(ingest(db, price(source="config")), Committed)


def test_unpriced_again_is_unchanged(db: sqlite3.Connection) -> None:
    """An unknown model reported as unpriced twice is logged once."""
    ingest(db, price(value=None))
    assert Unchanged() == ingest(db, price(value=None))


def test_price_for_a_previously_unpriced_model_is_committed(db: sqlite3.Connection) -> None:
    """A price appearing for a model that was unpriced is a new event."""
    ingest(db, price(value=None))
    assert isinstance(ingest(db, price()), Committed)


def test_prices_are_per_model(db: sqlite3.Connection) -> None:
    """The same price for another model is its own event."""
    ingest(db, price(model="a"))
    assert isinstance(ingest(db, price(model="b")), Committed)
