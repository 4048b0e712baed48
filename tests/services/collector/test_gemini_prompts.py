"""User prompts read from Gemini CLI chats (``type: "user"`` messages) in the usage pass."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bus.messages import Prompt
from services.collector.gemini.adapter import GeminiAdapter
from services.collector.gemini.reader import read_increment
from services.queries.activity import reply_groups
from services.store.writer import Store
from tests.services.collector.test_gemini_reader import (
    META,
    PROBE,
    PROJECT,
    SESSION,
    STEM,
    append,
    chat,
    gemini,
    line,
    read,
)

TYPED_AT = "2026-05-01T11:07:01.000Z"
TYPED_MS = 1777633621000


def user(msg_id: str | None, content: Any, ts: str = TYPED_AT, **extra: Any) -> dict[str, Any]:
    """A user message (no ``id`` key when ``msg_id`` is None)."""
    entry: dict[str, Any] = {"timestamp": ts, "type": "user", "content": content, **extra}
    if msg_id is not None:
        entry["id"] = msg_id
    return entry


def prompts_in(tmp_path: Path, *messages: dict[str, Any]) -> list[Prompt]:
    """The prompts read from a JSONL chat holding the metadata line and ``messages``."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + b"".join(line(m) for m in messages))
    return read(path).prompts


def texts(tmp_path: Path, *messages: dict[str, Any]) -> list[str]:
    """The prompt texts read from a JSONL chat holding ``messages``."""
    return [p.text for p in prompts_in(tmp_path, *messages)]


def legacy_doc(*messages: dict[str, Any]) -> bytes:
    """A legacy chat document (pretty-printed, as Gemini CLI wrote it)."""
    doc = {"sessionId": SESSION, "startTime": TYPED_AT, "messages": list(messages)}
    return json.dumps(doc, indent=2).encode()


def test_a_user_message_is_a_prompt_with_key_time_project_and_session(tmp_path: Path) -> None:
    """A typed message gives one prompt keyed by session and id, dated by its timestamp."""
    (prompt,) = prompts_in(tmp_path, user("u1", [{"text": "fix the build"}]))
    assert (f"gemini:{SESSION}/u1", "gemini", TYPED_MS, PROJECT, SESSION, "fix the build") == (
        prompt.key,
        prompt.provider,
        prompt.ts_ms,
        prompt.project,
        prompt.session,
        prompt.text,
    )


def test_string_content_is_a_prompt(tmp_path: Path) -> None:
    """``content`` may be a plain string (``PartListUnion``)."""
    assert ["explain this"] == texts(tmp_path, user("u1", "explain this"))


def test_text_parts_are_joined(tmp_path: Path) -> None:
    """The text parts of a list make one prompt; other parts (files) are left out."""
    content = [{"text": "compare"}, {"inlineData": {"mimeType": "image/png"}}, {"text": "these"}]
    assert ["compare these"] == texts(tmp_path, user("u1", content))


def test_display_content_is_preferred_over_the_expanded_content(tmp_path: Path) -> None:
    """What was typed (``displayContent``) wins over the content sent with files expanded."""
    content = [{"text": "read @a.py\n--- Content from referenced files ---\nimport os"}]
    message = user("u1", content, displayContent=[{"text": "read @a.py"}])
    assert ["read @a.py"] == texts(tmp_path, message)


def test_a_function_response_is_no_prompt(tmp_path: Path) -> None:
    """Tool output sent back as a user turn is skipped."""
    content = [{"functionResponse": {"id": "c1", "name": "ls", "response": {"output": "a"}}}]
    assert [] == texts(tmp_path, user("u1", content))


def test_an_empty_message_is_no_prompt(tmp_path: Path) -> None:
    """A user message with no text (blank, or no parts) is skipped."""
    assert [] == texts(tmp_path, user("u1", [{"text": "  "}]), user("u2", []))


@pytest.mark.parametrize(
    "text",
    [
        "<session_context>\nThis is the Gemini CLI. We are setting up the context for our chat.",
        "This is the Gemini CLI. We are setting up the context for our chat.\nToday's date is",
        "<state_snapshot>\n<overall_goal>ship</overall_goal>\n</state_snapshot>",
        "<system-reminder>context</system-reminder>",
    ],
)
def test_a_cli_wrapper_is_no_prompt(tmp_path: Path, text: str) -> None:
    """Context and compression turns the CLI writes as user messages are skipped."""
    assert [] == texts(tmp_path, user("u1", [{"text": text}]))


def test_a_message_without_timestamp_is_no_prompt(tmp_path: Path) -> None:
    """A prompt needs its own time to collect its replies."""
    assert [] == texts(tmp_path, {"id": "u1", "type": "user", "content": "hi"})


def test_a_long_prompt_is_cut_to_220_characters(tmp_path: Path) -> None:
    """Text beyond 220 characters is dropped."""
    assert ["z" * 220] == texts(tmp_path, user("u1", "z" * 300))


def test_a_reappended_user_message_is_one_prompt(tmp_path: Path) -> None:
    """The same id twice in one read gives one prompt."""
    assert ["hi"] == texts(tmp_path, user("u1", "hi"), user("u1", "hi"))


def test_a_set_line_with_the_whole_history_gives_no_prompt(tmp_path: Path) -> None:
    """A ``$set`` of ``messages`` (history rewritten, synthetic turns included) is not read."""
    rewritten = {"$set": {"messages": [user("u9", "summary of the chat")]}}
    assert [] == texts(tmp_path, rewritten)


def test_a_message_without_id_gets_a_content_key(tmp_path: Path) -> None:
    """Without an id the key hashes the timestamp and content, within the session."""
    (prompt,) = prompts_in(tmp_path, user(None, "hi"))
    assert prompt.key.startswith(f"gemini:{SESSION}/user:")


def test_prompts_are_read_incrementally_from_the_cursor(tmp_path: Path) -> None:
    """A second read from the first read's cursor gives only the new prompt."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + line(user("u1", "first")))
    first = read(path)
    append(path, line(user("u2", "second", "2026-05-01T11:08:00.000Z")))
    assert ["second"] == [p.text for p in read(path, first.after).prompts]


def test_a_rewritten_jsonl_chat_gives_the_same_keys(tmp_path: Path) -> None:
    """A chat replaced by a new file is read again from the start under the same keys."""
    path = tmp_path / f"{STEM}.jsonl"
    data = META + line(user("u1", "first")) + line(user(None, "second"))
    path.write_bytes(data)
    first = read(path)
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_bytes(data + line(user("u3", "third", "2026-05-01T11:09:00.000Z")))
    fresh.replace(path)  # a new inode, written while the old one still exists
    again = read(path, first.after)
    assert ([p.key for p in first.prompts], True) == (
        [p.key for p in again.prompts][:2],
        again.reset,
    )


def test_a_legacy_chat_gives_its_prompts(tmp_path: Path) -> None:
    """A legacy JSON chat's ``messages[]`` user entries are prompts of its session."""
    path = tmp_path / f"{STEM}.json"
    path.write_bytes(legacy_doc(user("u1", [{"text": "hello"}])))
    inc = read_increment(chat(path, legacy=True), None)
    assert [(f"gemini:{SESSION}/u1", SESSION, "hello")] == [
        (p.key, p.session, p.text) for p in inc.prompts
    ]


def test_a_rewritten_legacy_chat_repeats_its_prompts_under_the_same_keys(tmp_path: Path) -> None:
    """Re-reading the rewritten document gives the old prompts' keys again, plus the new one."""
    path = tmp_path / f"{STEM}.json"
    old = [user("u1", "one"), user(None, "two", "2026-05-01T11:07:05.000Z")]
    path.write_bytes(legacy_doc(*old))
    first = read_increment(chat(path, legacy=True), None)
    path.write_bytes(legacy_doc(*old, user("u3", "three", "2026-05-01T11:09:00.000Z")))
    again = read_increment(chat(path, legacy=True), first.after)
    assert [*(p.key for p in first.prompts), f"gemini:{SESSION}/u3"] == [
        p.key for p in again.prompts
    ]


def test_a_legacy_chat_migrated_to_jsonl_keeps_its_prompt_keys(tmp_path: Path) -> None:
    """The ``.jsonl`` Gemini CLI migrates a legacy chat into gives the same keys."""
    legacy = tmp_path / f"{STEM}.json"
    legacy.write_bytes(legacy_doc(user("u1", "one"), user(None, "two")))
    migrated = tmp_path / f"{STEM}.jsonl"
    migrated.write_bytes(META + line(user("u1", "one")) + line(user(None, "two")))
    from_legacy = read_increment(chat(legacy, legacy=True), None).prompts
    assert [p.key for p in from_legacy] == [p.key for p in read(migrated).prompts]


def test_a_subagent_chat_has_no_prompts(tmp_path: Path) -> None:
    """A subagent's user turns are the task the model wrote: no prompts."""
    path = tmp_path / f"{SESSION}.jsonl"
    path.write_bytes(META + line(user("u1", "inspect the repo")))
    assert [] == read_increment(chat(path, subagent=True), None).prompts


def test_a_read_told_not_to_parse_prompts_finds_none(tmp_path: Path) -> None:
    """``prompts=False`` (``[activity] enabled = false``) reads no prompt, JSONL or legacy."""
    jsonl = tmp_path / f"{STEM}.jsonl"
    jsonl.write_bytes(META + line(user("u1", "hello")))
    legacy = tmp_path / f"{STEM}.json"
    legacy.write_bytes(legacy_doc(user("u1", "hello")))
    found = read_increment(chat(jsonl), None, prompts=False).prompts
    found += read_increment(chat(legacy, legacy=True), None, prompts=False).prompts
    assert [] == found


def test_usage_records_are_still_counted_beside_prompts(tmp_path: Path) -> None:
    """A prompt and its reply in one read give one prompt and one record of the same session."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + line(user("u1", "hi")) + gemini("g1"))
    inc = read(path)
    assert ([SESSION], [SESSION]) == (
        [p.session for p in inc.prompts],
        [r.session for r in inc.records],
    )


# -- through the adapter and the store ---------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A ``tmp/`` root with one chat: a prompt and its reply."""
    chats = tmp_path / "tmp" / PROJECT / "chats"
    chats.mkdir(parents=True)
    (chats / f"{STEM}.jsonl").write_bytes(META + line(user("u1", "hi")) + gemini("g1"))
    return tmp_path / "tmp"


def chat_file(root: Path) -> str:
    """The chat of the ``root`` fixture."""
    return str(root / PROJECT / "chats" / f"{STEM}.jsonl")


def test_the_adapter_sends_the_prompts_in_the_batch(root: Path) -> None:
    """The batch of a chat carries its prompts beside its records."""
    batch, _ = GeminiAdapter([root]).read(chat_file(root), None)
    assert batch is not None
    assert (["hi"], 1) == ([p.text for p in batch.prompts], len(batch.records))


def test_an_adapter_told_not_to_read_prompts_sends_none(root: Path) -> None:
    """With ``read_prompts`` off (``[activity] enabled = false``) the batch carries none."""
    adapter = GeminiAdapter([root])
    adapter.read_prompts = False
    batch, _ = adapter.read(chat_file(root), None)
    assert batch is not None and () == batch.prompts


def test_the_reply_is_attributed_to_its_prompt_by_the_store(
    root: Path, db: sqlite3.Connection
) -> None:
    """Committed by a real store, the reply's tokens land on the prompt before it."""
    batch, _ = GeminiAdapter([root]).read(chat_file(root), None)
    assert batch is not None
    Store(db).apply([batch])
    keys = [str(k) for (k,) in db.execute("SELECT key FROM activity")]
    row = [(k, g[1], g[5], g[9]) for k, groups in reply_groups(db, keys).items() for g in groups]
    assert [(f"gemini:{SESSION}/u1", "gemini-2.5-pro", PROBE["output"], PROBE["thoughts"])] == row


def test_a_rewritten_legacy_chat_keeps_one_copy_of_each_prompt(
    tmp_path: Path, db: sqlite3.Connection
) -> None:
    """Committing every re-read of a rewritten legacy chat keeps each prompt once."""
    chats = tmp_path / "tmp" / PROJECT / "chats"
    chats.mkdir(parents=True)
    path = chats / f"{STEM}.json"
    path.write_bytes(legacy_doc(user("u1", "one")))
    adapter = GeminiAdapter([tmp_path / "tmp"])
    store = Store(db)
    first, _ = adapter.read(str(path), None)
    assert first is not None
    store.apply([first])
    path.write_bytes(legacy_doc(user("u1", "one"), user("u2", "two", "2026-05-01T11:09:00.000Z")))
    second, _ = adapter.read(str(path), first.after)
    assert second is not None
    store.apply([second])
    kept = [text for (text,) in db.execute("SELECT text FROM activity ORDER BY ts_ms")]
    assert ["one", "two"] == kept
