"""Prompts in batches: their committed event, the activity projection and reply attribution."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bus.codec import decode
from bus.messages import ActivityCommitted, Prompt, UsageCommitted
from services.queries.activity import reply_groups
from services.store.database import rebuild
from services.store.writer import Store
from tests.helpers import T0, batch, record


def prompt(key: str, ts_ms: int = T0, session: str = "session", text: str = "hi") -> Prompt:
    """A Claude prompt of ``session`` at ``ts_ms``."""
    return Prompt(
        key=key, provider="claude", ts_ms=ts_ms, project="project", session=session, text=text
    )


def kept(db: sqlite3.Connection) -> list[str]:
    """The keys of the kept prompts, oldest first."""
    return [k for (k,) in db.execute("SELECT key FROM activity ORDER BY ts_ms, key")]


def reply(db: sqlite3.Connection, key: str) -> tuple[int, int] | None:
    """(input, output) of the reply to the prompt ``key``, ``None`` when it has none."""
    groups = reply_groups(db, [key]).get(key)
    if not groups:
        return None
    return sum(int(g[4]) for g in groups), sum(int(g[5]) for g in groups)


def test_prompts_commit_an_activity_event_before_the_usage_event(db: sqlite3.Connection) -> None:
    """A batch with prompts gives evt.activity.claude then evt.usage.claude, gapless."""
    committed, _, _ = Store(db).apply([batch([record("r1")], None, 100, prompts=(prompt("p1"),))])
    assert [(1, "evt.activity.claude"), (2, "evt.usage.claude")] == [
        (c.seq, c.topic) for c in committed
    ]


def test_the_activity_event_carries_the_prompts(db: sqlite3.Connection) -> None:
    """The logged evt.activity body decodes to the batch's prompts."""
    committed, _, _ = Store(db).apply([batch([], None, 100, prompts=(prompt("p1"),))])
    event = decode(committed[0].body)
    assert ActivityCommitted(seq=1, provider="claude", prompts=(prompt("p1"),), keep=500) == event


def test_a_batch_with_only_prompts_moves_the_cursor(db: sqlite3.Connection) -> None:
    """The usage event of a prompt-only batch is still committed."""
    committed, _, _ = Store(db).apply([batch([], None, 100, prompts=(prompt("p1"),))])
    assert isinstance(decode(committed[-1].body), UsageCommitted)


def test_a_prompt_already_kept_gives_no_second_event(db: sqlite3.Connection) -> None:
    """A prompt re-read in a later batch is not committed again."""
    store = Store(db)
    store.apply([batch([], None, 100, prompts=(prompt("p1"),))])
    committed, _, _ = store.apply([batch([], 100, 200, prompts=(prompt("p1"),))])
    assert ["evt.usage.claude"] == [c.topic for c in committed]


def test_the_reply_tokens_go_to_the_latest_earlier_prompt_of_the_session(
    db: sqlite3.Connection,
) -> None:
    """A record is added to the newest prompt of its session at or before its time."""
    Store(db).apply(
        [
            batch(
                [record("r1", ts_ms=T0 + 5, input=7, output=9)],
                None,
                100,
                prompts=(prompt("p1", T0), prompt("p2", T0 + 1), prompt("p3", T0 + 10)),
            )
        ]
    )
    assert ((7, 9), None, None) == (reply(db, "p2"), reply(db, "p1"), reply(db, "p3"))


def test_a_record_of_another_session_is_not_attributed(db: sqlite3.Connection) -> None:
    """Prompts only collect replies of their own session."""
    Store(db).apply([batch([record("r1", session="other")], None, 100, prompts=(prompt("p1"),))])
    assert None is reply(db, "p1")


def test_a_revised_record_replaces_its_earlier_copy_in_the_reply(db: sqlite3.Connection) -> None:
    """A larger copy of a key subtracts the copy it replaces."""
    store = Store(db)
    store.apply([batch([record("r1", ts_ms=T0 + 1, output=5)], None, 100, prompts=(prompt("p1"),))])
    store.apply([batch([record("r1", ts_ms=T0 + 1, output=50)], 100, 200)])
    assert (10, 50) == reply(db, "p1")


def test_a_revised_record_leaves_the_prompt_it_was_counted_under(
    db: sqlite3.Connection,
) -> None:
    """A record revised after a nearer prompt arrived counts once, under the nearer prompt."""
    store = Store(db)
    store.apply([batch([record("r1", ts_ms=T0 + 5, output=5)], None, 100, prompts=(prompt("p1"),))])
    store.apply([batch([], 100, 200, prompts=(prompt("p2", T0 + 3),))])
    store.apply([batch([record("r1", ts_ms=T0 + 5, output=50)], 200, 300)])
    assert ((10, 50), None) == (reply(db, "p2"), reply(db, "p1"))


def test_a_prompt_read_after_its_reply_collects_it(db: sqlite3.Connection) -> None:
    """A prompt committed after the records that answer it still shows their tokens."""
    store = Store(db)
    store.apply([batch([record("r1", ts_ms=T0 + 5, input=3, output=4)], None, 100)])
    store.apply([batch([], 100, 200, prompts=(prompt("p1", T0),))])
    assert (3, 4) == reply(db, "p1")


def test_a_record_at_the_time_of_two_prompts_answers_the_later_key(
    db: sqlite3.Connection,
) -> None:
    """Prompts with one timestamp order by key; the record goes to the last of them."""
    Store(db).apply(
        [
            batch(
                [record("r1", ts_ms=T0, input=1, output=2)],
                None,
                100,
                prompts=(prompt("pa", T0), prompt("pb", T0)),
            )
        ]
    )
    assert ((1, 2), None) == (reply(db, "pb"), reply(db, "pa"))


def test_many_prompts_in_one_batch_are_all_kept(db: sqlite3.Connection) -> None:
    """More prompts than one query's keys (500) are checked in chunks and all committed."""
    prompts = tuple(prompt(f"p{i:04}", T0 + i) for i in range(1200))
    store = Store(db)
    store.configure_activity(enabled=True, keep=2000)
    store.apply([batch([], None, 100, prompts=prompts)])
    assert 1200 == len(kept(db))


def test_each_provider_keeps_only_the_newest_prompts(db: sqlite3.Connection) -> None:
    """Beyond ``keep`` the oldest prompts and their replies are dropped."""
    store = Store(db)
    store.configure_activity(enabled=True, keep=2)
    prompts = tuple(prompt(f"p{i}", T0 + i) for i in range(4))
    store.apply([batch([record("r0", ts_ms=T0)], None, 100, prompts=prompts)])
    assert (["p2", "p3"], None) == (kept(db), reply(db, "p0"))


def test_disabling_deletes_the_kept_prompts_and_replies(db: sqlite3.Connection) -> None:
    """``enabled = false`` at start deletes every kept prompt, so no reply is shown."""
    store = Store(db)
    store.apply([batch([record("r1")], None, 100, prompts=(prompt("p1"),))])
    store.configure_activity(enabled=False, keep=500)
    assert ([], None) == (kept(db), reply(db, "p1"))


def test_disabling_leaves_no_prompt_text_in_the_database_files(
    db: sqlite3.Connection, db_path: Path
) -> None:
    """After the scrub the text is in neither the database file nor its write-ahead log."""
    store = Store(db)
    store.apply([batch([], None, 100, prompts=(prompt("p1", text="zebra-canary-4711"),))])
    store.configure_activity(enabled=False, keep=500)
    files = [db_path, db_path.with_name(db_path.name + "-wal")]
    assert [False, False] == [p.exists() and b"zebra-canary-4711" in p.read_bytes() for p in files]


def test_disabling_empties_the_prompts_in_the_log_and_keeps_the_seqs(
    db: sqlite3.Connection,
) -> None:
    """The evt.activity event stays at its seq with no prompts."""
    store = Store(db)
    store.apply([batch([], None, 100, prompts=(prompt("p1", text="secret"),))])
    store.configure_activity(enabled=False, keep=500)
    (body,) = db.execute("SELECT body FROM events WHERE seq = 1").fetchone()
    assert ActivityCommitted(seq=1, provider="claude", keep=500, scrubbed=True) == decode(body)


def test_a_store_started_disabled_again_does_not_scrub_again(db: sqlite3.Connection) -> None:
    """The log is scrubbed once, when activity is switched off, not at every later start."""
    store = Store(db)
    store.apply([batch([], None, 100, prompts=(prompt("p1"),))])
    first = store.configure_activity(enabled=False, keep=500)
    again = store.configure_activity(enabled=False, keep=500)
    assert (1, 0) == (first, again)


def test_a_disabled_store_commits_no_prompts(db: sqlite3.Connection) -> None:
    """Prompts sent to a disabled store are dropped; only the usage event is committed."""
    store = Store(db)
    store.configure_activity(enabled=False, keep=500)
    committed, _, _ = store.apply([batch([], None, 100, prompts=(prompt("p1"),))])
    assert ["evt.usage.claude"] == [c.topic for c in committed]


def test_rebuild_gives_the_same_activity_and_replies(db: sqlite3.Connection, db_path: Path) -> None:
    """Replaying the log gives the same prompts and the same replies."""
    store = Store(db)
    store.apply([batch([record("r1", ts_ms=T0 + 1)], None, 100, prompts=(prompt("p1"),))])
    store.apply([batch([record("r2", ts_ms=T0 + 3)], 100, 200, prompts=(prompt("p2", T0 + 2),))])
    before = (
        db.execute("SELECT * FROM activity ORDER BY key").fetchall(),
        reply_groups(db, ["p1", "p2"]),
    )
    rebuild(str(db_path))
    after = (
        db.execute("SELECT * FROM activity ORDER BY key").fetchall(),
        reply_groups(db, ["p1", "p2"]),
    )
    assert before == after
