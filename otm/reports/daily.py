"""``otm report daily``: tokens and dollars per local date, in ccusage's ``daily --json`` shape.

Field names, order and meaning follow ``ccusage claude daily --json`` (FORMATS.md §2.6) so a
script written for ccusage reads this unchanged. Differences, all deliberate:

* dollars are Anthropic's billing (long-context rate on the whole request, 1-hour cache
  writes at twice the input price, fast mode), summed exactly in pico-dollars, not ccusage's
  per-category tiers;
* a model with no known price is listed under a top-level ``unpriced`` key (present only when
  there is one), and contributes $0 to ``totalCost`` *visibly* rather than silently.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import msgspec

from bus.messages import ModelPrice
from otm.costs import cost_pusd, pusd_to_usd
from otm.reports.timezones import day_bounds_slots, local_day_sql, offset_stretches, zone

SYNTHETIC = ""
_price_decoder = msgspec.msgpack.Decoder(ModelPrice)


class ReportError(ValueError):
    """A report option is wrong; the message says which and what to use instead."""


@dataclass
class _Sums:
    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    cost_pusd: int = 0
    first_ts: int = 0

    def add(self, other: _Sums) -> None:
        self.input += other.input
        self.output += other.output
        self.cache_creation += other.cache_creation
        self.cache_read += other.cache_read
        self.cost_pusd += other.cost_pusd

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_creation + self.cache_read


@dataclass
class _Day:
    totals: _Sums = field(default_factory=_Sums)
    models: dict[str, _Sums] = field(default_factory=dict)


def normalise_date(value: str | None, option: str) -> str | None:
    """Accept ``YYYYMMDD`` or ``YYYY-MM-DD`` (as ccusage does) and return ``YYYY-MM-DD``."""
    if value is None:
        return None
    digits = value.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise ReportError(f"{option} {value!r}: use YYYYMMDD or YYYY-MM-DD")
    text = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    try:
        date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{option} {value!r} is not a calendar date") from None
    return text


def load_prices(conn: sqlite3.Connection, provider: str) -> dict[str, ModelPrice | None]:
    """The committed price of every model (``None`` = unpriced)."""
    return {
        model: None if blob is None else _price_decoder.decode(blob)
        for model, blob in conn.execute(
            "SELECT model, price FROM prices WHERE provider = ?", (provider,)
        )
    }


def daily(
    conn: sqlite3.Connection,
    provider: str = "claude",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str = "asc",
) -> dict[str, object]:
    """The daily report as a JSON-ready dict."""
    if provider != "claude":
        raise ReportError(f"provider {provider!r}: only 'claude' is collected so far")
    if order not in ("asc", "desc"):
        raise ReportError(f"order {order!r}: use 'asc' or 'desc'")
    zone_info = zone(tz)
    since, until = normalise_date(since, "--since"), normalise_date(until, "--until")
    days, unpriced = _collect(conn, provider, zone_info, since, until)
    rows = [_day_json(date, day) for date, day in sorted(days.items(), reverse=order == "desc")]
    grand = _Sums()
    for day in days.values():
        grand.add(day.totals)
    report: dict[str, object] = {"daily": rows, "totals": _totals_json(grand)}
    if unpriced:
        report["unpriced"] = [{"model": m, "tokens": n} for m, n in sorted(unpriced.items())]
    return report


def _collect(
    conn: sqlite3.Connection,
    provider: str,
    tz: object,
    since: str | None,
    until: str | None,
) -> tuple[dict[str, _Day], dict[str, int]]:
    span = conn.execute(
        "SELECT min(slot), max(slot) FROM usage_by_slot WHERE provider = ?", (provider,)
    ).fetchone()
    if span is None or span[0] is None:
        return {}, {}
    lo, hi = day_bounds_slots(tz, since, until)  # type: ignore[arg-type]
    lo, hi = max(lo, span[0]), min(hi, span[1])
    day_sql = local_day_sql("slot", offset_stretches(tz, lo, hi))  # type: ignore[arg-type]
    rows = conn.execute(
        f"SELECT {day_sql} AS day, model, fast, long_context, sum(input), sum(output),"
        " sum(cache_write_5m), sum(cache_write_1h), sum(cache_read), min(first_ts)"
        " FROM usage_by_slot WHERE provider = ? AND slot BETWEEN ? AND ?"
        " GROUP BY day, model, fast, long_context",
        (provider, lo, hi),
    ).fetchall()
    prices = load_prices(conn, provider)
    days: dict[str, _Day] = defaultdict(_Day)
    unpriced: dict[str, int] = defaultdict(int)
    for day, model, fast, long_ctx, inp, out, cw5, cw1h, cr, first_ts in rows:
        if (since and day < since) or (until and day > until):
            continue
        sums = _Sums(inp, out, cw5 + cw1h, cr, 0, first_ts)
        price = prices.get(model)
        if price is not None:
            sums.cost_pusd = cost_pusd(
                price,
                input=inp,
                output=out,
                cache_write_5m=cw5,
                cache_write_1h=cw1h,
                cache_read=cr,
                long_context=bool(long_ctx),
                fast=bool(fast),
            )
        elif model != SYNTHETIC:
            unpriced[model] += sums.total
        entry = days[day]
        entry.totals.add(sums)
        if model != SYNTHETIC:
            label = f"{model}-fast" if fast else model
            per_model = entry.models.setdefault(label, _Sums(first_ts=first_ts))
            per_model.add(sums)
            per_model.first_ts = min(per_model.first_ts, first_ts)
    return days, unpriced


def _day_json(date: str, day: _Day) -> dict[str, object]:
    first_seen = sorted(day.models, key=lambda m: (day.models[m].first_ts, m))
    by_cost = sorted(day.models, key=lambda m: (-day.models[m].cost_pusd, m))
    return {
        "date": date,
        **_totals_json(day.totals),
        "modelsUsed": first_seen,
        "modelBreakdowns": [
            {
                "modelName": m,
                "inputTokens": day.models[m].input,
                "outputTokens": day.models[m].output,
                "cacheCreationTokens": day.models[m].cache_creation,
                "cacheReadTokens": day.models[m].cache_read,
                "cost": pusd_to_usd(day.models[m].cost_pusd),
            }
            for m in by_cost
        ],
    }


def _totals_json(sums: _Sums) -> dict[str, object]:
    return {
        "inputTokens": sums.input,
        "outputTokens": sums.output,
        "cacheCreationTokens": sums.cache_creation,
        "cacheReadTokens": sums.cache_read,
        "totalTokens": sums.total,
        "totalCost": pusd_to_usd(sums.cost_pusd),
    }
