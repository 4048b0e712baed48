"""``otm report daily|weekly|monthly``: tokens and dollars per local date, week or month.

Field names, order and meaning follow ``ccusage claude daily|weekly|monthly --json``
(FORMATS.md §2.6), for every provider. SQLite groups the 15-minute slot projection by local
date itself (see ``timezones``); weeks and months are built from those days, as ccusage does,
so ``--since``/``--until`` select days before they are bucketed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from services.queries.reports.common import (
    Group,
    Pricer,
    ReportError,
    Row,
    Shape,
    Sums,
    check_order,
    finish,
    in_range,
    normalise_date,
    placeholders,
    providers_of,
    row_json,
)
from services.queries.reports.timezones import (
    day_bounds_slots,
    local_day_sql,
    offset_stretches,
    zone,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from typing import Any

WEEK_STARTS = {"sunday": 6, "monday": 0}
"""``--start-of-week`` values and the ``date.weekday()`` of that day."""


def daily(
    conn: sqlite3.Connection,
    provider: str = "all",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """``{"daily": [{"date", ...}], "totals"}`` (plus ``unpriced`` when a model has no price)."""
    return _report(conn, "daily", "date", provider, tz, since, until, order, lambda day: day)


def weekly(
    conn: sqlite3.Connection,
    provider: str = "all",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
    start_of_week: str = "sunday",
) -> dict[str, Any]:
    """``{"weekly": [{"week": <first day>, ...}], "totals"}``; weeks start on ``start_of_week``."""
    if start_of_week not in WEEK_STARTS:
        raise ReportError(f"start of week {start_of_week!r}: use 'sunday' or 'monday'")
    first = WEEK_STARTS[start_of_week]

    def week_of(day: str) -> str:
        d = date.fromisoformat(day)
        return (d - timedelta(days=(d.weekday() - first) % 7)).isoformat()

    return _report(conn, "weekly", "week", provider, tz, since, until, order, week_of)


def monthly(
    conn: sqlite3.Connection,
    provider: str = "all",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """``{"monthly": [{"month": "YYYY-MM", ...}], "totals"}``."""
    return _report(conn, "monthly", "month", provider, tz, since, until, order, lambda d: d[:7])


def _report(
    conn: sqlite3.Connection,
    key: str,
    field: str,
    provider: str,
    tz: str,
    since: str | None,
    until: str | None,
    order: str | None,
    bucket: Callable[[str], str],
) -> dict[str, Any]:
    providers = providers_of(provider)
    direction = check_order(order, "asc")
    zone_info = zone(tz)
    since, until = normalise_date(since, "--since"), normalise_date(until, "--until")
    shape = Shape.of(provider)
    pricer = Pricer.load(conn, providers)
    rows: dict[str, Row] = defaultdict(Row)
    for day, group, first_ts in day_groups(conn, providers, zone_info, since, until):
        rows[bucket(day)].add(group, pricer.sums(group), first_ts)
    grand = Sums()
    for row in rows.values():
        grand.add(row.totals)
    ordered = sorted(rows.items(), reverse=direction == "desc")
    report: dict[str, Any] = {key: [row_json({field: k}, row, shape) for k, row in ordered]}
    return finish(report, pricer, shape, grand)


def day_groups(
    conn: sqlite3.Connection,
    providers: tuple[str, ...],
    tz: ZoneInfo,
    since: str | None,
    until: str | None,
) -> list[tuple[str, Group, int]]:
    """``(local date, tokens of one provider/model/speed/tier, first use)`` in the range
    (also what ``otm report machines`` sums per machine)."""
    lo, hi = day_bounds_slots(tz, since, until)
    bounds = [_slot_span(conn, p) for p in providers]
    present = [b for b in bounds if b is not None]
    if not present:
        return []
    lo = max(lo, min(b[0] for b in present))
    hi = min(hi, max(b[1] for b in present))
    if lo > hi:
        return []
    day_sql = local_day_sql("slot", offset_stretches(tz, lo, hi))
    rows = conn.execute(
        f"SELECT {day_sql} AS day, provider, model, fast, long_context, sum(input), sum(output),"
        " sum(cache_write_5m), sum(cache_write_1h), sum(cache_read), sum(reasoning), sum(total),"
        " sum(web_searches), min(first_ts) FROM usage_by_slot"
        f" WHERE provider IN ({placeholders(providers)}) AND slot BETWEEN ? AND ?"
        " GROUP BY day, provider, model, fast, long_context",
        (*providers, lo, hi),
    ).fetchall()
    return [
        (day, Group(*values), first_ts)
        for day, *values, first_ts in rows
        if in_range(day, since, until)
    ]


def _slot_span(conn: sqlite3.Connection, provider: str) -> tuple[int, int] | None:
    """The first and last slot holding usage of ``provider`` (two index look-ups)."""
    (first,) = conn.execute(
        "SELECT min(slot) FROM usage_by_slot WHERE provider = ?", (provider,)
    ).fetchone()
    if first is None:
        return None
    (last,) = conn.execute(
        "SELECT max(slot) FROM usage_by_slot WHERE provider = ?", (provider,)
    ).fetchone()
    return first, last
