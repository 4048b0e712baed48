"""DESIGN.md invariant 1 under fire: kill -9 the collector, the store and the bus at random
moments during a large ingest (with appends going on), restart them, and nothing is lost or
counted twice."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from services.demo.corpus.claude import append_live
from services.store.database import rebuild
from tests.e2e.corpus_support import expected_totals, make_corpus, totals_with
from tests.e2e.stack import Stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", [11, 12])
def test_random_kill_nine_loses_and_duplicates_nothing(tmp_path: Path, seed: int) -> None:
    """After random SIGKILLs and restarts the totals equal the undisturbed truth exactly."""
    rng = random.Random(seed)
    root = tmp_path / "claude"
    manifest = make_corpus(root, size_mb=12, seed=seed)
    stack = Stack(tmp_path / "home", root)
    added = []
    try:
        stack.start("bus", "store", "collector", "watcher", "scheduler")
        for _ in range(8):
            time.sleep(rng.uniform(0.05, 0.8))
            victim = rng.choice(["collector", "store", "bus"])
            stack.kill(victim)
            added.extend(append_live(root, rng))
            time.sleep(rng.uniform(0.0, 0.3))
            stack.start(victim)
        expected = totals_with(expected_totals(manifest), added)
        wait_until(lambda: stack.token_totals() == expected, 60, f"totals {expected}")
        # Quiet for a moment: a late duplicate would show up now.
        time.sleep(1.0)
        assert expected == stack.token_totals()
    finally:
        stack.stop_all()
    before = _projection_dump(stack)
    rebuild(str(stack.db_path))
    assert before == _projection_dump(stack)


def _projection_dump(stack: Stack) -> list[list[tuple[object, ...]]]:
    return [
        stack.query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5")
        for table in ("usage_by_slot", "usage_by_session")
    ]
