"""Fixtures for end-to-end tests: a generated corpus and a stack of real processes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.demo.corpus.claude import CCUSAGE_SKIPS, Manifest, generate
from tests.e2e.stack import Stack

CORPUS_START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def make_corpus(root: Path, size_mb: float, seed: int = 1) -> Manifest:
    """A generated Claude Code config dir at ``root`` (holding ``projects/``)."""
    return generate(root, size_mb=size_mb, seed=seed, start=CORPUS_START, days=10)


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Manifest]:
    """A small corpus with every edge case."""
    root = tmp_path / "claude"
    return root, make_corpus(root, size_mb=2)


@pytest.fixture
def stack(tmp_path: Path, corpus: tuple[Path, Manifest]) -> Iterator[Stack]:
    """A stack (not started) reading the small corpus."""
    s = Stack(tmp_path / "home", corpus[0])
    yield s
    s.stop_all()


def expected_totals(manifest: Manifest) -> tuple[int, ...]:
    """The token sums and record count the generator says a correct counter finds."""
    # Like ccusage, the collector skips lines ccusage skips (spaced JSON, `"key":null`,
    # microsecond timestamps), so token totals match ccusage on the same files.
    records = [r for r in manifest.expected if r.quirk not in CCUSAGE_SKIPS]
    return (
        sum(r.input for r in records),
        sum(r.output for r in records),
        sum(r.cache_write_5m for r in records),
        sum(r.cache_write_1h for r in records),
        sum(r.cache_read for r in records),
        len(records),
    )
