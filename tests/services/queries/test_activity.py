"""``activity_report``: recent prompts with their reply's tokens and cost, as /v1/activity."""

from __future__ import annotations

import sqlite3

import pytest

from bus.messages import PriceObserved, Prompt
from services.queries.activity import activity_report
from services.queries.reports import periods
from services.store.writer import Store
from tests.helpers import SONNET_4_5, T0, batch, record

SONNET = "claude-sonnet-4-5"


def prompt(key: str, ts_ms: int = T0, text: str = "fix the tests") -> Prompt:
    """A Claude prompt of the helpers' session."""
    return Prompt(
        key=key, provider="claude", ts_ms=ts_ms, project="project", session="session", text=text
    )


@pytest.fixture
def seeded(db: sqlite3.Connection) -> sqlite3.Connection:
    """A priced prompt with a two-record reply (one fast), and a later prompt with none."""
    store = Store(db)
    store.apply([PriceObserved(provider="claude", model=SONNET, source="t", price=SONNET_4_5)])
    records = [
        record("r1", ts_ms=T0 + 1, input=100, output=200, cache_read=3000, cache_write_5m=40),
        record("r2", ts_ms=T0 + 2, input=7, output=9, speed="fast"),
    ]
    store.apply([batch(records, None, 100, prompts=(prompt("p1"), prompt("p2", T0 + 60_000)))])
    return db


def test_the_report_has_exactly_its_keys(seeded: sqlite3.Connection) -> None:
    """The top level is provider, enabled, keep and activity."""
    report = activity_report(seeded, "claude", enabled=False, keep=20)
    assert ("claude", False, 20) == (report["provider"], report["enabled"], report["keep"])
    assert ["provider", "enabled", "keep", "activity"] == list(report)


def test_prompts_come_newest_first(seeded: sqlite3.Connection) -> None:
    """The later prompt is listed first."""
    assert [T0 + 60_000, T0] == [a["tsMs"] for a in activity_report(seeded)["activity"]]


def test_an_item_has_the_prompt_and_its_reply_tokens(seeded: sqlite3.Connection) -> None:
    """An item holds the prompt, its time in ISO UTC and the summed reply tokens."""
    item = activity_report(seeded)["activity"][1]
    expected = {
        "provider": "claude",
        "timestamp": "2025-02-19T21:30:00.000Z",
        "tsMs": T0,
        "project": "project",
        "session": "session",
        "text": "fix the tests",
        "model": SONNET,
        "models": [SONNET, f"{SONNET}-fast"],
        "inputTokens": 107,
        "outputTokens": 209,
        "cacheCreationTokens": 40,
        "cacheReadTokens": 3000,
        "reasoningTokens": 0,
        "totalTokens": 3356,
    }
    assert expected == {k: v for k, v in item.items() if k != "totalCost"}


def test_a_prompt_without_a_reply_has_no_model_and_no_cost(seeded: sqlite3.Connection) -> None:
    """A prompt nothing answered yet shows null model and zero tokens and dollars."""
    item = activity_report(seeded)["activity"][0]
    assert (None, [], 0, 0.0) == (
        item["model"],
        item["models"],
        item["totalTokens"],
        item["totalCost"],
    )


def test_the_cost_equals_the_daily_report_of_the_same_records(seeded: sqlite3.Connection) -> None:
    """A prompt's dollars are what ``otm report daily`` charges for its reply."""
    daily = periods.daily(seeded, provider="claude")["totals"]["totalCost"]
    assert daily == sum(a["totalCost"] for a in activity_report(seeded)["activity"])


def test_limit_caps_the_items(seeded: sqlite3.Connection) -> None:
    """``limit`` keeps only the newest prompts."""
    assert [T0 + 60_000] == [a["tsMs"] for a in activity_report(seeded, limit=1)["activity"]]


def test_project_filters_the_items(seeded: sqlite3.Connection) -> None:
    """A project other than the prompts' gives nothing."""
    assert [] == activity_report(seeded, project="elsewhere")["activity"]


def test_another_provider_has_no_items(seeded: sqlite3.Connection) -> None:
    """Claude prompts are not listed under codex."""
    assert [] == activity_report(seeded, "codex")["activity"]


def test_an_unknown_provider_is_a_value_error(seeded: sqlite3.Connection) -> None:
    """An unknown provider is refused with a one-line message naming it."""
    with pytest.raises(ValueError, match=r"^provider 'nope': use one of [^\n]*$"):
        activity_report(seeded, "nope")
