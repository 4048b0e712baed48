"""User prompts read from Claude Code transcripts in the same pass as usage."""

from __future__ import annotations

import json
from pathlib import Path

from services.collector.claude.adapter import ClaudeAdapter
from services.collector.claude.reader import read_increment

PROJECT = "-home-u-proj"
SESSION = "s1"


def user_line(content: object, uuid: str = "u1", **extra: object) -> bytes:
    """One compact user line of a transcript, newline included."""
    entry = {
        "type": "user",
        "sessionId": SESSION,
        "uuid": uuid,
        "timestamp": "2026-12-02T10:00:00.000Z",
        "message": {"role": "user", "content": content},
        **extra,
    }
    return json.dumps(entry, separators=(",", ":")).encode() + b"\n"


def prompts_of(path: Path, data: bytes) -> list[str]:
    """The prompt texts read from a transcript holding ``data``."""
    path.write_bytes(data)
    return [p.text for p in read_increment(str(path), PROJECT, SESSION, None).prompts]


def test_a_typed_prompt_is_read_with_time_project_and_session(tmp_path: Path) -> None:
    """A plain user line gives one prompt keyed by its uuid."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(user_line("fix the tests"))
    (prompt,) = read_increment(str(path), PROJECT, SESSION, None).prompts
    assert ("claude:u1", 1796205600000, PROJECT, SESSION, "fix the tests") == (
        prompt.key,
        prompt.ts_ms,
        prompt.project,
        prompt.session,
        prompt.text,
    )


def test_text_parts_of_a_list_content_are_joined(tmp_path: Path) -> None:
    """A content list's text parts make one prompt."""
    content = [{"type": "text", "text": "look at"}, {"type": "text", "text": "this"}]
    assert ["look at this"] == prompts_of(tmp_path / "s.jsonl", user_line(content))


def test_a_tool_result_line_is_no_prompt(tmp_path: Path) -> None:
    """Tool output written as a user line is skipped."""
    content = [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]
    assert [] == prompts_of(tmp_path / "s.jsonl", user_line(content))


def test_a_meta_line_is_no_prompt(tmp_path: Path) -> None:
    """``isMeta`` user lines are skipped."""
    assert [] == prompts_of(tmp_path / "s.jsonl", user_line("Caveat: ...", isMeta=True))


def test_command_and_reminder_wrappers_are_no_prompts(tmp_path: Path) -> None:
    """Slash-command echoes, their output and system reminders are skipped."""
    data = (
        user_line("<command-name>/clear</command-name>", "a")
        + user_line("<local-command-stdout>done</local-command-stdout>", "b")
        + user_line([{"type": "text", "text": "<system-reminder>x</system-reminder>"}], "c")
    )
    assert [] == prompts_of(tmp_path / "s.jsonl", data)


def test_a_long_prompt_is_cut_to_220_characters(tmp_path: Path) -> None:
    """Text beyond 220 characters is dropped."""
    assert ["x" * 220] == prompts_of(tmp_path / "s.jsonl", user_line("x" * 500))


def test_prompts_are_read_incrementally_from_the_cursor(tmp_path: Path) -> None:
    """A second read from the first read's cursor gives only the new prompt."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(user_line("first", "a"))
    first = read_increment(str(path), PROJECT, SESSION, None)
    with path.open("ab") as f:
        f.write(user_line("second", "b"))
    second = read_increment(str(path), PROJECT, SESSION, first.after)
    assert ["second"] == [p.text for p in second.prompts]


def test_a_batch_with_only_prompts_is_sent(tmp_path: Path) -> None:
    """The adapter sends a batch that holds a prompt and no records."""
    root = tmp_path / "projects"
    path = root / PROJECT / "s1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(user_line("hello"))
    batch, _more = ClaudeAdapter([root]).read(str(path), None)
    assert batch is not None and ["hello"] == [p.text for p in batch.prompts]


def test_an_adapter_told_not_to_read_prompts_sends_none(tmp_path: Path) -> None:
    """With ``read_prompts`` off the batch carries no prompts."""
    root = tmp_path / "projects"
    path = root / PROJECT / "s1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(user_line("hello"))
    adapter = ClaudeAdapter([root])
    adapter.read_prompts = False
    batch, _more = adapter.read(str(path), None)
    assert batch is not None and () == batch.prompts


def test_a_sidechain_user_line_is_no_prompt(tmp_path: Path) -> None:
    """A subagent's task (``isSidechain``) was written by Claude, not typed: skipped."""
    assert [] == prompts_of(tmp_path / "s.jsonl", user_line("run the tests", isSidechain=True))


def test_a_compaction_summary_is_no_prompt(tmp_path: Path) -> None:
    """The summary Claude Code writes after compacting is skipped."""
    data = user_line("This session is being continued", isCompactSummary=True)
    assert [] == prompts_of(tmp_path / "s.jsonl", data)


def test_a_system_reminder_inside_a_prompt_is_dropped_from_its_text(tmp_path: Path) -> None:
    """Only what was typed stays when a reminder is appended to the prompt."""
    data = user_line("fix it\n<system-reminder>secret context</system-reminder>")
    assert ["fix it"] == prompts_of(tmp_path / "s.jsonl", data)


def test_usage_lines_are_still_counted_beside_prompts(tmp_path: Path) -> None:
    """A prompt and its reply in one read give one prompt and one usage record."""
    reply = {
        "type": "assistant",
        "sessionId": SESSION,
        "uuid": "a1",
        "requestId": "req_1",
        "timestamp": "2026-12-02T10:00:05.000Z",
        "message": {
            "id": "msg_1",
            "model": "claude-sonnet-4-5",
            "role": "assistant",
            "usage": {"input_tokens": 3, "output_tokens": 7},
        },
    }
    path = tmp_path / "s1.jsonl"
    path.write_bytes(user_line("hi") + json.dumps(reply, separators=(",", ":")).encode() + b"\n")
    inc = read_increment(str(path), PROJECT, SESSION, None)
    assert (["hi"], [7]) == ([p.text for p in inc.prompts], [r.output for r in inc.records])


def test_a_read_told_not_to_parse_prompts_finds_none(tmp_path: Path) -> None:
    """``prompts=False`` (``[activity] enabled = false``) reads no prompt at all."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(user_line("hello"))
    assert [] == read_increment(str(path), PROJECT, SESSION, None, prompts=False).prompts
