"""User prompts read from Codex session logs (``event_msg`` ``user_message``) in the usage pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.collector.codex.reader import read_increment
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
