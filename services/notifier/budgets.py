"""The budget rule: a daily, weekly (from Monday) or monthly USD budget, over every provider or
one, crossed at each of ``[alerts] budget_thresholds`` (80 and 100 % by default).

Dollars are the reports' own (``otm report daily`` in the configured time zone), so an alert
and the report a person checks it against always agree. One alert per band per period; when
several bands are crossed at once only the highest is announced.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

from bus.messages import Alert
from services.notifier.labels import percent, provider_name
from services.queries.budget_periods import period_starts, today_in
from services.queries.reports.build import ReportOptions, build_report
from services.runtime.config import BudgetLimits

PERIODS = ("daily", "weekly", "monthly")
PERIOD_WORDS = {"daily": "today", "weekly": "this week", "monthly": "this month"}


@dataclass(frozen=True)
class Spend:
    """Dollars spent in the current day, week and month of one scope."""

    scope: str
    starts: dict[str, date]
    usd: dict[str, float]


def spend(conn: sqlite3.Connection, scope: str, tz: str, now: float) -> Spend:
    """What ``otm report daily --provider <scope>`` says for the current periods."""
    today = today_in(tz, now)
    starts = period_starts(today)
    since = min(starts.values())
    options = ReportOptions(
        provider=scope, tz=tz, since=since.strftime("%Y%m%d"), until=today.strftime("%Y%m%d")
    )
    rows = build_report(conn, "daily", options)["daily"]
    usd = {period: 0.0 for period in PERIODS}
    for row in rows:
        day = date.fromisoformat(row["date"])
        for period, start in starts.items():
            if day >= start:
                usd[period] += float(row["totalCost"])
    return Spend(scope=scope, starts=starts, usd=usd)


def evaluate(
    spent: Spend,
    limits: BudgetLimits,
    bands: tuple[float, ...],
    announced: dict[str, float],
    now: float,
    demo: bool = False,
) -> list[Alert]:
    """Alerts for bands newly crossed. ``announced`` maps each period's key prefix
    (``budget:<scope>:<period>:<start>``) to the highest band already announced."""
    alerts = []
    for period in PERIODS:
        budget = getattr(limits, f"{period}_usd")
        if budget is None:
            continue
        used = 100.0 * spent.usd[period] / budget
        crossed = [band for band in bands if used >= band]
        prefix = f"budget:{spent.scope}:{period}:{spent.starts[period].isoformat()}"
        if not crossed or max(crossed) <= announced.get(prefix, 0.0):
            continue
        band = max(crossed)
        announced[prefix] = band
        alerts.append(_alert(spent, period, budget, band, used, prefix, now, demo))
    return alerts


def _alert(
    spent: Spend,
    period: str,
    budget: float,
    band: float,
    used: float,
    prefix: str,
    now: float,
    demo: bool,
) -> Alert:
    who = provider_name(spent.scope)
    label = " (demo data)" if demo else ""
    return Alert(
        key=f"{prefix}:{band:g}",
        rule="budget",
        provider=spent.scope,
        title=f"{who}: ${spent.usd[period]:.2f} {PERIOD_WORDS[period]}, {percent(round(used, 1))} "
        f"of the {period} budget{label}",
        body=f"Budget ${budget:.2f}; past the {percent(band)} line.",
        severity="critical" if band >= 100 else "warning",
        raised_at=now,
        window=period,
        band=band,
        used_percent=round(used, 1),
        demo=demo,
    )
