"""The Gemini adapter as the collector uses it: files, ownership, batches, the winner rule."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bus.messages import UsageRecord
from services.collector.gemini.adapter import GeminiAdapter
from services.collector.gemini.dedup import wins_gemini

SESSION = "aaaa1111-2222-3333-4444-555566667777"
MAIN = "session-2026-05-01T11-07-aaaa1111"
TS = "2026-05-01T11:07:32.000Z"
PROBE = {"input": 15327, "output": 23, "cached": 11526, "thoughts": 919, "tool": 7, "total": 16276}


def line(obj: dict[str, Any]) -> bytes:
    """One compact JSONL line, newline included."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def gemini(msg_id: str, **fields: Any) -> dict[str, Any]:
    """A model message with tokens."""
    entry = {"id": msg_id, "timestamp": TS, "type": "gemini", "model": "gemini-2.5-pro"}
    return entry | {"tokens": PROBE} | fields


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A ``tmp/`` root with one JSONL chat."""
    chats = tmp_path / "tmp" / "proj" / "chats"
    chats.mkdir(parents=True)
    (chats / f"{MAIN}.jsonl").write_bytes(line({"sessionId": SESSION}) + line(gemini("g1")))
    return tmp_path / "tmp"


def chat_path(root: Path, name: str = f"{MAIN}.jsonl") -> str:
    """The path of a main chat of ``proj``."""
    return str(root / "proj" / "chats" / name)


def test_all_files_lists_the_chats(root: Path) -> None:
    """Every chat under the roots is listed."""
    expected = [chat_path(root)]
    assert expected == GeminiAdapter([root]).all_files()


def test_owns_a_chat_not_scanned_yet(root: Path) -> None:
    """A chat path under a root is owned before any scan (a file event)."""
    assert GeminiAdapter([root]).owns(chat_path(root, "session-new.json"))


def test_does_not_own_logs_json(root: Path) -> None:
    """The prompt log is not one of the adapter's files."""
    assert not GeminiAdapter([root]).owns(str(root / "proj" / "logs.json"))


def test_read_gives_a_batch_of_the_file(root: Path) -> None:
    """A first read gives a batch from no cursor with the file's records."""
    batch, more = GeminiAdapter([root]).read(chat_path(root), None)
    assert batch is not None
    expected = ("gemini", None, [f"gemini:{SESSION}/g1"], False)
    assert expected == (batch.provider, batch.before, [r.key for r in batch.records], more)


def test_read_at_the_end_gives_nothing(root: Path) -> None:
    """Nothing past the cursor: no batch."""
    adapter = GeminiAdapter([root])
    batch, _ = adapter.read(chat_path(root), None)
    assert batch is not None
    expected = (None, False)
    assert expected == adapter.read(chat_path(root), batch.after)


def test_record_without_model_is_a_problem(root: Path) -> None:
    """A response that names no model is counted in ``problems``."""
    path = root / "proj" / "chats" / "session-nomodel.jsonl"
    path.write_bytes(line(gemini("g1", model=None)))
    adapter = GeminiAdapter([root])
    adapter.read(str(path), None)
    adapter.read(str(path), None)
    expected = 1
    assert expected == adapter.problems["unknown_model"]


def test_deleted_file_is_forgotten(root: Path) -> None:
    """A chat that vanished gives no batch and leaves the listing."""
    adapter = GeminiAdapter([root])
    adapter.all_files()
    os.unlink(chat_path(root))
    adapter.read(chat_path(root), None)
    assert [] == adapter.all_files()


def test_legacy_rewrites_of_equal_size_have_distinct_batch_ids(root: Path) -> None:
    """Two versions of a legacy chat with the same size and head are different batches."""
    path = root / "proj" / "chats" / f"{MAIN}.json"
    adapter = GeminiAdapter([root])
    ids = []
    cursor = None
    for step in range(3):
        path.write_bytes(json.dumps({"sessionId": SESSION, "messages": [gemini("g1")]}).encode())
        os.utime(path, ns=(1_700_000_000_000_000_000 + step, 1_700_000_000_000_000_000 + step))
        batch, _ = adapter.read(str(path), cursor)
        assert batch is not None
        ids.append(batch.batch_id)
        cursor = batch.after
    expected = 3
    assert expected == len(set(ids))


def record(revision: int) -> UsageRecord:
    """A Gemini record copy at ``revision``."""
    return UsageRecord(
        key="gemini:s/g1",
        provider="gemini",
        ts_ms=0,
        model="gemini-2.5-pro",
        project="p",
        session="s",
        revision=revision,
    )


def test_later_copy_wins() -> None:
    """The copy at the larger offset replaces the counted one."""
    assert wins_gemini(record(900), record(100))


def test_earlier_copy_loses() -> None:
    """A copy read from an earlier offset never replaces a later one."""
    assert not wins_gemini(record(100), record(900))


def test_tie_keeps_the_counted_copy() -> None:
    """The same line read again changes nothing."""
    assert not wins_gemini(record(100), record(100))
