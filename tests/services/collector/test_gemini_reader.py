"""Incremental reading of Gemini CLI chats: cursors and their state, partial lines, replaced
files, legacy JSON chats."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bus.messages import FileCursor
from services.collector.gemini.dedup import wins_gemini
from services.collector.gemini.reader import Increment, decode_state, read_increment, unchanged
from services.collector.gemini.roots import ChatLog

PROJECT = "my-project"
STEM = "session-2026-05-01T11-07-aaaa1111"
SESSION = "aaaa1111-2222-3333-4444-555566667777"
MODEL = "gemini-2.5-pro"
TS = "2026-05-01T11:07:32.000Z"
PROBE = {"input": 15327, "output": 23, "cached": 11526, "thoughts": 919, "tool": 7, "total": 16276}


def line(obj: dict[str, Any]) -> bytes:
    """One compact JSONL line, newline included."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


META = line({"sessionId": SESSION, "projectHash": "9f86d0", "startTime": TS, "kind": "main"})


def gemini(msg_id: str, tokens: dict[str, Any] | None = PROBE, text: str = "hi") -> bytes:
    """A model message line; ``tokens=None`` is the copy written before the tokens."""
    entry: dict[str, Any] = {
        "id": msg_id,
        "timestamp": TS,
        "type": "gemini",
        "content": [{"text": text}],
        "model": MODEL,
    }
    if tokens is not None:
        entry["tokens"] = tokens
    return line(entry)


def chat(path: Path, *, legacy: bool = False, subagent: bool = False) -> ChatLog:
    """The ``ChatLog`` of a test file (its stem is the fallback session)."""
    stem = path.name.rsplit(".", 1)[0]
    return ChatLog(str(path), PROJECT, stem, legacy=legacy, subagent=subagent)


def read(path: Path, cursor: FileCursor | None = None, **kwargs: Any) -> Increment:
    """``read_increment`` for a JSONL test file."""
    return read_increment(chat(path), cursor, **kwargs)


def cursor_of(inc: Increment) -> FileCursor:
    """The cursor a read produced (it must have produced one)."""
    assert inc.after is not None
    return inc.after


def keys(inc: Increment) -> list[str]:
    """The keys of the records read, in order."""
    return [r.key for r in inc.records]


def key(msg_id: str, session: str = SESSION) -> str:
    """The key of a message of the test session."""
    return f"gemini:{session}/{msg_id}"


def append(path: Path, data: bytes) -> None:
    """Append bytes the way Gemini CLI does."""
    with path.open("ab") as f:
        f.write(data)


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    """A chat holding the metadata line, a user turn and two responses."""
    path = tmp_path / f"{STEM}.jsonl"
    user = line({"id": "u1", "timestamp": TS, "type": "user", "content": [{"text": "x"}]})
    path.write_bytes(META + user + gemini("g1", None) + gemini("g1") + gemini("g2"))
    return path


# -- JSONL ---------------------------------------------------------------------------------------


def test_first_read_returns_every_record(jsonl: Path) -> None:
    """Without a cursor the file is read from the start, a response once per id."""
    expected = [key("g1"), key("g2")]
    assert expected == keys(read(jsonl))


def test_first_read_cursor_sits_at_end(jsonl: Path) -> None:
    """The new cursor's offset is after the last newline."""
    expected = jsonl.stat().st_size
    assert expected == cursor_of(read(jsonl)).offset


def test_cursor_hashes_the_consumed_head(jsonl: Path) -> None:
    """``head_sha1`` covers the first ``min(4096, offset)`` bytes."""
    expected = hashlib.sha1(jsonl.read_bytes()).hexdigest()
    assert expected == cursor_of(read(jsonl)).head_sha1


def test_cursor_state_keeps_the_session_and_model(jsonl: Path) -> None:
    """The cursor carries the session and current model reached at its offset."""
    state = decode_state(cursor_of(read(jsonl)), chat(jsonl))
    expected = (SESSION, MODEL)
    assert expected == (state.session, state.model)


def test_second_read_returns_only_appended_lines(jsonl: Path) -> None:
    """Resuming from the cursor skips what was already read."""
    first = read(jsonl)
    append(jsonl, gemini("g3"))
    expected = [key("g3")]
    assert expected == keys(read(jsonl, first.after))


def test_session_survives_a_refresh(tmp_path: Path) -> None:
    """A line appended after the metadata line was read still gets the file's sessionId."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META)
    first = read(path)
    append(path, gemini("g1"))
    expected = [key("g1")]
    assert expected == keys(read(path, first.after))


def test_model_survives_a_refresh(tmp_path: Path) -> None:
    """A response without ``model`` read later uses the model of an earlier read."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + line({"model": "gemini-2.5-flash"}))
    first = read(path)
    append(path, line({"id": "g1", "timestamp": TS, "type": "gemini", "tokens": PROBE}))
    expected = ["gemini-2.5-flash"]
    assert expected == [r.model for r in read(path, first.after).records]


def test_reappended_id_across_refreshes_has_one_key(tmp_path: Path) -> None:
    """A message re-appended after a refresh lands on the same key as its first copy."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + gemini("g1", dict(PROBE, output=5, total=16258)))
    first = read(path)
    append(path, gemini("g1"))
    second = read(path, first.after)
    expected = (keys(first), [23])
    assert expected == (keys(second), [r.output for r in second.records])


def test_reappended_id_across_refreshes_wins_over_the_first_copy(tmp_path: Path) -> None:
    """The later copy has the larger revision, so the store replaces the first with it."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + gemini("g1", dict(PROBE, output=5, total=16258)))
    first = read(path)
    append(path, gemini("g1"))
    second = read(path, first.after)
    assert wins_gemini(second.records[0], first.records[0])


def test_read_without_new_data_keeps_the_cursor(jsonl: Path) -> None:
    """Nothing new: no records and the same cursor."""
    first = read(jsonl)
    second = read(jsonl, first.after)
    expected = (first.after, 0)
    assert expected == (second.after, len(second.records))


def test_half_written_line_is_not_consumed(jsonl: Path) -> None:
    """A last line without its newline is left for later."""
    first = read(jsonl)
    append(jsonl, gemini("g3")[:40])
    second = read(jsonl, first.after)
    expected = (first.after, 0)
    assert expected == (second.after, len(second.records))


def test_half_written_line_is_read_once_complete(jsonl: Path) -> None:
    """Once the newline arrives the line is read exactly once."""
    first = read(jsonl)
    data = gemini("g3")
    append(jsonl, data[:40])
    waiting = read(jsonl, first.after)
    append(jsonl, data[40:])
    done = read(jsonl, waiting.after)
    again = read(jsonl, done.after)
    expected = ([key("g3")], 0)
    assert expected == (keys(done), len(again.records))


def test_malformed_line_is_counted_and_skipped(jsonl: Path) -> None:
    """A broken line is counted; the lines after it are still read."""
    first = read(jsonl)
    append(jsonl, b'{"id":"g9","type":"gemini","tok\n' + gemini("g3"))
    second = read(jsonl, first.after)
    expected = (1, [key("g3")])
    assert expected == (second.skipped.malformed_json, keys(second))


def test_invalid_utf8_line_is_counted(jsonl: Path) -> None:
    """A line that breaks UTF-8 where it matters is counted as ``invalid_utf8``."""
    first = read(jsonl)
    append(jsonl, gemini("g3").replace(MODEL.encode(), b"gemini-\xff"))
    expected = 1
    assert expected == read(jsonl, first.after).skipped.invalid_utf8


def test_non_object_line_is_counted(jsonl: Path) -> None:
    """A line holding a JSON array is counted as ``wrong_shape``."""
    first = read(jsonl)
    append(jsonl, b"[1,2]\n")
    expected = 1
    assert expected == read(jsonl, first.after).skipped.wrong_shape


def test_missing_timestamp_uses_the_file_mtime(tmp_path: Path) -> None:
    """A response without a timestamp is dated by the file's mtime."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(line({"id": "g1", "type": "gemini", "model": MODEL, "tokens": PROBE}))
    os.utime(path, ns=(1_700_000_000_123_000_000, 1_700_000_000_123_000_000))
    expected = [1_700_000_000_123]
    assert expected == [r.ts_ms for r in read(path).records]


def test_subagent_chat_uses_its_own_session(tmp_path: Path) -> None:
    """A subagent chat's records carry its own sessionId and are sidechain."""
    path = tmp_path / "bbbb.jsonl"
    path.write_bytes(line({"sessionId": "bbbb", "kind": "subagent"}) + gemini("g1"))
    inc = read_increment(chat(path, subagent=True), None)
    expected = [(key("g1", "bbbb"), "bbbb", True)]
    assert expected == [(r.key, r.session, r.sidechain) for r in inc.records]


def test_truncated_file_is_reread_from_start(jsonl: Path) -> None:
    """A file shorter than the cursor is read again from 0 and counted as rewound."""
    first = read(jsonl)
    jsonl.write_bytes(META + gemini("g1"))
    inc = read(jsonl, first.after)
    expected = ([key("g1")], True, 1)
    assert expected == (keys(inc), inc.reset, inc.skipped.rewound)


def test_reset_forgets_the_old_state(jsonl: Path) -> None:
    """After a rewrite the session comes from the new content, not the old cursor."""
    first = read(jsonl)
    jsonl.write_bytes(gemini("g1"))
    expected = [key("g1", STEM)]
    assert expected == keys(read(jsonl, first.after))


def test_replaced_file_is_reread_from_start(jsonl: Path, tmp_path: Path) -> None:
    """A new file at the same path (new inode) is read from 0."""
    first = read(jsonl)
    other = tmp_path / "other.jsonl"
    other.write_bytes(META + gemini("g1") + gemini("g2") + gemini("g3"))
    os.replace(other, jsonl)
    inc = read(jsonl, first.after)
    expected = ([key("g1"), key("g2"), key("g3")], True)
    assert expected == (keys(inc), inc.reset)


def test_file_rewritten_in_place_is_detected(jsonl: Path) -> None:
    """Same inode, at least as long, different head: read from 0."""
    first = read(jsonl)
    with jsonl.open("r+b") as f:
        f.write(b"X")
    inc = read(jsonl, first.after)
    expected = (True, 1)
    assert expected == (inc.reset, inc.skipped.rewound)


def test_budget_stops_early_and_says_more(tmp_path: Path) -> None:
    """A read stops near ``max_bytes`` at a line end and reports ``more``."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + b"".join(gemini(f"g{i}") for i in range(10)))
    first = read(path, max_bytes=600)
    rest = read(path, first.after)
    expected = (True, 10)
    assert expected == (first.more, len(first.records) + len(rest.records))


def test_line_longer_than_the_budget_is_read_whole(tmp_path: Path) -> None:
    """A line longer than the read budget is still read in full."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(META + gemini("big", text="y" * 5000) + gemini("g2"))
    first = read(path, max_bytes=1024)
    seen = keys(first)
    cursor = first.after
    while first.more:
        first = read(path, cursor, max_bytes=1024)
        seen += keys(first)
        cursor = first.after
    expected = [key("big"), key("g2")]
    assert expected == seen


def test_line_over_the_cap_is_skipped_and_counted(tmp_path: Path) -> None:
    """A line longer than the hard cap is skipped once its newline arrives."""
    path = tmp_path / f"{STEM}.jsonl"
    path.write_bytes(gemini("big", text="y" * 5000) + gemini("g2"))
    first = read(path, max_bytes=1024, line_cap=4096)
    second = read(path, first.after, max_bytes=1024, line_cap=4096)
    expected = (1, 0, [key("g2", STEM)])
    assert expected == (first.skipped.oversized_line, len(first.records), keys(second))


def test_deleted_file_gives_no_cursor(jsonl: Path) -> None:
    """A file that vanished has no cursor to commit."""
    first = read(jsonl)
    jsonl.unlink()
    assert read(jsonl, first.after).after is None


def test_directory_is_unreadable(tmp_path: Path) -> None:
    """A directory where a chat should be is reported, the cursor kept."""
    path = tmp_path / "d.jsonl"
    path.mkdir()
    inc = read(path)
    expected = (None, 1)
    assert expected == (inc.after, inc.skipped.unreadable)


def test_unchanged_sees_nothing_new(jsonl: Path) -> None:
    """The cheap check recognises a file at its cursor."""
    assert unchanged(chat(jsonl), read(jsonl).after)


def test_unchanged_sees_an_append(jsonl: Path) -> None:
    """The cheap check notices appended bytes."""
    cursor = read(jsonl).after
    append(jsonl, gemini("g3"))
    assert not unchanged(chat(jsonl), cursor)


# -- legacy JSON -----------------------------------------------------------------------------------


def legacy_doc(*messages: dict[str, Any]) -> bytes:
    """A legacy chat document (pretty-printed, as Gemini CLI wrote it)."""
    doc = {"sessionId": SESSION, "startTime": TS, "lastUpdated": TS, "messages": list(messages)}
    return json.dumps(doc, indent=2).encode()


def message(msg_id: str, tokens: dict[str, Any] = PROBE) -> dict[str, Any]:
    """A model message of a legacy chat."""
    return {"id": msg_id, "timestamp": TS, "type": "gemini", "model": MODEL, "tokens": tokens}


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A legacy chat with two responses."""
    path = tmp_path / f"{STEM}.json"
    path.write_bytes(legacy_doc(message("g1"), message("g2")))
    return path


def read_legacy(path: Path, cursor: FileCursor | None = None, **kwargs: Any) -> Increment:
    """``read_increment`` for a legacy JSON test file."""
    return read_increment(chat(path, legacy=True), cursor, **kwargs)


def touch(path: Path, ns: int) -> None:
    """Set both times of ``path`` (to make a rewrite's mtime differ for sure)."""
    os.utime(path, ns=(ns, ns))


def test_legacy_chat_is_read_whole(legacy: Path) -> None:
    """Every response of a legacy chat is read at once."""
    expected = [key("g1"), key("g2")]
    assert expected == keys(read_legacy(legacy))


def test_legacy_cursor_offset_is_the_file_size(legacy: Path) -> None:
    """A legacy chat's cursor sits at its size."""
    expected = legacy.stat().st_size
    assert expected == cursor_of(read_legacy(legacy)).offset


def test_legacy_cursor_state_keeps_the_mtime(legacy: Path) -> None:
    """The cursor remembers the version read by its mtime."""
    expected = legacy.stat().st_mtime_ns
    assert expected == decode_state(cursor_of(read_legacy(legacy)), chat(legacy)).mtime_ns


def test_unchanged_legacy_chat_gives_nothing(legacy: Path) -> None:
    """The same version again: no records and the same cursor."""
    first = read_legacy(legacy)
    second = read_legacy(legacy, first.after)
    expected = (first.after, 0)
    assert expected == (second.after, len(second.records))


def test_rewritten_legacy_chat_emits_every_record_again(legacy: Path) -> None:
    """A rewrite (a message added) re-emits all records under the same keys."""
    first = read_legacy(legacy)
    legacy.write_bytes(legacy_doc(message("g1"), message("g2"), message("g3")))
    expected = [key("g1"), key("g2"), key("g3")]
    assert expected == keys(read_legacy(legacy, first.after))


def test_legacy_rewrite_is_not_counted_as_rewound(legacy: Path) -> None:
    """Rewriting is how a legacy chat grows, not a rewind."""
    first = read_legacy(legacy)
    legacy.write_bytes(legacy_doc(message("g1"), message("g2"), message("g3")))
    expected = (False, 0)
    inc = read_legacy(legacy, first.after)
    assert expected == (inc.reset, inc.skipped.rewound)


def test_legacy_same_size_rewrite_is_noticed_by_mtime(legacy: Path) -> None:
    """A rewrite that keeps the size is still read again (its mtime moved)."""
    touch(legacy, 1_700_000_000_000_000_000)
    first = read_legacy(legacy)
    legacy.write_bytes(legacy_doc(message("g1"), message("g9")))
    touch(legacy, 1_700_000_001_000_000_000)
    assert not unchanged(chat(legacy, legacy=True), first.after)
    expected = [key("g1"), key("g9")]
    assert expected == keys(read_legacy(legacy, first.after))


def test_half_written_legacy_chat_is_counted_then_reread(legacy: Path) -> None:
    """A torn document is counted; once rewritten whole it is read."""
    content = legacy.read_bytes()
    legacy.write_bytes(content[:50])
    torn = read_legacy(legacy)
    legacy.write_bytes(content)
    touch(legacy, 1_700_000_002_000_000_000)
    whole = read_legacy(legacy, torn.after)
    expected = (1, 2)
    assert expected == (torn.skipped.malformed_json, len(whole.records))


def test_oversized_legacy_chat_is_skipped_and_counted(legacy: Path) -> None:
    """A legacy chat larger than the cap is not loaded."""
    inc = read_legacy(legacy, line_cap=64)
    expected = (1, 0, legacy.stat().st_size)
    assert expected == (inc.skipped.oversized_line, len(inc.records), cursor_of(inc).offset)


def test_legacy_and_migrated_jsonl_share_keys(legacy: Path, tmp_path: Path) -> None:
    """A legacy chat and its JSONL migration name each response with the same key."""
    migrated = tmp_path / f"{STEM}.jsonl"
    migrated.write_bytes(META + gemini("g1") + gemini("g2"))
    assert keys(read_legacy(legacy)) == keys(read(migrated))
