"""Subagent records found only in the main transcript's agent progress lines, end to end.

Real files are read by the Claude reader, committed through the real store, and the daily
report is asked, as in the running stack: a progress-only subagent is counted, and one whose
``subagents/`` file also exists is counted once.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from bus.messages import ModelPrice, PriceObserved
from services.collector.claude.reader import read_increment
from services.collector.claude.roots import find_transcripts
from services.queries.reports import periods
from services.store.writer import Store
from tests.helpers import batch

HAIKU = "claude-haiku-4-5"
SESSION = "6f1c2d3e-0000-4000-8000-000000000001"
PRICE = ModelPrice(
    input="1", output="5", cache_write_5m="1.25", cache_write_1h="2", cache_read="0.1"
)


def compact(obj: Any) -> str:
    """JSON as Claude Code writes it (compact)."""
    return json.dumps(obj, separators=(",", ":"))


def subagent_entry(n: int) -> dict[str, Any]:
    """The ``n``-th assistant line of a subagent (sidechain), 95k cache reads like the issue's."""
    return {
        "type": "assistant",
        "isSidechain": True,
        "sessionId": SESSION,
        "version": "2.1.30",
        "timestamp": f"2026-05-16T09:1{n}:00.000Z",
        "requestId": f"req_sub{n}",
        "message": {
            "model": HAIKU,
            "id": f"msg_sub{n}",
            "role": "assistant",
            "content": [],
            "usage": {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 19_000},
        },
    }


def main_lines() -> list[str]:
    """A main transcript: one own response, then the progress copies of five subagent lines."""
    own = subagent_entry(9) | {"isSidechain": False, "requestId": "req_main"}
    own["message"] = own["message"] | {"id": "msg_main"}
    lines = [compact(own)]
    for n in range(5):
        data = {"type": "agent_progress", "message": subagent_entry(n), "agentId": "a1"}
        lines.append(
            compact(
                {
                    "type": "progress",
                    "sessionId": SESSION,
                    "version": "2.1.30",
                    "timestamp": f"2026-05-16T09:1{n}:00.500Z",
                    "data": data,
                }
            )
        )
    return lines


def write(root: Path, rel: str, lines: list[str]) -> None:
    """Write a transcript under ``root/projects``."""
    path = root / "projects" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def ingest(db: sqlite3.Connection, root: Path) -> dict[str, Any]:
    """Read every transcript under ``root`` into the store; return the daily report's totals."""
    observed = PriceObserved(provider="claude", model=HAIKU, source="test", price=PRICE)
    Store(db).apply([observed])
    for found in find_transcripts(root / "projects").files:
        inc = read_increment(found.path, found.project, found.session, None)
        assert inc.after is not None
        committed, _, rejected = Store(db).apply(
            [batch(inc.records, None, inc.after.offset, source=found.path)]
        )
        assert ([], 1) == (rejected, len(committed))
    totals: dict[str, Any] = periods.daily(db, provider="claude")["totals"]
    return totals


def test_progress_only_subagent_records_are_counted(db: sqlite3.Connection, tmp_path: Path) -> None:
    """With no subagents/ file, the five progress copies count: 6 responses, 114k cache reads."""
    write(tmp_path, f"-home-u-proj/{SESSION}.jsonl", main_lines())

    totals = ingest(db, tmp_path)

    assert (60, 114_000) == (totals["inputTokens"], totals["cacheReadTokens"])


def test_records_in_progress_lines_and_a_subagent_file_count_once(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    """The same five records in progress lines and in subagents/agent-a1.jsonl count once."""
    write(tmp_path, f"-home-u-proj/{SESSION}.jsonl", main_lines())
    subagent = [compact(subagent_entry(n)) for n in range(5)]
    write(tmp_path, f"-home-u-proj/{SESSION}/subagents/agent-a1.jsonl", subagent)

    totals = ingest(db, tmp_path)

    assert (60, 114_000) == (totals["inputTokens"], totals["cacheReadTokens"])
