"""The statusline benchmark runs end to end on a tiny corpus, so the script cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def bench(*options: str, timeout: float = 110) -> dict[str, Any]:
    """Run ``python -m bench.statusline`` on a 1 MB corpus without ccusage; its JSON."""
    command = [sys.executable, "-m", "bench.statusline", "--size", "1", "--runs", "3"]
    command += ["--no-ccusage", "--json", *options]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert 0 == done.returncode, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


@pytest.fixture
def cache() -> Iterator[str]:
    """A cache dir with a short path: the stack's ipc sockets live below it (107 bytes max)."""
    with tempfile.TemporaryDirectory(prefix="otm-sl-", dir="/tmp") as tmp:
        yield tmp


def positive_timings(case: dict[str, Any]) -> bool:
    """Whether every figure of a timed case is a positive number of seconds."""
    keys = ("median_s", "p95_s", "max_s", "min_s")
    return all(case[k] > 0 for k in keys) and 3 == len(case["runs_s"])


@pytest.mark.timeout(120)
def test_tiny_run_times_every_case(cache: str) -> None:
    """With and without the stack, each case is timed and today's dollars are the report's."""
    figures = bench("--cache-dir", cache)
    for state in ("stopped", "running"):
        for case in ("unchanged", "spool_written", "python_floor"):
            assert positive_timings(figures["otm"][state][case]), f"{state}/{case}"
    assert figures["checks"]["today_matches_report"] is True
    assert figures["checks"]["database_exists"] is True
    assert (None, None) == (figures["ccusage"], figures["ratios"])
    assert figures["corpus"]["bytes"] > 0 and figures["database"]["catch_up_s"] > 0
    assert {"cpus", "python", "platform", "load_before", "load_after"} == set(figures["machine"])


@pytest.mark.timeout(120)
def test_second_run_reuses_the_corpus_and_database(cache: str) -> None:
    """A second run finds the cached corpus and only catches up what was appended."""
    bench("--cache-dir", cache, "--no-with-stack")
    figures = bench("--cache-dir", cache, "--no-with-stack")
    assert figures["corpus"]["from_cache"] is True
    assert figures["otm"]["running"] is None
    assert figures["checks"]["today_matches_report"] is True
