"""User prompts read from Codex session logs (``event_msg`` ``user_message``) in the usage pass."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from services.collector.codex.adapter import CodexAdapter
from services.collector.codex.reader import read_increment
from services.queries.activity import reply_groups
from services.store.writer import Store
from tests.services.collector import test_codex_adapter as ca
from tests.services.collector.test_codex_reader import CWD, SESSION, TURN, line, meta


def user_message(message: str, ts: str = "2026-05-01T10:00:02.000Z") -> bytes:
    """An ``event_msg`` ``user_message`` line."""
    payload: dict[str, Any] = {"type": "user_message", "message": message, "images": []}
    return line({"timestamp": ts, "type": "event_msg", "payload": payload})


def response_user(text: str) -> bytes:
    """A ``response_item`` user message (how environment context and instructions arrive)."""
    content = [{"type": "input_text", "text": text}]
    payload = {"type": "message", "role": "user", "content": content}
    return line(
        {"timestamp": "2026-05-01T10:00:01.500Z", "type": "response_item", "payload": payload}
    )


def prompts_of(path: Path, data: bytes) -> list[str]:
    """The prompt texts read from a session log holding ``data``."""
    path.write_bytes(data)
    return [p.text for p in read_increment(str(path), SESSION, None).prompts]


def test_a_user_message_is_a_prompt_with_time_project_and_session(tmp_path: Path) -> None:
    """A ``user_message`` gives one prompt of the session's cwd."""
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(meta() + TURN + user_message("add a test"))
    (prompt,) = read_increment(str(path), SESSION, None).prompts
    assert ("codex", 1777629602000, CWD, SESSION, "add a test") == (
        prompt.provider,
        prompt.ts_ms,
        prompt.project,
        prompt.session,
        prompt.text,
    )


def test_environment_context_and_instructions_are_no_prompts(tmp_path: Path) -> None:
    """``response_item`` user messages are not read as prompts."""
    data = meta() + response_user("<environment_context>cwd</environment_context>")
    data += response_user("<user_instructions>be nice</user_instructions>")
    assert [] == prompts_of(tmp_path / "rollout.jsonl", data)


def test_a_wrapped_user_message_is_no_prompt(tmp_path: Path) -> None:
    """A ``user_message`` holding only a CLI wrapper is skipped."""
    data = meta() + user_message("<environment_context>x</environment_context>")
    assert [] == prompts_of(tmp_path / "rollout.jsonl", data)


def test_a_long_user_message_is_cut_to_220_characters(tmp_path: Path) -> None:
    """Text beyond 220 characters is dropped."""
    assert ["y" * 220] == prompts_of(tmp_path / "rollout.jsonl", meta() + user_message("y" * 300))


def test_user_messages_are_read_incrementally_from_the_cursor(tmp_path: Path) -> None:
    """A second read from the first read's cursor gives only the new prompt."""
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(meta() + user_message("first"))
    first = read_increment(str(path), SESSION, None)
    with path.open("ab") as f:
        f.write(user_message("second", "2026-05-01T10:05:00.000Z"))
    second = read_increment(str(path), SESSION, first.after)
    assert ["second"] == [p.text for p in second.prompts]


def test_a_read_told_not_to_parse_prompts_finds_none(tmp_path: Path) -> None:
    """``prompts=False`` (``[activity] enabled = false``) reads no user message at all."""
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(meta() + user_message("add a test"))
    assert [] == read_increment(str(path), SESSION, None, prompts=False).prompts


# -- keys: content-derived, the same in every copy ---------------------------------------------


def key_of(path: Path, data: bytes, session: str = SESSION) -> str:
    """The key of the one prompt a log holding ``data`` gives."""
    path.write_bytes(data)
    (prompt,) = read_increment(str(path), session, None).prompts
    return prompt.key


def test_a_copy_at_another_path_and_offset_gives_the_same_key(tmp_path: Path) -> None:
    """Neither the file, its session name nor the line's offset is part of the key."""
    here = key_of(tmp_path / "a.jsonl", meta() + user_message("add a test"))
    there = key_of(tmp_path / "b.jsonl", meta() + TURN + user_message("add a test"), "other")
    assert here == there


def test_the_same_text_typed_twice_gives_two_keys(tmp_path: Path) -> None:
    """Prompts with equal text at different times stay apart."""
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(meta() + user_message("yes") + user_message("yes", "2026-05-01T10:09:00.000Z"))
    assert 2 == len({p.key for p in read_increment(str(path), SESSION, None).prompts})


def test_another_session_with_the_same_line_gives_another_key(tmp_path: Path) -> None:
    """The rollout's session id is part of the key."""
    mine = key_of(tmp_path / "a.jsonl", meta() + user_message("add a test"))
    theirs = key_of(tmp_path / "b.jsonl", meta(id="s2") + user_message("add a test"))
    assert mine != theirs


def test_a_subagent_session_has_no_prompts(tmp_path: Path) -> None:
    """A subagent's user turn is the task the model wrote (as Claude's sidechains)."""
    data = meta(source={"subagent": "review"}) + user_message("review the diff")
    assert [] == prompts_of(tmp_path / "rollout.jsonl", data)


# -- copies and forks, through the adapter and a real store --------------------------------------

DAY = "sessions/2026/05/01"
NAME = f"rollout-2026-05-01T10-00-00-{ca.PARENT}.jsonl"
LIVE_SESSION = f"2026/05/01/rollout-2026-05-01T10-00-00-{ca.PARENT}"


def parent_log() -> bytes:
    """The parent session: one prompt at 10:00:30 and its reply's two turns."""
    return (
        ca.meta("2026-05-01T10:00:00.000Z", ca.PARENT)
        + ca.TURN
        + user_message("add a test", "2026-05-01T10:00:30.000Z")
        + ca.tokens("2026-05-01T10:01:00.000Z", 1)
        + ca.tokens("2026-05-01T10:02:00.000Z", 2)
    )


def write(path: Path, data: bytes) -> str:
    """Write ``data`` at ``path`` (directories made) and give the path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def commit(db: sqlite3.Connection, adapter: CodexAdapter, *paths: str) -> None:
    """Read each file whole through ``adapter`` and commit its batch in a real store."""
    store = Store(db)
    for path in paths:
        batch, _ = adapter.read(path, None)
        assert batch is not None
        store.apply([batch])


def activity(db: sqlite3.Connection) -> list[tuple[str, str, int | None]]:
    """``(text, session, output tokens of its replies)`` of every kept prompt, oldest first."""
    rows = db.execute("SELECT key, text, session FROM activity ORDER BY ts_ms").fetchall()
    replies = reply_groups(db, [str(k) for k, _, _ in rows])
    return [
        (str(t), str(s), sum(int(g[5]) for g in replies[k]) if k in replies else None)
        for k, t, s in rows
    ]


def test_an_archived_copy_with_a_live_twin_sends_no_prompts(tmp_path: Path) -> None:
    """The live copy sends the rollout's prompts; the archived one sends none."""
    archived = write(tmp_path / "archived_sessions" / NAME, parent_log())
    write(tmp_path / DAY / NAME, parent_log())
    adapter = ca.adapter_for(tmp_path)
    adapter.all_files()
    batch, _ = adapter.read(archived, None)
    assert batch is not None and () == batch.prompts


def test_a_copy_in_both_roots_keeps_one_prompt_with_the_live_session_and_its_reply(
    tmp_path: Path, db: sqlite3.Connection
) -> None:
    """Archived copy read first, live second: one prompt, in the live session, with its reply."""
    archived = write(tmp_path / "archived_sessions" / NAME, parent_log())
    live = write(tmp_path / DAY / NAME, parent_log())
    adapter = ca.adapter_for(tmp_path)
    adapter.all_files()
    commit(db, adapter, archived, live)
    assert [("add a test", LIVE_SESSION, 100)] == activity(db)


def test_a_session_archived_after_it_was_read_keeps_one_prompt(
    tmp_path: Path, db: sqlite3.Connection
) -> None:
    """A rollout moved to ``archived_sessions/`` gives the same key again: kept once, live."""
    live = write(tmp_path / DAY / NAME, parent_log())
    commit(db, ca.adapter_for(tmp_path), live)
    archived = tmp_path / "archived_sessions" / NAME
    archived.parent.mkdir()
    Path(live).replace(archived)
    adapter = ca.adapter_for(tmp_path)
    adapter.all_files()
    commit(db, adapter, str(archived))
    assert [("add a test", LIVE_SESSION, 100)] == activity(db)


CHILD_NAME = f"rollout-2026-05-01T10-05-00-{ca.CHILD}.jsonl"
CHILD_SESSION = f"2026/05/01/rollout-2026-05-01T10-05-00-{ca.CHILD}"


def child_log() -> bytes:
    """A fork of the parent at 10:05 replaying its history (restamped seconds apart, so only
    matching the parent recognises it), then a prompt and a turn of its own."""
    return (
        ca.meta("2026-05-01T10:05:00.000Z", ca.CHILD, forked_from_id=ca.PARENT)
        + ca.TURN
        + user_message("add a test", "2026-05-01T10:05:01.000Z")
        + ca.tokens("2026-05-01T10:05:02.000Z", 1)
        + ca.tokens("2026-05-01T10:05:03.000Z", 2)
        + user_message("now document it", "2026-05-01T10:05:30.000Z")
        + ca.tokens("2026-05-01T10:06:00.000Z", 3)
    )


def test_a_fork_sends_only_its_own_prompts(tmp_path: Path) -> None:
    """The parent's prompt replayed in the fork is skipped; the fork's own one is sent."""
    write(tmp_path / DAY / NAME, parent_log())
    child = write(tmp_path / DAY / CHILD_NAME, child_log())
    batch, _ = ca.adapter_for(tmp_path).read(child, None)
    assert batch is not None
    assert [("now document it", CHILD_SESSION)] == [(p.text, p.session) for p in batch.prompts]


def test_a_forks_replayed_prompt_stays_with_the_parent_and_its_reply(
    tmp_path: Path, db: sqlite3.Connection
) -> None:
    """Parent and fork committed: each prompt once, in its own session, with its own reply."""
    parent = write(tmp_path / DAY / NAME, parent_log())
    child = write(tmp_path / DAY / CHILD_NAME, child_log())
    adapter = ca.adapter_for(tmp_path)
    adapter.all_files()
    commit(db, adapter, child, parent)
    assert [("add a test", LIVE_SESSION, 100), ("now document it", CHILD_SESSION, 50)] == (
        activity(db)
    )


def test_a_fork_without_its_parent_skips_the_prompts_written_with_it(tmp_path: Path) -> None:
    """No parent log: user messages in the fork's own second are its replay; later ones count."""
    data = (
        ca.meta("2026-05-01T10:05:00.000Z", ca.CHILD, forked_from_id=ca.PARENT)
        + user_message("add a test", "2026-05-01T10:05:00.400Z")
        + user_message("now document it", "2026-05-01T10:05:30.000Z")
    )
    child = write(tmp_path / DAY / CHILD_NAME, data)
    batch, _ = ca.adapter_for(tmp_path).read(child, None)
    assert batch is not None and ["now document it"] == [p.text for p in batch.prompts]


def test_a_fork_read_across_reads_still_skips_the_replay(tmp_path: Path) -> None:
    """The matching survives the cursor: a replayed prompt in a later read is still skipped."""
    write(tmp_path / DAY / NAME, parent_log())
    head = ca.meta("2026-05-01T10:05:00.000Z", ca.CHILD, forked_from_id=ca.PARENT) + ca.TURN
    child = write(tmp_path / DAY / CHILD_NAME, head)
    adapter = ca.adapter_for(tmp_path)
    first, _ = adapter.read(child, None)
    assert first is not None
    with open(child, "ab") as f:
        f.write(child_log()[len(head) :])
    second, _ = adapter.read(child, first.after)
    assert second is not None and ["now document it"] == [p.text for p in second.prompts]


def test_an_adapter_told_not_to_read_prompts_sends_none(tmp_path: Path) -> None:
    """With ``read_prompts`` off (``[activity] enabled = false``) the batch carries none."""
    live = write(tmp_path / DAY / NAME, parent_log())
    adapter = ca.adapter_for(tmp_path)
    adapter.read_prompts = False
    batch, _ = adapter.read(live, None)
    assert batch is not None and () == batch.prompts
