"""The load benchmark runs end to end on a short, slow load, so the script cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]


def test_every_appended_exchange_comes_out_of_the_api_stream(tmp_path: Path) -> None:
    """A short load through the real stack: every exchange arrives, and latency is measured."""
    argv = ["--rate", "100", "--seconds", "3", "--size-mb", "1", "--cache-dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "bench.load", *argv, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert 0 == result.returncode, result.stderr[-3000:]
    fig = json.loads(result.stdout)
    exchanges = fig["written"]["exchanges"]
    assert (0, exchanges) == (fig["lost"], fig["arrived"])
    assert 0 < fig["latency_s"]["p50"] <= fig["latency_s"]["p99"]
