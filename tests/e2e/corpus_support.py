"""Helpers for the end-to-end tests: the generated Claude Code corpus and the totals it must give.

Kept apart from conftest.py (which only holds fixtures) so test modules import it by its full
name, ``tests.e2e.corpus_support``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.demo.corpus.claude import CCUSAGE_SKIPS, ExpectedRecord, Manifest, generate

CORPUS_START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def make_corpus(root: Path, size_mb: float, seed: int = 1) -> Manifest:
    """A generated Claude Code config dir at ``root`` (holding ``projects/``)."""
    return generate(root, size_mb=size_mb, seed=seed, start=CORPUS_START, days=10)


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


def totals_with(totals: tuple[int, ...], added: list[ExpectedRecord]) -> tuple[int, ...]:
    """``totals`` (as ``expected_totals`` gives them) plus the records ``append_live`` added."""
    extra = (
        sum(a.input for a in added),
        sum(a.output for a in added),
        sum(a.cache_write_5m for a in added),
        sum(a.cache_write_1h for a in added),
        sum(a.cache_read for a in added),
        len({a.message_id for a in added}),
    )
    return tuple(t + e for t, e in zip(totals, extra, strict=True))
