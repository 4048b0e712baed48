"""The pipeline end to end: real processes, real sockets, a real database, generated logs."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from bus.client import EventFollower
from bus.endpoints import endpoints
from bus.messages import UsageCommitted
from services.demo.corpus.claude import Manifest, append_live
from tests.e2e.corpus_support import CORPUS_START, expected_totals, make_corpus
from tests.e2e.stack import PROCESSES, Stack, wait_until

pytestmark = pytest.mark.e2e


def test_stack_counts_the_whole_history(stack: Stack, corpus: tuple[Path, Manifest]) -> None:
    """Every unique response of the corpus is counted once, with its final token counts."""
    stack.start("bus", "store", "collector", "watcher", "scheduler")
    expected = expected_totals(corpus[1])
    wait_until(lambda: stack.token_totals() == expected, 30, f"totals {expected}")
    assert expected == stack.token_totals()


def test_every_process_logs_ready_and_exits_within_two_seconds(stack: Stack) -> None:
    """Each process logs a structured ready line and stops within 2 s of SIGTERM."""
    stack.start(*PROCESSES)
    for name in PROCESSES:
        assert 2.0 > stack.stop(name), f"{name} took too long to stop"


def test_new_message_reaches_the_stream(stack: Stack, corpus: tuple[Path, Manifest]) -> None:
    """A record appended to a transcript is committed and delivered to a subscriber."""
    stack.start("bus", "store", "collector", "watcher")
    expected = expected_totals(corpus[1])
    wait_until(lambda: stack.token_totals() == expected, 30, "initial ingest")
    with EventFollower(("evt.usage.",), after=stack.head(), where=endpoints(stack.home)) as f:
        added = append_live(corpus[0], random.Random(5))
        seen: list[UsageCommitted] = []

        def arrived() -> bool:
            seen.extend(e for _, e in f.poll(100) if isinstance(e, UsageCommitted))
            keys = {r.key for e in seen for r in e.records}
            return all(f"claude:{a.message_id}" in keys for a in added)

        # Latency is measured by bench/, not asserted here: only delivery is.
        wait_until(arrived, 10, "the appended record on the stream")


def test_late_subscriber_gets_every_event_gaplessly(
    stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """A subscriber that joins after the ingest replays seq 1..head with no gap."""
    stack.start("bus", "store", "collector")
    wait_until(lambda: stack.token_totals() == expected_totals(corpus[1]), 30, "ingest")
    head = stack.head()
    with EventFollower(("evt.",), after=0, where=endpoints(stack.home)) as follower:
        seqs = [getattr(e, "seq", None) for _, e in follower.catch_up()]
    assert list(range(1, head + 1)) == seqs


def test_store_that_was_down_misses_nothing(stack: Stack, corpus: tuple[Path, Manifest]) -> None:
    """Observations published while the store is down are re-sent until committed."""
    stack.start("bus", "collector")
    time.sleep(1.5)  # the collector has read and published everything into the void
    stack.start("store")
    expected = expected_totals(corpus[1])
    wait_until(lambda: stack.token_totals() == expected, 30, "re-sent batches")
    assert expected == stack.token_totals()


def test_report_json_matches_the_generator(stack: Stack, corpus: tuple[Path, Manifest]) -> None:
    """`otm report daily --json` with the stack running gives the generator's per-day tokens."""
    from services.demo.corpus.claude import CCUSAGE_SKIPS, expected_daily_tokens

    stack.start("bus", "store", "collector")
    wait_until(lambda: stack.token_totals() == expected_totals(corpus[1]), 30, "ingest")
    result = stack.otm("report", "daily", "--json", "--tz", "UTC")
    assert 0 == result.returncode, result.stderr
    rows = json.loads(result.stdout)["daily"]
    got = {
        r["date"]: {
            "inputTokens": r["inputTokens"],
            "outputTokens": r["outputTokens"],
            "cacheCreationTokens": r["cacheCreationTokens"],
            "cacheReadTokens": r["cacheReadTokens"],
        }
        for r in rows
    }
    expected = {
        day: {k: v[k] for k in got.get(day, v)}
        for day, v in expected_daily_tokens(corpus[1], "UTC", skip=CCUSAGE_SKIPS).items()
    }
    assert expected == got


def test_watcher_notices_a_root_created_after_start(tmp_path: Path) -> None:
    """Transcripts in a root that did not exist at start are picked up without a restart."""
    root = tmp_path / "later"
    s = Stack(tmp_path / "home", root, {"OTM_DEMO": "0"})
    try:
        s.start("bus", "store", "collector", "watcher")
        manifest = make_corpus(tmp_path / "staging", size_mb=0.3, seed=3)
        (tmp_path / "staging").rename(root)
        wait_until(lambda: s.token_totals() == expected_totals(manifest), 30, "new root")
    finally:
        s.stop_all()


@pytest.mark.timeout(120)
def test_stack_counts_all_three_clis(tmp_path: Path) -> None:
    """Claude Code, Codex CLI and Gemini CLI logs are all counted, each exactly once."""
    from services.demo.corpus.mixed import generate_mixed

    manifests = generate_mixed(tmp_path / "data", size_mb=4, seed=5, start=CORPUS_START, days=10)
    stack = Stack(
        tmp_path / "home",
        tmp_path / "data" / "claude",
        {
            "CODEX_HOME": str(tmp_path / "data" / "codex"),
            "GEMINI_CLI_HOME": str(tmp_path / "data" / "gemini-home"),
        },
    )
    # The generator writes a `.gemini` folder; Gemini CLI finds it under GEMINI_CLI_HOME.
    (tmp_path / "data" / "gemini-home").mkdir()
    (tmp_path / "data" / "gemini").rename(tmp_path / "data" / "gemini-home" / ".gemini")
    codex = manifests.codex.expected
    gemini = manifests.gemini.expected
    expected = {
        "claude": expected_totals(manifests.claude)[:2],
        "codex": (sum(r.input for r in codex), sum(r.output for r in codex)),
        "gemini": (sum(r.input for r in gemini), sum(r.output for r in gemini)),
    }

    def by_provider() -> dict[str, tuple[int, int]]:
        rows = stack.query(
            "SELECT provider, sum(input), sum(output) FROM usage_by_slot GROUP BY provider"
        )
        return {p: (i, o) for p, i, o in rows}

    try:
        stack.start("bus", "store", "collector")
        wait_until(lambda: by_provider() == expected, 60, f"per-provider totals {expected}")
    finally:
        stack.stop_all()
