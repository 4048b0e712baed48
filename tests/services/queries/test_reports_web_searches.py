"""Web searches in every report: tokens as ccusage counts them, cost + searches x the price."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bus.messages import Prompt
from services.queries.activity import activity_report
from services.queries.reports.build import KINDS, ReportOptions, build_report
from services.store.database import connect_writer
from services.store.writer import Store
from tests.helpers import batch
from tests.services.queries.reports_support import PRICES, claude, seed

SEARCHES = {"a": 3, "c": 1}
"""The web searches of the seeded records: 4 searches, $0.04 at Sonnet's $10 per 1,000."""
NOW_MS = 1_800_000_000_000


def records(with_searches: bool) -> list[Any]:
    """Three Sonnet responses on two days, two sessions; searches only when asked."""
    specs = [
        ("a", "2026-05-20T09:00:00+00:00", "s1"),
        ("b", "2026-05-20T09:30:00+00:00", "s1"),
        ("c", "2026-05-22T15:00:00+00:00", "s2"),
    ]
    return [
        claude(
            key,
            iso,
            session=session,
            output=500,
            web_search_requests=SEARCHES.get(key, 0) if with_searches else 0,
        )
        for key, iso, session in specs
    ]


def database(path: Path, with_searches: bool) -> sqlite3.Connection:
    """A store with the records, and a prompt opening session s1 (for the activity view)."""
    conn = seed(connect_writer(str(path)), *records(with_searches), prices=PRICES)
    prompt = Prompt(
        key="p1",
        provider="claude",
        ts_ms=records(False)[0].ts_ms - 1,
        project="project",
        session="s1",
        text="look it up",
    )
    Store(conn).apply([batch([], 100, 200, prompts=(prompt,))])
    return conn


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    """The same records without and with web searches, in two stores."""
    plain = database(tmp_path / "plain.db", with_searches=False)
    searched = database(tmp_path / "searched.db", with_searches=True)
    yield plain, searched
    plain.close()
    searched.close()


def report(conn: sqlite3.Connection, kind: str) -> dict[str, Any]:
    """The Claude report ``kind`` as JSON, blocks seen from long after the records."""
    return build_report(conn, kind, ReportOptions(provider="claude", now_ms=NOW_MS))


def without_costs(value: Any) -> Any:
    """``value`` without any key naming a cost (``totalCost``, ``cost``, ``costUSD``, ...)."""
    if isinstance(value, dict):
        return {k: without_costs(v) for k, v in value.items() if "cost" not in k.lower()}
    if isinstance(value, list):
        return [without_costs(v) for v in value]
    return value


def keys(value: Any) -> Any:
    """The key shape of ``value``: every dict's keys in order, recursively."""
    if isinstance(value, dict):
        return [(k, keys(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [keys(v) for v in value]
    return None


def total_cost(kind: str, answer: dict[str, Any]) -> float:
    """The report's whole cost: its totals, or for blocks the sum of the blocks."""
    if kind == "blocks":
        return float(sum(b["costUSD"] for b in answer["blocks"]))
    return float(answer["totals"]["totalCost"])


@pytest.mark.parametrize("kind", KINDS)
def test_searches_change_no_token_count(
    pair: tuple[sqlite3.Connection, sqlite3.Connection], kind: str
) -> None:
    """Every field but the costs is what it is without the searches (ccusage's tokens)."""
    plain, searched = pair
    assert without_costs(report(plain, kind)) == without_costs(report(searched, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_searches_add_one_cent_each_to_the_cost(
    pair: tuple[sqlite3.Connection, sqlite3.Connection], kind: str
) -> None:
    """The cost is the token cost (ccusage's) + 4 searches x $0.01, in every report kind."""
    plain, searched = pair
    difference = total_cost(kind, report(searched, kind)) - total_cost(kind, report(plain, kind))
    assert pytest.approx(0.04, abs=1e-9) == difference


@pytest.mark.parametrize("kind", KINDS)
def test_searches_keep_ccusages_keys(
    pair: tuple[sqlite3.Connection, sqlite3.Connection], kind: str
) -> None:
    """A report with searches has exactly the keys of one without: no new field per row."""
    plain, searched = pair
    assert keys(report(plain, kind)) == keys(report(searched, kind))


def test_daily_rows_carry_their_own_searches(
    pair: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    """Each day's cost rises by its own searches: 3 on the 20th, 1 on the 22nd."""
    plain, searched = pair
    rows = zip(report(plain, "daily")["daily"], report(searched, "daily")["daily"], strict=True)
    differences = [round(s["totalCost"] - p["totalCost"], 9) for p, s in rows]
    assert [0.03, 0.01] == differences


def test_activity_prices_a_prompts_searches(
    pair: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    """A prompt's reply cost includes the searches its responses ran (3 in session s1)."""
    plain, searched = pair
    (before,) = activity_report(plain, "claude")["activity"]
    (after,) = activity_report(searched, "claude")["activity"]
    assert pytest.approx(0.03, abs=1e-9) == after["totalCost"] - before["totalCost"]
