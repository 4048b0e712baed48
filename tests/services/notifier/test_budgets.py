"""The budget rule, on a real store database: the reports' dollars against the budgets."""

from __future__ import annotations

import sqlite3
import time

from services.notifier.budgets import evaluate, spend
from services.runtime.config import BudgetLimits
from services.store.writer import Store
from tests.helpers import batch, record
from tests.services.api.api_support import price_observed

NOW = time.time()


def seed(db: sqlite3.Connection, dollars_of_input: int, at: float = NOW) -> None:
    """Commit Sonnet input worth ``dollars_of_input`` USD ($3 per million tokens) at ``at``."""
    store = Store(db)
    store.apply([price_observed()])
    tokens = dollars_of_input * 1_000_000 // 3
    store.apply([batch([record("k1", ts_ms=int(at * 1000), input=tokens, output=0)], None, 10)])


def test_spend_is_the_daily_reports_dollars(db: sqlite3.Connection) -> None:
    """$30 spent today counts in today's, this week's and this month's spend."""
    seed(db, 30)
    spent = spend(db, "all", "UTC", NOW)
    assert {"daily": 30.0, "weekly": 30.0, "monthly": 30.0} == {
        k: round(v, 2) for k, v in spent.usd.items()
    }


def test_provider_scope_counts_only_that_provider(db: sqlite3.Connection) -> None:
    """Codex's budget sees none of Claude's dollars."""
    seed(db, 30)
    assert 0.0 == spend(db, "codex", "UTC", NOW).usd["daily"]


def test_crossing_80_then_100_percent_alerts_once_each(db: sqlite3.Connection) -> None:
    """$45 of a $50 daily budget warns at 80 %; the same spend again says nothing."""
    seed(db, 45)
    announced: dict[str, float] = {}
    limits = BudgetLimits(daily_usd=50)
    first = evaluate(spend(db, "all", "UTC", NOW), limits, (80.0, 100.0), announced, NOW)
    again = evaluate(spend(db, "all", "UTC", NOW), limits, (80.0, 100.0), announced, NOW)
    assert ([80.0], []) == ([a.band for a in first], again)
    assert first[0].title.startswith("All CLIs: $45.00 today, 90 % of the daily budget")


def test_overspend_announces_only_100(db: sqlite3.Connection) -> None:
    """$60 of $50 crosses both bands at once: only 100 %, critical."""
    seed(db, 60)
    alerts = evaluate(
        spend(db, "all", "UTC", NOW), BudgetLimits(daily_usd=50), (80.0, 100.0), {}, NOW
    )
    assert [(100.0, "critical")] == [(a.band, a.severity) for a in alerts]


def test_budget_keys_name_the_period(db: sqlite3.Connection) -> None:
    """The key carries scope, period and its first day: the next day re-arms."""
    seed(db, 45)
    spent = spend(db, "all", "UTC", NOW)
    (alert,) = evaluate(spent, BudgetLimits(daily_usd=50), (80.0,), {}, NOW)
    assert f"budget:all:daily:{spent.starts['daily'].isoformat()}:80" == alert.key
