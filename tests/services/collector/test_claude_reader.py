"""Incremental reading of one Claude Code transcript: cursors, partial lines, replaced files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from bus.messages import FileCursor
from services.collector.claude.reader import Increment, read_increment

PROJECT = "-home-u-proj"
SESSION = "s1"


def usage_line(msg_id: str, output: int = 500, text: str = "hi") -> bytes:
    """One compact assistant usage line, newline included."""
    entry = {
        "type": "assistant",
        "sessionId": SESSION,
        "version": "2.1.30",
        "requestId": f"req_{msg_id}",
        "timestamp": "2026-05-16T09:12:34.567Z",
        "message": {
            "id": msg_id,
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 3, "output_tokens": output},
        },
    }
    return json.dumps(entry, separators=(",", ":")).encode() + b"\n"


USER_LINE = b'{"type":"user","message":{"role":"user","content":"fix it"}}\n'


def read(path: Path, cursor: FileCursor | None = None, **kwargs: int) -> Increment:
    """``read_increment`` for a test file."""
    return read_increment(str(path), PROJECT, SESSION, cursor, **kwargs)


def cursor_of(inc: Increment) -> FileCursor:
    """The cursor a read produced (it must have produced one)."""
    assert inc.after is not None
    return inc.after


def keys(inc: Increment) -> list[str]:
    """The keys of the records read, in order."""
    return [r.key for r in inc.records]


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    """A transcript holding a user turn and two responses."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(USER_LINE + usage_line("m1") + usage_line("m2"))
    return path


def append(path: Path, data: bytes) -> None:
    """Append bytes the way Claude Code does."""
    with path.open("ab") as f:
        f.write(data)


def test_first_read_returns_every_record(transcript: Path) -> None:
    """Without a cursor the file is read from the start."""
    expected = ["claude:m1", "claude:m2"]
    assert expected == keys(read(transcript))


def test_first_read_cursor_sits_at_end(transcript: Path) -> None:
    """The new cursor's offset is after the last newline."""
    expected = transcript.stat().st_size
    assert expected == cursor_of(read(transcript)).offset


def test_cursor_records_file_identity(transcript: Path) -> None:
    """The cursor carries the path, device and inode of the file read."""
    st = transcript.stat()
    after = cursor_of(read(transcript))
    expected = (str(transcript), st.st_dev, st.st_ino)
    assert expected == (after.path, after.dev, after.ino)


def test_cursor_hashes_the_consumed_head(transcript: Path) -> None:
    """``head_sha1`` covers the first ``min(4096, offset)`` bytes."""
    data = transcript.read_bytes()
    expected = hashlib.sha1(data).hexdigest()
    assert expected == cursor_of(read(transcript)).head_sha1


def test_head_is_capped_at_4096_bytes(tmp_path: Path) -> None:
    """A long file is identified by its first 4096 bytes only."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(usage_line(f"m{i}", text="x" * 500) for i in range(20)))
    expected = 4096
    assert expected == cursor_of(read(path)).head_len


def test_first_read_is_not_a_reset(transcript: Path) -> None:
    """Reading a new file from 0 is not a rewind."""
    inc = read(transcript)
    expected = (False, 0)
    assert expected == (inc.reset, inc.skipped.rewound)


def test_second_read_returns_only_appended_lines(transcript: Path) -> None:
    """Resuming from the cursor skips what was already read."""
    first = read(transcript)
    append(transcript, usage_line("m3"))
    expected = ["claude:m3"]
    assert expected == keys(read(transcript, first.after))


def test_read_without_new_data_keeps_the_cursor(transcript: Path) -> None:
    """Nothing new: no records and the same cursor."""
    first = read(transcript)
    second = read(transcript, first.after)
    expected = (first.after, 0)
    assert expected == (second.after, len(second.records))


def test_half_written_line_is_not_consumed(transcript: Path) -> None:
    """A last line without its newline is left for later."""
    first = read(transcript)
    append(transcript, usage_line("m3")[:40])
    second = read(transcript, first.after)
    expected = (first.after, 0)
    assert expected == (second.after, len(second.records))


def test_half_written_line_is_read_once_complete(transcript: Path) -> None:
    """Once the newline arrives the line is read exactly once."""
    first = read(transcript)
    line = usage_line("m3")
    append(transcript, line[:40])
    waiting = read(transcript, first.after)
    append(transcript, line[40:])
    done = read(transcript, waiting.after)
    again = read(transcript, done.after)
    expected = (["claude:m3"], 0)
    assert expected == (keys(done), len(again.records))


def test_file_with_only_a_partial_line_has_empty_head(tmp_path: Path) -> None:
    """Nothing consumed yet: offset and head length stay 0."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(usage_line("m1")[:30])
    after = cursor_of(read(path))
    expected = (0, 0)
    assert expected == (after.offset, after.head_len)


def test_twenty_megabyte_line_is_read_whole(tmp_path: Path) -> None:
    """A line longer than the read budget is still read in full."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(usage_line("big", output=7, text="y" * (20 << 20)) + usage_line("m2"))
    first = read(path)
    second = read(path, first.after)
    expected = (["claude:big"], [7], ["claude:m2"])
    assert expected == (
        keys(first),
        [r.output for r in first.records],
        keys(second),
    )


def test_long_line_without_newline_waits(tmp_path: Path) -> None:
    """A line longer than the budget whose newline has not arrived is not consumed."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(usage_line("big", text="y" * 5000)[:-1])
    inc = read(path, max_bytes=1024)
    expected = (0, 0)
    assert expected == (cursor_of(inc).offset, len(inc.records))


def test_line_over_the_cap_is_skipped_and_counted(tmp_path: Path) -> None:
    """A line longer than the hard cap is skipped once its newline arrives."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(usage_line("big", text="y" * 5000) + usage_line("m2"))
    first = read(path, max_bytes=1024, line_cap=4096)
    second = read(path, first.after, max_bytes=1024, line_cap=4096)
    expected = (1, 0, ["claude:m2"])
    assert expected == (first.skipped.oversized_line, len(first.records), keys(second))


def test_line_over_the_cap_without_newline_waits(tmp_path: Path) -> None:
    """An oversized line is not skipped before its end is known."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(usage_line("big", text="y" * 5000)[:-1])
    inc = read(path, max_bytes=1024, line_cap=4096)
    expected = (0, 0)
    assert expected == (cursor_of(inc).offset, inc.skipped.oversized_line)


def test_budget_reports_more(tmp_path: Path) -> None:
    """Stopping at the byte budget says more is waiting."""
    path = tmp_path / "s.jsonl"
    line = usage_line("m1")
    path.write_bytes(line * 10)
    inc = read(path, max_bytes=len(line) * 3 + 5)
    expected = (3, True)
    assert expected == (len(inc.records), inc.more)


def test_budget_reads_resume_to_the_end(tmp_path: Path) -> None:
    """Repeated budget-sized reads consume the whole file, each line once."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(usage_line(f"m{i}") for i in range(10)))
    cursor, seen, more = None, [], True
    while more:
        inc = read(path, cursor, max_bytes=300)
        cursor, more = inc.after, inc.more
        seen += keys(inc)
    expected = [f"claude:m{i}" for i in range(10)]
    assert expected == seen


def test_reaching_the_end_reports_no_more(transcript: Path) -> None:
    """A read that reaches the end of the file says nothing more is waiting."""
    assert not read(transcript).more


def test_truncated_file_is_read_again_from_zero(transcript: Path) -> None:
    """A file shorter than the cursor is re-read from the start."""
    first = read(transcript)
    transcript.write_bytes(usage_line("m9"))
    inc = read(transcript, first.after)
    expected = (["claude:m9"], True, 1)
    assert expected == (keys(inc), inc.reset, inc.skipped.rewound)


def test_replaced_file_is_read_again_from_zero(transcript: Path, tmp_path: Path) -> None:
    """A new inode at the same path is re-read from the start."""
    first = read(transcript)
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(transcript.read_bytes() + usage_line("m3"))
    os.replace(replacement, transcript)
    inc = read(transcript, first.after)
    expected = (["claude:m1", "claude:m2", "claude:m3"], True)
    assert expected == (keys(inc), inc.reset)


def test_file_rewritten_in_place_is_read_again(transcript: Path) -> None:
    """Same inode, longer, but a different head: re-read from the start."""
    first = read(transcript)
    with transcript.open("r+b") as f:
        f.write(usage_line("n1") + usage_line("n2") + usage_line("n3") + usage_line("n4"))
    inc = read(transcript, first.after)
    expected = (["claude:n1", "claude:n2", "claude:n3", "claude:n4"], True)
    assert expected == (keys(inc), inc.reset)


def test_deleted_file_has_no_cursor(transcript: Path) -> None:
    """A file that is gone gives ``after=None`` and nothing else."""
    first = read(transcript)
    transcript.unlink()
    inc = read(transcript, first.after)
    expected = (None, 0, 0)
    assert expected == (inc.after, len(inc.records), inc.skipped.total)


def test_directory_in_place_of_file_is_unreadable(transcript: Path) -> None:
    """A path that is now a directory is reported unreadable and the cursor kept."""
    first = read(transcript)
    transcript.unlink()
    transcript.mkdir()
    inc = read(transcript, first.after)
    expected = (first.after, 1)
    assert expected == (inc.after, inc.skipped.unreadable)


def test_fifo_in_place_of_file_is_unreadable_without_blocking(tmp_path: Path) -> None:
    """A FIFO is reported unreadable instead of blocking the collector."""
    path = tmp_path / "s.jsonl"
    os.mkfifo(path)
    inc = read(path)
    expected = (None, 1)
    assert expected == (inc.after, inc.skipped.unreadable)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_unreadable(transcript: Path) -> None:
    """A file the user may not read is reported and its cursor kept."""
    first = read(transcript)
    transcript.chmod(0)
    inc = read(transcript, first.after)
    expected = (first.after, 1)
    assert expected == (inc.after, inc.skipped.unreadable)


def test_read_error_is_unreadable(transcript: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An I/O error while reading keeps the cursor and is reported."""
    first = read(transcript)
    append(transcript, usage_line("m3"))

    def failing_read(fd: int, length: int) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "read", failing_read)
    inc = read(transcript, first.after)
    expected = (first.after, 1, 0)
    assert expected == (inc.after, inc.skipped.unreadable, len(inc.records))


def test_skipped_lines_are_counted_by_reason(tmp_path: Path) -> None:
    """Malformed, non-UTF-8 and wrongly shaped usage lines are tallied, good lines kept."""
    path = tmp_path / "s.jsonl"
    good = usage_line("m1")
    malformed = usage_line("m2")[:-10] + b"\n"
    bad_utf8 = usage_line("m3").replace(b"claude-sonnet", b"claude-\xffsonnet")
    wrong = usage_line("m4").replace(b'"output_tokens":500', b'"output_tokens":"500"')
    path.write_bytes(good + malformed + bad_utf8 + wrong + USER_LINE)
    inc = read(path)
    counts = (inc.skipped.malformed_json, inc.skipped.invalid_utf8, inc.skipped.wrong_shape)
    expected = (["claude:m1"], (1, 1, 1))
    assert expected == (keys(inc), counts)


def test_skipped_lines_are_still_consumed(tmp_path: Path) -> None:
    """A skipped line moves the cursor like any other: it is never retried."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(usage_line("m2")[:-10] + b"\n")
    expected = path.stat().st_size
    assert expected == cursor_of(read(path)).offset


def test_crlf_line_endings_are_read(tmp_path: Path) -> None:
    """A trailing carriage return does not break the JSON."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(usage_line("m1")[:-1] + b"\r\n")
    expected = ["claude:m1"]
    assert expected == keys(read(path))
