"""Incremental reading of one Codex session log: cursors with parser state, partial lines,
replaced files, forks written across reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bus.messages import FileCursor, UsageRecord
from services.collector.codex.reader import Increment, read_increment, usage_stream
from services.collector.codex.records import Usage

SESSION = "2026/05/01/rollout-2026-05-01T10-00-00-019e0000-0000-7000-8000-000000000001"
CWD = "/home/u/proj"


def line(obj: dict[str, Any]) -> bytes:
    """One compact JSON line, newline included."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def meta(ts: str = "2026-05-01T10:00:00.000Z", **payload: Any) -> bytes:
    """A ``session_meta`` first line."""
    return line(
        {"timestamp": ts, "type": "session_meta", "payload": {"id": "s1", "cwd": CWD, **payload}}
    )


TURN = line(
    {
        "timestamp": "2026-05-01T10:00:01.000Z",
        "type": "turn_context",
        "payload": {"turn_id": "t1", "cwd": CWD, "model": "gpt-5.3-codex"},
    }
)


def usage(input_tokens: int, cached: int, output: int, reasoning: int = 0) -> dict[str, int]:
    """A token-usage object with Codex's total (input + output)."""
    return {
        "input_tokens": input_tokens,
        "cached_input_tokens": cached,
        "output_tokens": output,
        "reasoning_output_tokens": reasoning,
        "total_tokens": input_tokens + output,
    }


def tokens(
    ts: str,
    total: dict[str, int] | None = None,
    last_token_usage: dict[str, int] | None = None,
    **payload: Any,
) -> bytes:
    """A ``token_count`` line, totals-only unless ``last_token_usage`` is given (the legacy
    shape, where state matters most)."""
    info: dict[str, Any] | None = None if total is None else {"total_token_usage": total}
    if info is not None and last_token_usage is not None:
        info["last_token_usage"] = last_token_usage
    body = {"type": "token_count", "info": info, **payload}
    return line({"timestamp": ts, "type": "event_msg", "payload": body})


def response(text: str = "ok") -> bytes:
    """A ``response_item`` line (never decoded by the reader)."""
    return line(
        {
            "timestamp": "2026-05-01T10:00:05.000Z",
            "type": "response_item",
            "payload": {"type": "message", "role": "assistant", "content": [{"text": text}]},
        }
    )


def totals_at(minute: int) -> dict[str, int]:
    """Running totals after ``minute`` one-minute turns of 1000 input (800 cached), 50 output."""
    return usage(1000 * minute, 800 * minute, 50 * minute)


def turn_line(minute: int) -> bytes:
    """The token_count line of turn ``minute``."""
    return tokens(f"2026-05-01T10:{minute:02d}:00.000Z", totals_at(minute))


def read(path: Path, cursor: FileCursor | None = None, **kwargs: Any) -> Increment:
    """``read_increment`` for a test file."""
    return read_increment(str(path), SESSION, cursor, **kwargs)


def cursor_of(inc: Increment) -> FileCursor:
    """The cursor a read produced (it must have produced one)."""
    assert inc.after is not None
    return inc.after


def shape(records: list[UsageRecord]) -> list[tuple[int, int, int]]:
    """``(input, cache_read, output)`` of each record."""
    return [(r.input, r.cache_read, r.output) for r in records]


def append(path: Path, data: bytes) -> None:
    """Append bytes the way Codex does."""
    with path.open("ab") as f:
        f.write(data)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A session with two totals-only turns and some conversation in between."""
    path = tmp_path / "rollout-2026-05-01T10-00-00-s1.jsonl"
    path.write_bytes(meta() + TURN + response() + turn_line(1) + response() + turn_line(2))
    return path


ONE_TURN = (200, 800, 50)


def test_first_read_returns_every_turn(log: Path) -> None:
    """Without a cursor the file is read from the start, one record per turn."""
    expected = [ONE_TURN, ONE_TURN]
    assert expected == shape(read(log).records)


def test_first_read_cursor_sits_at_end(log: Path) -> None:
    """The new cursor's offset is after the last newline."""
    expected = log.stat().st_size
    assert expected == cursor_of(read(log)).offset


def test_cursor_carries_parser_state(log: Path) -> None:
    """The cursor's ``state`` is not empty once totals have been seen."""
    assert cursor_of(read(log)).state


def test_second_read_continues_the_running_totals(log: Path) -> None:
    """After a refresh, the appended turn is the growth since the last totals, not all of it."""
    first = read(log)
    append(log, response() + turn_line(3))
    second = read(log, first.after)
    expected = [ONE_TURN]
    assert expected == shape(second.records)


def test_two_refreshes_count_like_one_read(log: Path, tmp_path: Path) -> None:
    """Reading in two steps gives exactly the records of reading everything at once."""
    first = read(log)
    append(log, turn_line(3) + turn_line(3) + turn_line(4))
    second = read(log, first.after)
    whole = read(log)
    expected = [r.key for r in whole.records]
    assert expected == [r.key for r in first.records + second.records]


def test_re_emit_after_a_refresh_is_still_dropped(log: Path) -> None:
    """Totals re-emitted (with their last usage) in the next read are recognised via the state."""
    first = read(log)
    again = tokens("2026-05-01T10:02:01.000Z", totals_at(2), last_token_usage=usage(1000, 800, 50))
    append(log, again)
    expected = 0
    assert expected == len(read(log, first.after).records)


def test_second_read_keeps_the_project(log: Path) -> None:
    """Records read later still carry the cwd of the session's first line."""
    first = read(log)
    append(log, turn_line(3))
    expected = [CWD]
    assert expected == [r.project for r in read(log, first.after).records]


def test_second_read_keeps_the_model(log: Path) -> None:
    """The turn_context model read earlier still applies after a refresh."""
    first = read(log)
    append(log, turn_line(3))
    expected = ["gpt-5.3-codex"]
    assert expected == [r.model for r in read(log, first.after).records]


def test_read_without_new_data_keeps_the_cursor(log: Path) -> None:
    """Nothing new: no records and the same cursor, state included."""
    first = read(log)
    second = read(log, first.after)
    expected = (first.after, 0)
    assert expected == (second.after, len(second.records))


def test_half_written_line_is_not_consumed(log: Path) -> None:
    """A last line without its newline is left for later, state untouched."""
    first = read(log)
    append(log, turn_line(3)[:40])
    second = read(log, first.after)
    expected = (first.after, 0)
    assert expected == (second.after, len(second.records))


def test_half_written_line_is_read_once_complete(log: Path) -> None:
    """Once the newline arrives the turn is counted exactly once, with the right delta."""
    first = read(log)
    data = turn_line(3)
    append(log, data[:40])
    waiting = read(log, first.after)
    append(log, data[40:])
    done = read(log, waiting.after)
    again = read(log, done.after)
    expected = ([ONE_TURN], 0)
    assert expected == (shape(done.records), len(again.records))


def test_budget_reads_keep_the_totals(log: Path) -> None:
    """Reads cut by a small byte budget carry the totals across and count each turn once."""
    for minute in range(3, 8):
        append(log, response("x" * 100) + turn_line(minute))
    cursor, seen, more = None, [], True
    while more:
        inc = read(log, cursor, max_bytes=300)
        cursor, more = inc.after, inc.more
        seen += inc.records
    expected = [r.key for r in read(log).records]
    assert expected == [r.key for r in seen]


def test_line_over_the_cap_is_skipped_and_counted(tmp_path: Path) -> None:
    """A line longer than the hard cap is skipped once its newline arrives."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(meta() + response("y" * 5000) + turn_line(1))
    cursor, oversized, records, more = None, 0, [], True
    while more:
        inc = read(path, cursor, max_bytes=1024, line_cap=4096)
        cursor, more = inc.after, inc.more
        oversized += inc.skipped.oversized_line
        records += inc.records
    expected = (1, [ONE_TURN])
    assert expected == (oversized, shape(records))


def test_truncated_file_is_read_again_without_double_counting(log: Path) -> None:
    """A file shorter than its cursor is re-read from 0; the same turns give the same keys."""
    first = read(log)
    log.write_bytes(meta() + TURN + turn_line(1))
    inc = read(log, first.after)
    expected = (True, 1, True)
    got = (inc.reset, inc.skipped.rewound, {r.key for r in inc.records} <= keys(first))
    assert expected == got


def keys(inc: Increment) -> set[str]:
    """The keys an increment produced."""
    return {r.key for r in inc.records}


def test_truncated_file_restarts_the_totals(log: Path) -> None:
    """After a rewind the totals start over: the first turn counts in full again."""
    first = read(log)
    log.write_bytes(meta() + TURN + turn_line(1))
    expected = [ONE_TURN]
    assert expected == shape(read(log, first.after).records)


def test_replaced_file_is_read_again_from_zero(log: Path, tmp_path: Path) -> None:
    """A new inode at the same path is re-read; only the new turn has a new key."""
    first = read(log)
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(log.read_bytes() + turn_line(3))
    os.replace(replacement, log)
    inc = read(log, first.after)
    expected = (True, 1)
    assert expected == (inc.reset, len(keys(inc) - keys(first)))


def test_file_rewritten_in_place_is_read_again(log: Path) -> None:
    """Same inode, longer, but a different head: re-read from the start."""
    first = read(log)
    with log.open("r+b") as f:
        f.write(meta("2026-05-02T10:00:00.000Z") + TURN + turn_line(5) + turn_line(6) * 3)
    inc = read(log, first.after)
    expected = (True, [(1000, 4000, 250), ONE_TURN])
    assert expected == (inc.reset, shape(inc.records))


def test_unreadable_state_is_read_again_from_zero(log: Path) -> None:
    """A cursor whose state bytes cannot be decoded restarts the file (counted as a rewind)."""
    first = cursor_of(read(log))
    broken = FileCursor(
        path=first.path,
        dev=first.dev,
        ino=first.ino,
        offset=first.offset,
        head_len=first.head_len,
        head_sha1=first.head_sha1,
        state=b"\xc1",
    )
    inc = read(log, broken)
    expected = (2, 1, True)
    assert expected == (len(inc.records), inc.skipped.rewound, inc.reset)


def test_deleted_file_has_no_cursor(log: Path) -> None:
    """A file that is gone gives ``after=None`` and nothing else."""
    first = read(log)
    log.unlink()
    inc = read(log, first.after)
    expected = (None, 0, 0)
    assert expected == (inc.after, len(inc.records), inc.skipped.total)


def test_directory_in_place_of_file_is_unreadable(log: Path) -> None:
    """A path that is now a directory is reported unreadable and the cursor kept."""
    first = read(log)
    log.unlink()
    log.mkdir()
    inc = read(log, first.after)
    expected = (first.after, 1)
    assert expected == (inc.after, inc.skipped.unreadable)


def test_malformed_line_is_counted_and_consumed(log: Path) -> None:
    """A broken token_count line is counted, skipped for good, and later lines still count."""
    first = read(log)
    append(log, turn_line(3)[:-20] + b"\n" + turn_line(4))
    inc = read(log, first.after)
    expected = (1, [(400, 1600, 100)], log.stat().st_size)
    assert expected == (inc.skipped.malformed_json, shape(inc.records), cursor_of(inc).offset)


def test_crlf_line_endings_are_read(tmp_path: Path) -> None:
    """A trailing carriage return does not break the JSON."""
    path = tmp_path / "s.jsonl"
    path.write_bytes((meta() + TURN + turn_line(1)).replace(b"\n", b"\r\n"))
    expected = [ONE_TURN]
    assert expected == shape(read(path).records)


def test_rate_limits_are_returned_with_the_records(tmp_path: Path) -> None:
    """Windows found in the span read come back in ``limits``."""
    limits = {"primary": {"used_percent": 7.5, "window_minutes": 300, "resets_at": 1777640000}}
    path = tmp_path / "s.jsonl"
    path.write_bytes(meta() + tokens("2026-05-01T10:00:02.000Z", None, rate_limits=limits))
    inc = read(path)
    expected = [("primary", 7.5)]
    assert expected == [(w.window, w.used_percent) for w in inc.limits]


def test_usage_stream_lists_every_counted_event(log: Path) -> None:
    """A parent's stream is its counted usage with cached-inclusive input."""
    expected = [
        (1777629660000, Usage(1000, 800, 50, 0, 1050)),
        (1777629720000, Usage(1000, 800, 50, 0, 1050)),
    ]
    assert expected == usage_stream(str(log))


# -- forks written across reads ------------------------------------------------------------

FORK_TS = "2026-05-01T11:00:00.000Z"


def fork_file(tmp_path: Path) -> Path:
    """A child log holding its first line and ONE replayed parent event (more to come)."""
    path = tmp_path / "rollout-2026-05-01T11-00-00-child.jsonl"
    path.write_bytes(
        meta(FORK_TS, forked_from_id="parent")
        + TURN
        + tokens("2026-05-01T11:00:00.010Z", totals_at(1))
    )
    return path


def test_fork_waits_for_its_second_usage_line(tmp_path: Path) -> None:
    """A fresh fork whose replay burst cannot be told yet stops before its usage line."""
    path = fork_file(tmp_path)
    inc = read(path, idle_seconds=3600)
    expected = (0, len(meta(FORK_TS, forked_from_id="parent") + TURN))
    assert expected == (len(inc.records), cursor_of(inc).offset)


def test_fork_replay_written_across_reads_is_skipped(tmp_path: Path) -> None:
    """Once the rest of the replay and the child's own turn arrive, only the own turn counts."""
    path = fork_file(tmp_path)
    first = read(path, idle_seconds=3600)
    append(path, tokens("2026-05-01T11:00:00.020Z", totals_at(2)) + turn_line_at("11:00:09", 3))
    second = read(path, first.after, idle_seconds=3600)
    expected = [ONE_TURN]
    assert expected == shape(first.records + second.records)


def turn_line_at(clock: str, minute: int) -> bytes:
    """The totals of turn ``minute`` logged at ``clock`` (HH:MM:SS) on 2026-05-01."""
    return tokens(f"2026-05-01T{clock}.000Z", totals_at(minute))


def test_idle_fork_with_one_usage_line_counts_it(tmp_path: Path) -> None:
    """A fork that stopped after one usage line long ago replayed nothing: it counts."""
    path = fork_file(tmp_path)
    expected = [(200, 800, 50)]
    assert expected == shape(read(path, idle_seconds=0).records)


def test_fork_lookahead_reads_past_the_budget(tmp_path: Path) -> None:
    """The second usage line is found even beyond the current read's byte budget."""
    path = fork_file(tmp_path)
    append(
        path,
        response("z" * 3000)
        + tokens("2026-05-01T11:00:00.020Z", totals_at(2))
        + turn_line_at("11:00:09", 3),
    )
    cursor, records, more = None, [], True
    while more:
        inc = read(path, cursor, max_bytes=1024, idle_seconds=3600)
        cursor, more = inc.after, inc.more
        records += inc.records
    expected = [ONE_TURN]
    assert expected == shape(records)
