"""Web searches on a generated Claude Code corpus: read as the generator wrote them, priced at
$0.01 each on top of the ccusage-style token cost, with the token totals left as ccusage's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from bus.messages import UsageBatch
from services.collector.claude.adapter import ClaudeAdapter
from services.collector.price_resolution import resolve_price
from services.demo.corpus.claude import CCUSAGE_SKIPS, Manifest, generate
from services.queries.reports.build import ReportOptions, build_report
from services.store.database import connect_writer
from services.store.writer import Store

START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def batches(root: Path) -> list[UsageBatch]:
    """Every batch the real Claude adapter reads from the corpus, file by file to the end."""
    adapter = ClaudeAdapter([root / "projects"])
    out: list[UsageBatch] = []
    for path in adapter.all_files():
        cursor = None
        while True:
            batch, more = adapter.read(path, cursor)
            if batch is None:
                break
            out.append(batch)
            cursor = batch.after
            if not more:
                break
    return out


def without_searches(batch: UsageBatch) -> UsageBatch:
    """``batch`` as ccusage reads it: the same records with no web searches."""
    records = tuple(msgspec.structs.replace(r, web_search_requests=0) for r in batch.records)
    return msgspec.structs.replace(batch, records=records)


def store(path: Path, read: list[UsageBatch]) -> sqlite3.Connection:
    """A real store holding genai-prices' price of every model read, then the batches."""
    models = sorted({r.model for b in read for r in b.records if r.model})
    prices: list[Any] = [resolve_price("claude", m, {}) for m in models]
    conn = connect_writer(str(path))
    _, _, rejected = Store(conn).apply([*prices, *read])
    assert [] == rejected
    return conn


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Manifest, Any, Any]]:
    """The generated corpus (edge cases on), its truth, and the two stores' daily reports."""
    work = tmp_path_factory.mktemp("websearch")
    manifest = generate(work / "claude", size_mb=2, seed=7, start=START, days=10)
    read = batches(work / "claude")
    options = ReportOptions(provider="claude")
    ours_db = store(work / "ours.db", read)
    plain_db = store(work / "plain.db", [without_searches(b) for b in read])
    ours, plain = build_report(ours_db, "daily", options), build_report(plain_db, "daily", options)
    searches = ours_db.execute("SELECT sum(web_searches) FROM usage_records").fetchone()[0]
    ours_db.close()
    plain_db.close()
    yield manifest, (ours, plain), searches


def expected_searches(manifest: Manifest) -> int:
    """The searches of every record a ccusage-matching reader counts."""
    return sum(r.web_search_requests for r in manifest.expected if r.quirk not in CCUSAGE_SKIPS)


def test_the_corpus_has_web_searches(corpus: tuple[Manifest, Any, Any]) -> None:
    """The edge corpus holds responses that ran web searches (else the rest proves nothing)."""
    manifest, _, _ = corpus
    assert expected_searches(manifest) > 0


def test_every_search_of_the_corpus_is_read_once(corpus: tuple[Manifest, Any, Any]) -> None:
    """The store holds exactly the generator's searches: streaming copies count once."""
    manifest, _, searches = corpus
    assert expected_searches(manifest) == searches


def test_token_totals_are_ccusages(corpus: tuple[Manifest, Any, Any]) -> None:
    """Every token total is what it is without the searches (ccusage ignores them)."""
    _, (ours, plain), _ = corpus
    token_keys = [k for k in plain["totals"] if k.endswith("Tokens")]
    assert [plain["totals"][k] for k in token_keys] == [ours["totals"][k] for k in token_keys]


def test_cost_is_ccusage_style_cost_plus_a_cent_per_search(
    corpus: tuple[Manifest, Any, Any],
) -> None:
    """Total cost = the ccusage-style token cost + searches x $0.01."""
    manifest, (ours, plain), _ = corpus
    expected = plain["totals"]["totalCost"] + expected_searches(manifest) * 0.01
    assert pytest.approx(expected, abs=1e-9) == ours["totals"]["totalCost"]
