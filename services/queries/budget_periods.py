"""The day, week (from Monday) and month budgets are counted in, in a configured time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def today_in(tz: str, now: float) -> date:
    """The local date of ``now`` in zone ``tz``."""
    return datetime.fromtimestamp(now, ZoneInfo(tz)).date()


def period_starts(today: date) -> dict[str, date]:
    """The first day of the current day, week (Monday) and month."""
    return {
        "daily": today,
        "weekly": today - timedelta(days=today.weekday()),
        "monthly": today.replace(day=1),
    }
