"""``otm report daily --provider claude``: ccusage's ``claude daily --json`` shape and meaning.

Other providers, ``--provider all`` and the other kinds are in the other ``test_reports_*``
modules.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import pytest

from bus.messages import ModelPrice, PriceObserved, UsageRecord
from services.queries.reports import periods
from services.queries.reports.common import ReportError
from services.queries.reports.timezones import UnknownTimezone
from services.store.writer import Store
from tests.helpers import SONNET_4_5, batch, record


def daily(db: sqlite3.Connection, **options: Any) -> dict[str, Any]:
    """The Claude daily report (``provider="claude"`` unless told)."""
    return periods.daily(db, **{"provider": "claude", **options})


def usd_per_mtok(input: str, output: str = "0") -> ModelPrice:
    """A price with the given input and output rates and free cache traffic."""
    return ModelPrice(
        input=input, output=output, cache_write_5m=input, cache_write_1h=input, cache_read="0"
    )


SONNET = "claude-sonnet-4-5"
PRICES: dict[str, ModelPrice | None] = {
    SONNET: SONNET_4_5,
    "alpha": usd_per_mtok("1"),
    "zeta": usd_per_mtok("1"),
    "cheap": usd_per_mtok("1"),
    "dear": usd_per_mtok("10"),
}


def ms(iso: str) -> int:
    """Epoch milliseconds of an ISO timestamp with an explicit offset."""
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def at(key: str, iso: str, **fields: object) -> UsageRecord:
    """A Sonnet record (1000 input, 0 output unless told) at ``iso``."""
    values: dict[str, object] = {"model": SONNET, "input": 1000, "output": 0}
    values.update(fields)
    return record(key, ts_ms=ms(iso), **values)


def seed(
    db: sqlite3.Connection, *records: UsageRecord, prices: dict[str, ModelPrice | None] = PRICES
) -> sqlite3.Connection:
    """Commit ``prices`` and then ``records`` through the real store; return the connection."""
    observed = [
        PriceObserved(provider="claude", model=m, source="test", price=p) for m, p in prices.items()
    ]
    committed, _, rejected = Store(db).apply([*observed, batch(records, None, 100)])
    assert ([], len(observed) + 1) == (rejected, len(committed))
    return db


def dates(report: dict[str, object]) -> list[str]:
    """The dates of a report's rows, in order."""
    return [row["date"] for row in report["daily"]]  # type: ignore[attr-defined,index]


def rows_by_date(report: dict[str, object]) -> dict[str, dict[str, object]]:
    """A report's rows keyed by date."""
    return {row["date"]: row for row in report["daily"]}  # type: ignore[attr-defined,index]


# -- shape ------------------------------------------------------------------------------------


def test_row_keys_are_in_ccusage_order(db: sqlite3.Connection) -> None:
    """A day row has ccusage's keys in ccusage's order."""
    (row,) = daily(seed(db, at("a", "2025-03-01T10:00:00+00:00")))["daily"]  # type: ignore[misc]
    expected = [
        "date",
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
        "totalCost",
        "modelsUsed",
        "modelBreakdowns",
    ]
    assert expected == list(row)


def test_breakdown_keys_are_in_ccusage_order(db: sqlite3.Connection) -> None:
    """A model breakdown has ccusage's keys in ccusage's order."""
    (row,) = daily(seed(db, at("a", "2025-03-01T10:00:00+00:00")))["daily"]  # type: ignore[misc]
    (breakdown,) = row["modelBreakdowns"]
    expected = [
        "modelName",
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "cost",
    ]
    assert expected == list(breakdown)


def test_top_level_keys(db: sqlite3.Connection) -> None:
    """A fully priced report has exactly ``daily`` and ``totals``, in that order."""
    assert ["daily", "totals"] == list(daily(seed(db, at("a", "2025-03-01T10:00:00+00:00"))))


def test_empty_store_gives_an_empty_report(db: sqlite3.Connection) -> None:
    """With no usage, the report has no rows and zero totals."""
    zero = {
        "inputTokens": 0,
        "outputTokens": 0,
        "cacheCreationTokens": 0,
        "cacheReadTokens": 0,
        "totalTokens": 0,
        "totalCost": 0.0,
    }
    assert {"daily": [], "totals": zero} == daily(db)


def test_day_sums_tokens_and_cache_creation(db: sqlite3.Connection) -> None:
    """A day adds up every record; cacheCreationTokens is 5-minute plus 1-hour writes."""
    seed(
        db,
        at("a", "2025-03-01T01:00:00+00:00", input=1, output=2, cache_write_5m=3, cache_read=5),
        at("b", "2025-03-01T22:00:00+00:00", input=10, output=20, cache_write_1h=30, cache_read=50),
    )
    (row,) = daily(db)["daily"]  # type: ignore[misc]
    assert (11, 22, 33, 55, 121) == (
        row["inputTokens"],
        row["outputTokens"],
        row["cacheCreationTokens"],
        row["cacheReadTokens"],
        row["totalTokens"],
    )


def test_cost_is_anthropics_price(db: sqlite3.Connection) -> None:
    """100k input and 100k output Sonnet tokens cost $0.30 + $1.50."""
    seed(db, at("a", "2025-03-01T10:00:00+00:00", input=100_000, output=100_000))
    assert 1.8 == daily(db)["totals"]["totalCost"]  # type: ignore[index]


def test_long_context_request_costs_the_tier_price(db: sqlite3.Connection) -> None:
    """A request over 200k prompt tokens is billed at the long-context rate on every token."""
    seed(db, at("a", "2025-03-01T10:00:00+00:00", input=250_000, output=100_000))
    # 250k * $6 + 100k * $22.5 per million
    assert 3.75 == daily(db)["totals"]["totalCost"]  # type: ignore[index]


def test_totals_are_the_sum_of_the_rows(db: sqlite3.Connection) -> None:
    """The totals equal the sum of the day rows, field by field."""
    seed(
        db,
        at("a", "2025-03-01T10:00:00+00:00", output=7),
        at("b", "2025-03-02T10:00:00+00:00", model="dear", cache_read=9),
        at("c", "2025-03-04T10:00:00+00:00", model="cheap"),
    )
    report = daily(db)
    fields = [
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
    ]
    summed = {f: sum(row[f] for row in report["daily"]) for f in fields}  # type: ignore[attr-defined,index]
    assert summed == {f: report["totals"][f] for f in fields}  # type: ignore[index]


# -- models -----------------------------------------------------------------------------------


def test_models_used_in_first_seen_order(db: sqlite3.Connection) -> None:
    """modelsUsed lists models by their first record of the day, not alphabetically."""
    seed(
        db,
        at("late", "2025-03-01T11:00:00+00:00", model="alpha"),
        at("early", "2025-03-01T09:00:00+00:00", model="zeta"),
        at("again", "2025-03-01T12:00:00+00:00", model="zeta"),
    )
    (row,) = daily(db)["daily"]  # type: ignore[misc]
    assert ["zeta", "alpha"] == row["modelsUsed"]


def test_model_breakdowns_by_cost_descending(db: sqlite3.Connection) -> None:
    """modelBreakdowns puts the most expensive model first, whatever was seen first."""
    seed(
        db,
        at("a", "2025-03-01T09:00:00+00:00", model="cheap", input=1_000_000),
        at("b", "2025-03-01T10:00:00+00:00", model="dear", input=200_000),
    )
    (row,) = daily(db)["daily"]  # type: ignore[misc]
    assert [("dear", 2.0), ("cheap", 1.0)] == [
        (b["modelName"], b["cost"]) for b in row["modelBreakdowns"]
    ]


def test_fast_mode_is_its_own_model_entry(db: sqlite3.Connection) -> None:
    """Fast-mode requests are listed as ``<model>-fast``, apart from standard ones."""
    seed(
        db,
        at("a", "2025-03-01T09:00:00+00:00"),
        at("b", "2025-03-01T10:00:00+00:00", speed="fast"),
    )
    (row,) = daily(db)["daily"]  # type: ignore[misc]
    assert [SONNET, f"{SONNET}-fast"] == row["modelsUsed"]


def test_synthetic_records_count_in_totals(db: sqlite3.Connection) -> None:
    """Records naming no model (``<synthetic>``) still add to the day's tokens."""
    seed(
        db,
        at("a", "2025-03-01T09:00:00+00:00", input=5),
        at("b", "2025-03-01T10:00:00+00:00", model=None, input=7),
    )
    (row,) = daily(db)["daily"]  # type: ignore[misc]
    assert 12 == row["inputTokens"]


def test_synthetic_records_are_not_listed_as_a_model(db: sqlite3.Connection) -> None:
    """``<synthetic>`` appears neither in modelsUsed nor in modelBreakdowns."""
    seed(
        db,
        at("a", "2025-03-01T09:00:00+00:00"),
        at("b", "2025-03-01T08:00:00+00:00", model=None),
    )
    (row,) = daily(db)["daily"]  # type: ignore[misc]
    assert ([SONNET], [SONNET]) == (
        row["modelsUsed"],
        [b["modelName"] for b in row["modelBreakdowns"]],
    )


def test_synthetic_records_are_not_unpriced(db: sqlite3.Connection) -> None:
    """``<synthetic>`` records are free by nature, not an unpriced model."""
    report = daily(seed(db, at("b", "2025-03-01T08:00:00+00:00", model=None)))
    assert "unpriced" not in report


# -- unpriced models --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prices",
    [
        pytest.param({**PRICES, "mystery-1": None}, id="priced-as-unknown"),
        pytest.param(PRICES, id="never-priced"),
    ],
)
def test_unpriced_model_is_reported(
    db: sqlite3.Connection, prices: dict[str, ModelPrice | None]
) -> None:
    """A model without a price is listed under ``unpriced`` with its tokens."""
    seed(
        db,
        at("a", "2025-03-01T09:00:00+00:00"),
        at("b", "2025-03-01T10:00:00+00:00", model="mystery-1", input=40, output=2),
        prices=prices,
    )
    assert [{"model": "mystery-1", "tokens": 42}] == daily(db)["unpriced"]


def test_unpriced_model_is_still_listed_with_its_tokens(db: sqlite3.Connection) -> None:
    """The unpriced model keeps its row in modelsUsed and its tokens in the day."""
    seed(db, at("b", "2025-03-01T10:00:00+00:00", model="mystery-1", input=40))
    (row,) = daily(db)["daily"]  # type: ignore[misc]
    assert (["mystery-1"], 40) == (row["modelsUsed"], row["inputTokens"])


def test_unpriced_tokens_add_no_dollars(db: sqlite3.Connection) -> None:
    """totalCost is the priced models' cost only: the unpriced part is listed, not guessed."""
    seed(
        db,
        at("a", "2025-03-01T09:00:00+00:00", input=100_000),
        at("b", "2025-03-01T10:00:00+00:00", model="mystery-1", input=100_000),
    )
    assert 0.3 == daily(db)["totals"]["totalCost"]  # type: ignore[index]


# -- models priced as a known model inside their name ------------------------------------------

PREFIXED = "acme-claude-sonnet-4-5"


def seed_prefixed(db: sqlite3.Connection, *records: UsageRecord) -> sqlite3.Connection:
    """Commit Sonnet's price under ``PREFIXED`` as the collector does (its source names the
    known model), then the usual prices and ``records``."""
    observed = PriceObserved(
        provider="claude",
        model=PREFIXED,
        source="genai-prices 0.0.0, priced as claude-sonnet-4-5",
        price=SONNET_4_5,
    )
    Store(db).apply([observed])
    return seed(db, *records)


def test_prefixed_model_is_listed_under_priced_as(db: sqlite3.Connection) -> None:
    """A model priced as the known model inside its name is named in ``pricedAs``."""
    seed_prefixed(db, at("a", "2025-03-01T09:00:00+00:00", model=PREFIXED))
    report = daily(db)
    assert ({PREFIXED: SONNET}, False) == (report["pricedAs"], "unpriced" in report)


def test_report_without_such_models_has_no_priced_as_key(db: sqlite3.Connection) -> None:
    """Only ccusage's keys when every model is priced by its own name."""
    seed(db, at("a", "2025-03-01T09:00:00+00:00"))
    assert ["daily", "totals"] == list(daily(db))


def test_priced_as_names_only_models_in_the_report(db: sqlite3.Connection) -> None:
    """A prefixed model used only on days outside --since is not in ``pricedAs``."""
    seed_prefixed(
        db,
        at("a", "2025-03-01T09:00:00+00:00", model=PREFIXED),
        at("b", "2025-03-02T09:00:00+00:00"),
    )
    assert "pricedAs" not in daily(db, since="20250302")


# -- time zones -------------------------------------------------------------------------------


def test_utc_is_the_default_zone(db: sqlite3.Connection) -> None:
    """Without ``tz`` a 23:30 UTC record is on its UTC date."""
    assert ["2025-03-01"] == dates(daily(seed(db, at("a", "2025-03-01T23:30:00+00:00"))))


def test_tokyo_moves_late_utc_evening_to_the_next_day(db: sqlite3.Connection) -> None:
    """A 23:30 UTC record is on the next day in Asia/Tokyo (+09:00), as with ccusage -z."""
    report = daily(seed(db, at("a", "2025-03-01T23:30:00+00:00")), tz="Asia/Tokyo")
    assert ["2025-03-02"] == dates(report)


def test_kathmandu_quarter_hour_offset(db: sqlite3.Connection) -> None:
    """In Asia/Kathmandu (+05:45) 18:10 UTC is 23:55 local and 18:20 UTC is 00:05 next day."""
    seed(
        db,
        at("a", "2025-03-01T18:10:00+00:00", input=1),
        at("b", "2025-03-01T18:20:00+00:00", input=2),
    )
    report = daily(db, tz="Asia/Kathmandu")
    assert {"2025-03-01": 1, "2025-03-02": 2} == {
        d: row["inputTokens"] for d, row in rows_by_date(report).items()
    }


def test_new_york_spring_forward(db: sqlite3.Connection) -> None:
    """Around 2024-03-10 in America/New_York, -05:00 applies before the change, -04:00 after."""
    seed(
        db,
        at("a", "2024-03-09T23:30:00-05:00", input=1),  # 04:30 UTC on the 10th
        at("b", "2024-03-10T23:30:00-04:00", input=2),  # 03:30 UTC on the 11th
        at("c", "2024-03-11T00:30:00-04:00", input=4),  # 04:30 UTC on the 11th
    )
    report = daily(db, tz="America/New_York")
    assert {"2024-03-09": 1, "2024-03-10": 2, "2024-03-11": 4} == {
        d: row["inputTokens"] for d, row in rows_by_date(report).items()
    }


def test_new_york_fall_back(db: sqlite3.Connection) -> None:
    """Around 2024-11-03 in America/New_York, midnight moves from 04:00 UTC to 05:00 UTC."""
    seed(
        db,
        at("a", "2024-11-03T00:30:00-04:00", input=1),  # 04:30 UTC on the 3rd
        at("b", "2024-11-03T23:30:00-05:00", input=2),  # 04:30 UTC on the 4th
        at("c", "2024-11-04T00:30:00-05:00", input=4),  # 05:30 UTC on the 4th
    )
    report = daily(db, tz="America/New_York")
    assert {"2024-11-03": 3, "2024-11-04": 4} == {
        d: row["inputTokens"] for d, row in rows_by_date(report).items()
    }


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "UTC+2", "../../etc/passwd", ""])
def test_unknown_time_zone_is_refused(db: sqlite3.Connection, tz: str) -> None:
    """A name that is not an IANA zone raises UnknownTimezone."""
    with pytest.raises(UnknownTimezone, match="IANA"):
        daily(db, tz=tz)


# -- since / until / order --------------------------------------------------------------------


def three_days(db: sqlite3.Connection) -> sqlite3.Connection:
    """One record on each of 2025-03-01, 02 and 03 (UTC)."""
    return seed(
        db,
        at("a", "2025-03-01T00:00:00+00:00"),
        at("b", "2025-03-02T12:00:00+00:00"),
        at("c", "2025-03-03T23:59:59+00:00"),
    )


@pytest.mark.parametrize(
    ("since", "until"),
    [
        pytest.param("20250302", "20250303", id="YYYYMMDD"),
        pytest.param("2025-03-02", "2025-03-03", id="YYYY-MM-DD"),
        pytest.param("2025-03-02", "20250303", id="mixed"),
    ],
)
def test_since_and_until_are_inclusive(db: sqlite3.Connection, since: str, until: str) -> None:
    """since and until both include their own day, in either date format."""
    report = daily(three_days(db), since=since, until=until)
    assert ["2025-03-02", "2025-03-03"] == dates(report)


def test_since_alone(db: sqlite3.Connection) -> None:
    """since without until keeps every day from it on."""
    assert ["2025-03-03"] == dates(daily(three_days(db), since="20250303"))


def test_until_alone(db: sqlite3.Connection) -> None:
    """until without since keeps every day up to it."""
    assert ["2025-03-01"] == dates(daily(three_days(db), until="2025-03-01"))


def test_since_and_until_apply_to_local_dates(db: sqlite3.Connection) -> None:
    """The filter is on the date in ``tz``: 23:59 UTC on the 3rd is the 4th in Tokyo."""
    report = daily(three_days(db), tz="Asia/Tokyo", since="20250304", until="20250304")
    assert ["2025-03-04"] == dates(report)


def test_totals_cover_only_the_selected_days(db: sqlite3.Connection) -> None:
    """Totals are over the filtered rows only."""
    assert (
        1000 == daily(three_days(db), since="20250302", until="20250302")["totals"]["inputTokens"]
    )  # type: ignore[index]


@pytest.mark.parametrize("bad", ["2025/03/01", "yesterday", "2025031", "202503011", "2025-03-1"])
def test_malformed_date_is_a_report_error(db: sqlite3.Connection, bad: str) -> None:
    """A date in neither accepted format raises ReportError naming the option."""
    with pytest.raises(ReportError, match="--since"):
        daily(three_days(db), since=bad)


@pytest.mark.parametrize("bad", ["20251301", "2025-02-30", "20250000"])
def test_impossible_date_is_a_report_error(db: sqlite3.Connection, bad: str) -> None:
    """A well-formed but impossible date (month 13, 30 February) raises ReportError too."""
    with pytest.raises(ReportError, match="--until"):
        daily(three_days(db), until=bad)


@pytest.mark.parametrize(
    ("option", "value"), [("since", "0001-01-01"), ("until", "9999-12-31"), ("since", "19691231")]
)
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "session", "project", "blocks"])
def test_a_date_at_the_calendar_edge_is_a_report_error(
    db: sqlite3.Connection, kind: str, option: str, value: str
) -> None:
    """Dates at the ends of the calendar are refused as out of range, in every report."""
    from services.queries.reports.build import ReportOptions, build_report

    options = ReportOptions(provider="all", tz="Pacific/Kiritimati", **{option: value})
    with pytest.raises(ReportError, match="out of range"):
        build_report(three_days(db), kind, options)


def test_rows_ascending_by_default(db: sqlite3.Connection) -> None:
    """Rows are sorted by date, oldest first, by default."""
    assert ["2025-03-01", "2025-03-02", "2025-03-03"] == dates(daily(three_days(db)))


def test_order_desc(db: sqlite3.Connection) -> None:
    """order='desc' lists the newest day first."""
    assert ["2025-03-03", "2025-03-02", "2025-03-01"] == dates(daily(three_days(db), order="desc"))


def test_unknown_order_is_a_report_error(db: sqlite3.Connection) -> None:
    """An order other than asc/desc raises ReportError."""
    with pytest.raises(ReportError, match="order"):
        daily(db, order="newest")


def test_unknown_provider_is_a_report_error(db: sqlite3.Connection) -> None:
    """A provider other than claude, codex, gemini or all raises ReportError listing them."""
    with pytest.raises(ReportError, match=r"claude\|codex\|gemini\|all"):
        daily(db, provider="copilot")


def test_range_before_all_data_is_empty(db: sqlite3.Connection) -> None:
    """A since/until range with no usage in it gives no rows."""
    assert [] == dates(daily(three_days(db), since="20240101", until="20240131"))
