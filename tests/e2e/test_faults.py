"""When things go wrong under the real stack: a full disk (a real small tmpfs) and a damaged
database file (truncated, or random bytes over its middle pages).

The stack stays up and says what is wrong in ``otm status``, ``/v1/status`` and one log line
per change; nothing is lost or counted twice; ``otm store recover`` rebuilds the same totals
from the logs; and no process prints a traceback.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.demo.corpus.claude import Manifest, append_live
from tests.e2e.corpus_support import expected_totals, totals_with
from tests.e2e.stack import PROCESSES, Stack, wait_until
from tests.small_disk import small_disk

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _events(stack: Stack, name: str, event: str) -> list[dict[str, Any]]:
    return [e for e in stack.log_entries(name) if e.get("event") == event]


def _no_tracebacks(stack: Stack) -> list[str]:
    """The log files that hold a traceback (none, we expect)."""
    return [p.name for p in sorted(stack.logs.glob("*.log")) if "Traceback" in p.read_text()]


def _status(stack: Stack) -> dict[str, Any]:
    answer = stack.otm("status", "--json")
    parsed: dict[str, Any] = json.loads(answer.stdout)
    return parsed


def _store_trouble(stack: Stack) -> list[str]:
    return [t["message"] for t in _status(stack)["trouble"] if t["process"] == "store"]


@pytest.mark.timeout(240)
def test_full_disk_keeps_the_stack_up_and_loses_nothing(
    tmp_path: Path, corpus: tuple[Path, Manifest]
) -> None:
    """On a full disk every process stays up, nothing is committed and status says so; when
    space returns the totals are exactly the corpus plus everything appended meanwhile."""
    root, manifest = corpus
    rng = random.Random(4)
    with small_disk(tmp_path / "home", "24m") as disk:
        stack = Stack(disk.path, root)
        stack.logs = tmp_path / "logs"  # the processes' logs stay off the full disk
        stack.logs.mkdir()
        try:
            stack.start()
            first = expected_totals(manifest)
            wait_until(lambda: stack.token_totals() == first, 60, "the first ingest")
            pids = {name: proc.pid for name, proc in stack.procs.items()}
            disk.fill()
            added = [r for _ in range(5) for r in append_live(root, rng)]
            message = f"disk full: {stack.db_path}, 0.0 MB free"
            wait_until(lambda: _store_trouble(stack) == [message], 30, "status saying so")
            dashboard = httpx.get(f"{stack.api_url}/v1/status", timeout=10).json()
            time.sleep(3)  # several retries, each rolled back
            assert first == stack.token_totals()
            disk.free()
            wanted = totals_with(first, added)
            wait_until(lambda: stack.token_totals() == wanted, 60, f"totals {wanted}")
            time.sleep(1.5)  # a late duplicate would show now
            assert wanted == stack.token_totals()
            assert pids == {name: proc.pid for name, proc in stack.procs.items()}
            assert {name: None for name in PROCESSES} == {
                name: stack.procs[name].poll() for name in PROCESSES
            }
            wait_until(lambda: _store_trouble(stack) == [], 10, "status clear again")
        finally:
            stack.stop_all()
    assert [message] == [t["message"] for t in dashboard["trouble"]]
    full = _events(stack, "store", "disk_full")
    assert [message] == [e["message"] for e in full]
    assert ["disk_full"] == [e["was"] for e in _events(stack, "store", "writing_again")]
    assert [] == _no_tracebacks(stack)
