"""The Codex adapter as the collector uses it: files, batches, limits, forks with parents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.collector.codex.adapter import CodexAdapter
from services.collector.tracker import batch_id
from services.runtime.cli_roots import codex_roots

CWD = "/home/u/proj"
PARENT = "019e0000-0000-7000-8000-00000000aaaa"
CHILD = "019e0000-0000-7000-8000-00000000bbbb"


def line(obj: dict[str, Any]) -> bytes:
    """One compact JSON line, newline included."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def meta(ts: str, session_id: str, **payload: Any) -> bytes:
    """A ``session_meta`` first line."""
    body = {"id": session_id, "timestamp": ts, "cwd": CWD, **payload}
    return line({"timestamp": ts, "type": "session_meta", "payload": body})


TURN = line({"type": "turn_context", "payload": {"cwd": CWD, "model": "gpt-5.3-codex"}})


def usage(minute: int) -> dict[str, int]:
    """Running totals after ``minute`` turns of 1000 input (800 cached) and 50 output."""
    return {
        "input_tokens": 1000 * minute,
        "cached_input_tokens": 800 * minute,
        "output_tokens": 50 * minute,
        "reasoning_output_tokens": 0,
        "total_tokens": 1050 * minute,
    }


def tokens(ts: str, minute: int, **payload: Any) -> bytes:
    """A token_count line with the totals and last usage of turn ``minute``."""
    info = {"total_token_usage": usage(minute), "last_token_usage": usage(1)}
    body = {"type": "token_count", "info": info, **payload}
    return line({"timestamp": ts, "type": "event_msg", "payload": body})


LIMITS = {
    "limit_id": "codex",
    "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_at": 1777640000},
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A Codex home with one session (two turns) under ``sessions/``."""
    day = tmp_path / "sessions/2026/05/01"
    day.mkdir(parents=True)
    (day / f"rollout-2026-05-01T10-00-00-{PARENT}.jsonl").write_bytes(
        meta("2026-05-01T10:00:00.000Z", PARENT)
        + TURN
        + tokens("2026-05-01T10:01:00.000Z", 1)
        + tokens("2026-05-01T10:02:00.000Z", 2, rate_limits=LIMITS)
    )
    return tmp_path


def adapter_for(home: Path) -> CodexAdapter:
    """An adapter on the roots of ``home``."""
    return CodexAdapter(codex_roots([str(home)], env={}))


def parent_path(home: Path) -> str:
    """The parent session's log."""
    return str(home / f"sessions/2026/05/01/rollout-2026-05-01T10-00-00-{PARENT}.jsonl")


def test_provider_is_codex(home: Path) -> None:
    """The adapter speaks for ``codex``."""
    expected = "codex"
    assert expected == adapter_for(home).provider


def test_all_files_lists_the_logs(home: Path) -> None:
    """Every log under the roots is listed."""
    expected = [parent_path(home)]
    assert expected == adapter_for(home).all_files()


def test_owns_logs_under_its_roots(home: Path) -> None:
    """Paths under a root are owned, others are not."""
    adapter = adapter_for(home)
    expected = (True, False)
    assert expected == (adapter.owns(parent_path(home)), adapter.owns(str(home / "x.jsonl")))


def test_read_builds_a_batch_with_records_and_limits(home: Path) -> None:
    """A first read gives the records, the rate limits and a cursor with state."""
    adapter = adapter_for(home)
    batch, more = adapter.read(parent_path(home), None)
    assert batch is not None
    got = (batch.provider, len(batch.records), [w.used_percent for w in batch.limits], more)
    expected = ("codex", 2, [12.0], False)
    assert expected == got


def test_batch_id_spans_the_cursors(home: Path) -> None:
    """The batch id is derived from the file and both cursors, like every adapter's."""
    batch, _ = adapter_for(home).read(parent_path(home), None)
    assert batch is not None
    expected = batch_id(parent_path(home), None, batch.after)
    assert expected == batch.batch_id


def test_nothing_new_gives_no_batch(home: Path) -> None:
    """Reading again from the batch's cursor gives nothing."""
    adapter = adapter_for(home)
    batch, _ = adapter.read(parent_path(home), None)
    assert batch is not None
    expected = (None, False)
    assert expected == adapter.read(parent_path(home), batch.after)


def test_session_and_project_of_records(home: Path) -> None:
    """Records are named by the dated session path and the session's cwd."""
    batch, _ = adapter_for(home).read(parent_path(home), None)
    assert batch is not None
    session = f"2026/05/01/rollout-2026-05-01T10-00-00-{PARENT}"
    expected = {(session, CWD)}
    assert expected == {(r.session, r.project) for r in batch.records}


def test_fallback_models_are_counted_in_problems(tmp_path: Path) -> None:
    """Usage without any model is reported in ``problems['fallback_models']``."""
    path = tmp_path / "sessions/s.jsonl"
    path.parent.mkdir()
    path.write_bytes(meta("2026-05-01T10:00:00.000Z", "s") + tokens("2026-05-01T10:01:00Z", 1))
    adapter = adapter_for(tmp_path)
    adapter.read(str(path), None)
    expected = 1
    assert expected == adapter.problems["fallback_models"]


def write_child(home: Path, first_turn: int) -> str:
    """A child forked from the parent at 10:05 that replays its two events (restamped a few
    seconds apart, so only parent matching can recognise them), then has its own turn."""
    path = home / f"sessions/2026/05/01/rollout-2026-05-01T10-05-00-{CHILD}.jsonl"
    path.write_bytes(
        meta("2026-05-01T10:05:00.000Z", CHILD, forked_from_id=PARENT)
        + TURN
        + tokens("2026-05-01T10:05:01.000Z", 1)
        + tokens("2026-05-01T10:05:03.000Z", 2)
        + tokens("2026-05-01T10:06:00.000Z", first_turn)
    )
    return str(path)


def test_fork_replay_is_matched_against_the_parent_log(home: Path) -> None:
    """The parent's events replayed in the child are skipped; the child's own turn counts."""
    adapter = adapter_for(home)
    batch, _ = adapter.read(write_child(home, 3), None)
    assert batch is not None
    expected = ["2026-05-01T10:06:00"]
    assert expected == [_iso(r.ts_ms) for r in batch.records]


def test_fork_parent_events_after_the_fork_do_not_match(home: Path) -> None:
    """Parent usage logged after the fork time was never replayed, so it never masks the child."""
    with open(parent_path(home), "ab") as f:
        f.write(tokens("2026-05-01T10:30:00.000Z", 3))
    adapter = adapter_for(home)
    batch, _ = adapter.read(write_child(home, 3), None)
    assert batch is not None
    expected = 1
    assert expected == len(batch.records)


def test_fork_without_parent_log_counts_its_spread_out_replay(tmp_path: Path) -> None:
    """No parent found and no same-second burst: ccusage counts everything, and so do we."""
    (tmp_path / "sessions/2026/05/01").mkdir(parents=True)
    adapter = adapter_for(tmp_path)
    batch, _ = adapter.read(write_child(tmp_path, 3), None)
    assert batch is not None
    expected = 3
    assert expected == len(batch.records)


def _iso(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of epoch milliseconds (UTC)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_exec_json_in_a_bare_home_is_read(tmp_path: Path) -> None:
    """``codex exec --json`` output saved in a home without session dirs is found and counted."""
    path = tmp_path / "runs/exec.jsonl"
    path.parent.mkdir()
    path.write_bytes(
        line({"type": "thread.started", "thread_id": "t"})
        + line(
            {
                "type": "turn.completed",
                "timestamp": "2026-05-01T10:00:05.000Z",
                "model": "gpt-5.4",
                "usage": {"input_tokens": 900, "cached_input_tokens": 600, "output_tokens": 30},
            }
        )
    )
    adapter = adapter_for(tmp_path)
    files = adapter.all_files()
    batch, _ = adapter.read(str(path), None)
    assert batch is not None
    got = (files, [(r.session, r.model, r.input, r.cache_read) for r in batch.records])
    expected = ([str(path)], [("runs/exec", "gpt-5.4", 300, 600)])
    assert expected == got
