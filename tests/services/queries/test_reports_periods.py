"""Daily, weekly and monthly reports for every provider: field meanings, costs, filtering."""

from __future__ import annotations

import sqlite3

import pytest

from services.queries.reports.common import ReportError
from services.queries.reports.periods import daily, monthly, weekly
from tests.services.queries.reports_support import (
    CODEX,
    CODEX_LONG,
    GEMINI,
    SONNET,
    claude,
    codex,
    gemini,
    rows,
    seed,
)

# -- Codex --------------------------------------------------------------------------------------


def codex_day(db: sqlite3.Connection) -> dict[str, object]:
    """The single daily row of one Codex record: 1000 non-cached, 4000 cached, 500 out."""
    seed(db, codex("a", "2026-05-01T10:00:00+00:00"))
    (row,) = rows(daily(db, provider="codex"), "daily")
    return row


def test_codex_input_is_the_non_cached_input(db: sqlite3.Connection) -> None:
    """inputTokens is Codex's input minus its cached part, as ccusage reports it."""
    assert 1000 == codex_day(db)["inputTokens"]


def test_codex_cached_input_is_cache_read(db: sqlite3.Connection) -> None:
    """cacheReadTokens is Codex's cached input."""
    assert 4000 == codex_day(db)["cacheReadTokens"]


def test_codex_output_includes_reasoning(db: sqlite3.Connection) -> None:
    """outputTokens is Codex's output, reasoning already inside it."""
    assert 500 == codex_day(db)["outputTokens"]


def test_codex_reasoning_is_reported_apart(db: sqlite3.Connection) -> None:
    """reasoningTokens is the reasoning part of Codex's output."""
    assert 200 == codex_day(db)["reasoningTokens"]


def test_codex_total_is_the_logged_total(db: sqlite3.Connection) -> None:
    """totalTokens is the sum of Codex's logged total_tokens, not of the report's fields."""
    assert 5500 == codex_day(db)["totalTokens"]


def test_codex_cost_by_hand(db: sqlite3.Connection) -> None:
    """1000 in at $1.75, 4000 cached at $0.175, 500 out at $14 per million: $0.00945."""
    assert 0.00945 == codex_day(db)["totalCost"]


def test_codex_has_no_cache_creation(db: sqlite3.Connection) -> None:
    """Codex writes no cache: cacheCreationTokens is 0."""
    assert 0 == codex_day(db)["cacheCreationTokens"]


def test_codex_long_context_uses_the_tier_rates(db: sqlite3.Connection) -> None:
    """A 300k-token GPT-5.4 prompt bills every category at the long-context rates."""
    seed(
        db,
        codex(
            "a",
            "2026-05-01T10:00:00+00:00",
            model=CODEX_LONG,
            input=100_000,
            cache_read=200_000,
            output=1000,
            reasoning=0,
            total=301_000,
        ),
    )
    # 100k * $5 + 200k * $0.50 + 1k * $22.50 per million
    assert 0.6225 == daily(db, provider="codex")["totals"]["totalCost"]


# -- Gemini -------------------------------------------------------------------------------------


def gemini_day(db: sqlite3.Connection) -> dict[str, object]:
    """The daily row of FORMATS 4.3's example: 3808 input (with tool), 11526 cached."""
    seed(db, gemini("a", "2026-05-01T10:00:00+00:00"))
    (row,) = rows(daily(db, provider="gemini"), "daily")
    return row


def test_gemini_input_is_non_cached_plus_tool(db: sqlite3.Connection) -> None:
    """inputTokens is Gemini's input minus cached plus tool-use prompt tokens."""
    assert 3808 == gemini_day(db)["inputTokens"]


def test_gemini_output_excludes_thoughts(db: sqlite3.Connection) -> None:
    """outputTokens is Gemini's output without thoughts, as ccusage reports it."""
    assert 23 == gemini_day(db)["outputTokens"]


def test_gemini_thoughts_are_reasoning(db: sqlite3.Connection) -> None:
    """reasoningTokens is Gemini's thoughts."""
    assert 919 == gemini_day(db)["reasoningTokens"]


def test_gemini_total_is_the_logged_total(db: sqlite3.Connection) -> None:
    """totalTokens is Gemini's logged total, thoughts included."""
    assert 16276 == gemini_day(db)["totalTokens"]


def test_gemini_thoughts_are_billed_as_output(db: sqlite3.Connection) -> None:
    """3808 in at $1.25, 11526 cached at $0.125, 23 + 919 out at $10 per million."""
    assert 0.01562075 == gemini_day(db)["totalCost"]


def test_gemini_long_context_uses_the_tier_rates(db: sqlite3.Connection) -> None:
    """A 250k-token prompt bills input and output (thoughts too) at the above-200k rates."""
    seed(
        db,
        gemini(
            "a",
            "2026-05-01T10:00:00+00:00",
            input=250_000,
            cache_read=0,
            output=1000,
            reasoning=1000,
            total=252_000,
        ),
    )
    # 250k * $2.50 + 2k * $15 per million
    assert 0.655 == daily(db, provider="gemini")["totals"]["totalCost"]


# -- providers ----------------------------------------------------------------------------------


def three_providers(db: sqlite3.Connection) -> sqlite3.Connection:
    """One record of each provider on 2026-05-01 (UTC)."""
    return seed(
        db,
        claude("a", "2026-05-01T09:00:00+00:00", output=100),
        codex("b", "2026-05-01T10:00:00+00:00"),
        gemini("c", "2026-05-01T11:00:00+00:00"),
    )


def test_provider_selects_its_records_only(db: sqlite3.Connection) -> None:
    """--provider codex counts Codex records and nothing else."""
    (row,) = rows(daily(three_providers(db), provider="codex"), "daily")
    assert [CODEX] == row["modelsUsed"]


def test_all_sums_every_provider(db: sqlite3.Connection) -> None:
    """--provider all adds up the providers' logged totals."""
    report = daily(three_providers(db), provider="all")
    assert 1100 + 5500 + 16276 == report["totals"]["totalTokens"]


def test_all_costs_each_provider_as_it_bills(db: sqlite3.Connection) -> None:
    """--provider all's cost is the sum of each provider's own cost."""
    db = three_providers(db)
    each = sum(daily(db, provider=p)["totals"]["totalCost"] for p in ("claude", "codex", "gemini"))
    assert pytest.approx(each, abs=1e-12) == daily(db, provider="all")["totals"]["totalCost"]


def test_all_lists_the_providers_of_a_row(db: sqlite3.Connection) -> None:
    """Each row of --provider all says which CLIs it holds, in a fixed order."""
    (row,) = rows(daily(three_providers(db), provider="all"), "daily")
    assert ["claude", "codex", "gemini"] == row["providers"]


def test_all_names_the_provider_of_each_breakdown(db: sqlite3.Connection) -> None:
    """Each model breakdown of --provider all carries its provider."""
    (row,) = rows(daily(three_providers(db), provider="all"), "daily")
    expected = {SONNET: "claude", CODEX: "codex", GEMINI: "gemini"}
    assert expected == {b["modelName"]: b["provider"] for b in row["modelBreakdowns"]}


def test_single_provider_rows_have_no_providers_key(db: sqlite3.Connection) -> None:
    """Only --provider all adds the providers list."""
    (row,) = rows(daily(three_providers(db), provider="gemini"), "daily")
    assert "providers" not in row


def test_claude_rows_have_no_reasoning_key(db: sqlite3.Connection) -> None:
    """--provider claude keeps ccusage's keys exactly: no reasoningTokens."""
    report = daily(three_providers(db), provider="claude")
    assert "reasoningTokens" not in report["totals"]


def test_all_reports_reasoning(db: sqlite3.Connection) -> None:
    """--provider all reports Codex reasoning plus Gemini thoughts."""
    assert 200 + 919 == daily(three_providers(db), provider="all")["totals"]["reasoningTokens"]


def test_all_is_the_default(db: sqlite3.Connection) -> None:
    """Without a provider every provider is counted."""
    assert daily(three_providers(db), provider="all") == daily(db)


def test_unpriced_entry_names_its_provider_under_all(db: sqlite3.Connection) -> None:
    """With --provider all an unpriced model is listed with its provider."""
    seed(db, codex("a", "2026-05-01T10:00:00+00:00", model="gpt-imaginary"))
    expected = [{"provider": "codex", "model": "gpt-imaginary", "tokens": 5500}]
    assert expected == daily(db)["unpriced"]


# -- weekly -------------------------------------------------------------------------------------


def week_of_days(db: sqlite3.Connection) -> sqlite3.Connection:
    """Claude records on Saturday 2026-05-02, Sunday 05-03 and Monday 05-04 (UTC)."""
    return seed(
        db,
        claude("sat", "2026-05-02T12:00:00+00:00", input=1),
        claude("sun", "2026-05-03T12:00:00+00:00", input=2),
        claude("mon", "2026-05-04T12:00:00+00:00", input=4),
    )


def test_weeks_start_on_sunday_by_default(db: sqlite3.Connection) -> None:
    """Like ccusage, a week is named by its Sunday: Saturday closes the previous one."""
    report = weekly(week_of_days(db), provider="claude")
    assert {"2026-04-26": 1, "2026-05-03": 6} == {
        r["week"]: r["inputTokens"] for r in rows(report, "weekly")
    }


def test_weeks_can_start_on_monday(db: sqlite3.Connection) -> None:
    """start_of_week='monday' names weeks by their Monday."""
    report = weekly(week_of_days(db), provider="claude", start_of_week="monday")
    assert {"2026-04-27": 3, "2026-05-04": 4} == {
        r["week"]: r["inputTokens"] for r in rows(report, "weekly")
    }


def test_weekly_row_keys(db: sqlite3.Connection) -> None:
    """A Claude week row has ccusage's keys, with ``week`` first."""
    (row, *_) = rows(weekly(week_of_days(db), provider="claude"), "weekly")
    expected = [
        "week",
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


def test_weekly_since_selects_days_before_bucketing(db: sqlite3.Connection) -> None:
    """Like ccusage, since/until pick days first: a partly selected week sums its days in range."""
    report = weekly(week_of_days(db), provider="claude", since="20260504")
    assert {"2026-05-03": 4} == {r["week"]: r["inputTokens"] for r in rows(report, "weekly")}


def test_weekly_order_desc(db: sqlite3.Connection) -> None:
    """order='desc' lists the latest week first."""
    report = weekly(week_of_days(db), provider="claude", order="desc")
    assert ["2026-05-03", "2026-04-26"] == [r["week"] for r in rows(report, "weekly")]


def test_unknown_start_of_week_is_a_report_error(db: sqlite3.Connection) -> None:
    """A start of week other than sunday/monday raises ReportError."""
    with pytest.raises(ReportError, match="sunday"):
        weekly(db, start_of_week="friday")


# -- monthly ------------------------------------------------------------------------------------


def test_months_group_local_dates(db: sqlite3.Connection) -> None:
    """A month row sums its days; 23:30 UTC on April 30 is May in Asia/Tokyo."""
    seed(
        db,
        claude("a", "2026-04-30T23:30:00+00:00", input=1),
        claude("b", "2026-05-31T12:00:00+00:00", input=2),
    )
    report = monthly(db, provider="claude", tz="Asia/Tokyo")
    assert {"2026-05": 3} == {r["month"]: r["inputTokens"] for r in rows(report, "monthly")}


def test_monthly_totals_equal_daily_totals(db: sqlite3.Connection) -> None:
    """Monthly and daily reports of the same data have the same totals."""
    seed(
        db,
        claude("a", "2026-04-30T10:00:00+00:00", output=3),
        codex("b", "2026-05-01T10:00:00+00:00"),
        gemini("c", "2026-06-01T10:00:00+00:00"),
    )
    assert daily(db)["totals"] == monthly(db)["totals"]


def test_monthly_order_desc(db: sqlite3.Connection) -> None:
    """order='desc' lists the latest month first."""
    seed(
        db,
        claude("a", "2026-04-30T10:00:00+00:00"),
        claude("b", "2026-05-01T10:00:00+00:00"),
    )
    assert ["2026-05", "2026-04"] == [
        r["month"] for r in rows(monthly(db, order="desc"), "monthly")
    ]
