"""The pipeline benchmark runs end to end on a tiny corpus, so the script cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POSITIVE = (
    ("corpus", "bytes"),
    ("corpus", "files"),
    ("corpus", "expected_records"),
    ("cold_ingest", "seconds"),
    ("cold_ingest", "startup_s"),
    ("cold_ingest", "after_collector_ready_s"),
    ("cold_ingest", "records"),
    ("cold_ingest", "events"),
    ("warm_report", "median_s"),
    ("warm_report", "min_s"),
    ("stopped_report", "median_s"),
    ("stopped_report", "min_s"),
    ("latency", "p50_s"),
    ("latency", "p95_s"),
    ("latency", "p99_s"),
    ("latency", "max_s"),
    ("rss", "peak_total_bytes"),
    ("rss", "sum_of_peaks_bytes"),
    ("disk", "db_bytes"),
    ("disk", "corpus_bytes"),
    ("machine", "cpus"),
)
WITHOUT_CCUSAGE = (
    ("cold_ingest", "ratio_vs_ccusage"),
    ("warm_report", "ccusage_over_ours"),
    ("tokens", "ccusage"),
    ("tokens", "match_ccusage"),
)
MIXED_WITHOUT_CCUSAGE = tuple(path for path in WITHOUT_CCUSAGE if path != ("tokens", "ccusage"))
"""With ``--mixed`` ccusage's totals are per provider (``tokens.by_provider.<name>.ccusage``)."""


def figure(figures: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path``, failing with its name if it is missing."""
    value: Any = figures
    for part in path:
        assert part in value, f"{'.'.join(path)} missing"
        value = value[part]
    return value


@pytest.mark.timeout(240)
def test_tiny_run_without_ccusage_reports_every_figure(tmp_path: Path) -> None:
    """A 1 MB run with 10 appends and no ccusage prints every figure as JSON."""
    command = [sys.executable, "-m", "bench.pipeline", "--size-mb", "1", "--appends", "10"]
    command += ["--no-ccusage", "--json", "--cache-dir", str(tmp_path / "cache")]
    command += ["--cold-runs", "2", "--warm-runs", "2", "--stopped-runs", "2"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert 0 == done.returncode, done.stderr

    figures = json.loads(done.stdout)
    for path in POSITIVE:
        assert figure(figures, path) > 0, f"{'.'.join(path)} is not positive"
    for path in WITHOUT_CCUSAGE:
        assert figure(figures, path) is None, f"{'.'.join(path)} set without ccusage"
    assert figures["ccusage"] is None
    assert 10 == figure(figures, ("latency", "received"))
    assert figure(figures, ("tokens", "match_ground_truth")) is True
    assert {"bus", "store", "collector", "watcher", "scheduler"} == set(
        figures["rss"]["peak_bytes"]
    )
    assert 2 == len(figure(figures, ("stopped_report", "runs_s")))
    assert 2 == len(figure(figures, ("cold_ingest", "runs_s")))
    assert 2 == len(figure(figures, ("cold_ingest", "batches_resent_by_run")))
    assert {"bus", "store", "collector", "watcher", "scheduler"} == set(
        figure(figures, ("cold_ingest", "cpu_s"))
    )
    assert [
        "warm report (median wall)",
        "cold ingest / ccusage",
        "append-to-stream p99",
        "stack RSS (peak total)",
    ] == [t["name"] for t in figures["targets"]]
    assert {"cpus", "python", "platform"} == set(figures["machine"])


@pytest.mark.timeout(300)
def test_tiny_mixed_run_without_ccusage_counts_every_provider(tmp_path: Path) -> None:
    """A 1 MB mixed (Claude, Codex, Gemini) run: every provider's totals are the generators'."""
    command = [sys.executable, "-m", "bench.pipeline", "--mixed", "--size-mb", "1"]
    command += ["--appends", "10", "--no-ccusage", "--json", "--cache-dir", str(tmp_path / "cache")]
    command += ["--cold-runs", "1", "--warm-runs", "2", "--stopped-runs", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=290)
    assert 0 == done.returncode, done.stderr

    figures = json.loads(done.stdout)
    for path in POSITIVE:
        assert figure(figures, path) > 0, f"{'.'.join(path)} is not positive"
    for path in MIXED_WITHOUT_CCUSAGE:
        assert figure(figures, path) is None, f"{'.'.join(path)} set without ccusage"
    assert figures["ccusage"] is None
    assert (tmp_path / "cache" / "mixed-1-1" / "manifest.json").is_file()
    parts = figure(figures, ("corpus", "by_provider"))
    assert ["claude", "codex", "gemini"] == list(parts)
    for name, part in parts.items():
        assert part["bytes"] > 0 and part["files"] > 0 and part["records"] > 0, name
    assert figures["corpus"]["files"] == sum(part["files"] for part in parts.values())
    assert figures["corpus"]["bytes"] == sum(part["bytes"] for part in parts.values())
    tokens = figures["tokens"]
    for name, entry in tokens["by_provider"].items():
        assert entry["ours"] == entry["ground_truth"], name
        assert entry["ccusage"] is None and entry["match_ccusage"] is None, name
    assert tokens["match_ground_truth"] is True
    assert tokens["all_is_sum_of_providers"] is True
    assert 10 == figure(figures, ("latency", "received"))
