"""Prices worked out in a short-lived child, so the collector never holds genai-prices."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from bus.messages import PriceObserved
from services.collector.price_child import (
    PricingFailed,
    resolve_here,
    resolve_in_child,
    resolve_in_child_or_here,
)
from services.collector.price_keeping import PriceKeeper
from services.runtime.config import PriceOverride

MODELS = [("claude", "claude-sonnet-4-5-20250929"), ("codex", "gpt-5"), ("gemini", "no-such")]
OVERRIDES = {"gpt-5": PriceOverride(input=2.0)}

# Every test but two starts a real child process.
pytestmark = pytest.mark.e2e


def pretend_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> None:
    """Make ``sys.executable`` a shell script running ``script`` (a child that misbehaves)."""
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))


def test_the_child_answers_exactly_what_this_process_would() -> None:
    """Each model's source and price from the child equal the in-process resolution."""
    assert resolve_here(MODELS, OVERRIDES) == resolve_in_child(MODELS, OVERRIDES)


def test_asking_about_no_model_starts_no_child() -> None:
    """An empty question is answered at once with no prices."""
    assert [] == resolve_in_child([], {})


def test_a_child_that_cannot_start_is_a_pricing_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing interpreter raises ``PricingFailed`` naming the child."""
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.raises(PricingFailed, match="pricing child did not answer"):
        resolve_in_child(MODELS, {})


def test_a_child_that_fails_says_its_exit_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A child exiting non-zero raises ``PricingFailed`` with its status and last line."""
    pretend_python(monkeypatch, tmp_path, "echo 'catalogue broken' >&2\nexit 3")
    with pytest.raises(PricingFailed, match="exited with 3: catalogue broken"):
        resolve_in_child(MODELS, {})


def test_an_unreadable_answer_is_a_pricing_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A child printing something other than prices raises ``PricingFailed``."""
    pretend_python(monkeypatch, tmp_path, "echo hello")
    with pytest.raises(PricingFailed, match="unreadable"):
        resolve_in_child(MODELS, {})


def test_when_no_child_answers_the_collector_resolves_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The collector's resolver falls back to this process: no price is left out."""
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert resolve_here(MODELS, {}) == resolve_in_child_or_here(MODELS, {})


def test_the_collectors_way_of_pricing_never_loads_genai_prices() -> None:
    """A keeper pricing through the child leaves genai-prices out of its own process."""
    script = (
        "import sys\n"
        "from services.collector.price_child import resolve_in_child_or_here\n"
        "from services.collector.price_keeping import PriceKeeper\n"
        "from bus.messages import UsageRecord\n"
        "keeper = PriceKeeper({}, resolve_in_child_or_here)\n"
        "keeper.note([UsageRecord(key='k', provider='codex', ts_ms=0, model='gpt-5',"
        " project='p', session='s')])\n"
        "observed = keeper.flush()\n"
        "print(observed[0].price is not None, 'genai_prices' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "True False" == done.stdout.strip()


def test_a_keeper_asks_about_each_model_once() -> None:
    """Repeated flushes and drift checks resolve a model a single time."""
    asked: list[tuple[str, str]] = []

    def counting(
        models: Sequence[tuple[str, str]], overrides: Mapping[str, PriceOverride]
    ) -> list[PriceObserved]:
        asked.extend(models)
        return resolve_here(models, overrides)

    keeper = PriceKeeper({}, counting)
    keeper.resolve(MODELS)
    keeper.resolve([*MODELS, ("codex", "gpt-5")])
    assert MODELS == asked
