"""Five-hour blocks: ccusage's rules (FORMATS 2.7) over ``usage_records``, with a fixed now."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from bus.messages import LimitWindow, PriceObserved, UsageRecord
from services.queries.reports.blocks import blocks
from services.queries.reports.common import ReportError
from services.store.writer import Store
from tests.services.queries.reports_support import (
    CODEX,
    GPT_5_3_CODEX,
    claude,
    codex,
    gemini,
    ms,
    rows,
    seed,
)

LATER = "2030-01-01T00:00:00+00:00"
"""A "now" long after every record: no block is active."""


def block_list(db: sqlite3.Connection, now: str = LATER, **options: Any) -> list[dict[str, Any]]:
    """The blocks of the report at ``now``."""
    return rows(blocks(db, now_ms=ms(now), **options), "blocks")


def starts(found: list[dict[str, Any]]) -> list[str]:
    """The block ids, in order."""
    return [b["id"] for b in found]


# -- boundaries ---------------------------------------------------------------------------------


def test_block_starts_at_the_utc_hour(db: sqlite3.Connection) -> None:
    """A block starts at its first record's time floored to the UTC hour."""
    (block,) = block_list(seed(db, claude("a", "2026-05-01T10:55:30+00:00")))
    assert "2026-05-01T10:00:00.000Z" == block["startTime"]


def test_block_ends_five_hours_after_its_start(db: sqlite3.Connection) -> None:
    """endTime is the start plus five hours; actualEndTime the last record."""
    seed(db, claude("a", "2026-05-01T10:55:30+00:00"), claude("b", "2026-05-01T12:00:00+00:00"))
    (block,) = block_list(db)
    expected = ("2026-05-01T15:00:00.000Z", "2026-05-01T12:00:00.000Z")
    assert expected == (block["endTime"], block["actualEndTime"])


def test_record_exactly_five_hours_after_start_stays(db: sqlite3.Connection) -> None:
    """The rule is strict: a record at start + 5h still belongs to the block."""
    seed(db, claude("a", "2026-05-01T10:00:00+00:00"), claude("b", "2026-05-01T15:00:00+00:00"))
    assert 2 == block_list(db)[0]["entries"]


def test_new_block_after_five_hours_from_start(db: sqlite3.Connection) -> None:
    """A record more than 5 hours after the block start opens a new block, with no gap."""
    seed(
        db,
        claude("a", "2026-05-01T10:30:00+00:00"),
        claude("b", "2026-05-01T14:00:00+00:00"),
        claude("c", "2026-05-01T15:00:01+00:00"),
    )
    expected = ["2026-05-01T10:00:00.000Z", "2026-05-01T15:00:00.000Z"]
    assert expected == starts(block_list(db))


def test_new_block_after_five_hours_from_last_record(db: sqlite3.Connection) -> None:
    """A record more than 5 hours after the previous one opens a new block after a gap."""
    seed(db, claude("a", "2026-05-01T10:30:00+00:00"), claude("b", "2026-05-01T16:00:00+00:00"))
    expected = [
        "2026-05-01T10:00:00.000Z",
        "gap-2026-05-01T15:30:00.000Z",
        "2026-05-01T16:00:00.000Z",
    ]
    assert expected == starts(block_list(db))


def test_gap_block_spans_last_record_plus_five_hours_to_the_next(db: sqlite3.Connection) -> None:
    """The gap starts 5 hours after the last record and ends at the next record."""
    seed(db, claude("a", "2026-05-01T10:30:00+00:00"), claude("b", "2026-05-02T09:15:00+00:00"))
    gap = block_list(db)[1]
    expected = ("2026-05-01T15:30:00.000Z", "2026-05-02T09:15:00.000Z", True, 0, None)
    assert expected == (
        gap["startTime"],
        gap["endTime"],
        gap["isGap"],
        gap["entries"],
        gap["actualEndTime"],
    )


def test_block_sums_tokens_and_cost(db: sqlite3.Connection) -> None:
    """tokenCounts, totalTokens and costUSD add up the block's records."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", input=100_000, cache_write_5m=10, cache_read=5),
        claude("b", "2026-05-01T11:00:00+00:00", input=0, output=100_000, cache_write_1h=20),
    )
    (block,) = block_list(db, provider="claude")
    expected = {
        "inputTokens": 100_000,
        "outputTokens": 100_000,
        "cacheCreationInputTokens": 30,
        "cacheReadInputTokens": 5,
    }
    assert (expected, 200_035) == (block["tokenCounts"], block["totalTokens"])


def test_block_models_in_first_use_order(db: sqlite3.Connection) -> None:
    """models lists each model once, in the order of first use."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", model="dear"),
        claude("b", "2026-05-01T10:10:00+00:00", model="cheap"),
        claude("c", "2026-05-01T10:20:00+00:00", model="dear"),
    )
    assert ["dear", "cheap"] == block_list(db)[0]["models"]


def test_block_row_keys(db: sqlite3.Connection) -> None:
    """A Claude block has ccusage's keys in ccusage's order."""
    (block,) = block_list(seed(db, claude("a", "2026-05-01T10:00:00+00:00")), provider="claude")
    expected = [
        "id",
        "startTime",
        "endTime",
        "actualEndTime",
        "isActive",
        "isGap",
        "entries",
        "tokenCounts",
        "totalTokens",
        "costUSD",
        "models",
        "burnRate",
        "projection",
    ]
    assert expected == list(block)


def test_whole_dollar_costs_print_without_fraction(db: sqlite3.Connection) -> None:
    """A gap's cost is printed ``0``, as ccusage's JSON does, not ``0.0``."""
    seed(db, claude("a", "2026-05-01T10:30:00+00:00"), claude("b", "2026-05-02T10:00:00+00:00"))
    assert '"costUSD": 0,' in json.dumps(block_list(db)[1])


# -- active block -------------------------------------------------------------------------------


def active_pair(db: sqlite3.Connection, *earlier: UsageRecord) -> sqlite3.Connection:
    """``earlier`` records, then two Sonnet records 30 minutes apart: 7500 tokens (4500 input
    and output), $0.0324."""
    return seed(
        db,
        *earlier,
        claude("a", "2026-05-01T10:10:00+00:00", input=1000, output=500, cache_read=3000),
        claude("b", "2026-05-01T10:40:00+00:00", input=2000, output=1000),
    )


NOW = "2026-05-01T11:00:00+00:00"
"""20 minutes after the last record of ``active_pair``; 240 minutes before the block ends."""


def test_block_is_active_while_recent(db: sqlite3.Connection) -> None:
    """A block whose last record is under 5 hours old and that has not ended is active."""
    assert block_list(active_pair(db), now=NOW)[0]["isActive"]


def test_block_is_inactive_after_its_end(db: sqlite3.Connection) -> None:
    """At its end time the block is no longer active, even with a recent last record."""
    assert not block_list(active_pair(db), now="2026-05-01T15:00:00+00:00")[0]["isActive"]


def test_inactive_block_has_no_burn_rate(db: sqlite3.Connection) -> None:
    """Only the active block has a burnRate and a projection."""
    (block,) = block_list(active_pair(db))
    assert (None, None) == (block["burnRate"], block["projection"])


def test_burn_rate_of_the_active_block(db: sqlite3.Connection) -> None:
    """7500 tokens (4500 input + output) and $0.0324 over 30 minutes."""
    (block,) = block_list(active_pair(db), now=NOW)
    expected = {
        "tokensPerMinute": 250,
        "tokensPerMinuteForIndicator": 150,
        "costPerHour": pytest.approx(0.0648),
    }
    assert expected == block["burnRate"]


def test_projection_of_the_active_block(db: sqlite3.Connection) -> None:
    """240 minutes left at 250 tokens and $0.00108 a minute: 67,500 tokens, $0.29."""
    (block,) = block_list(active_pair(db), now=NOW)
    expected = {"totalTokens": 67_500, "totalCost": 0.29, "remainingMinutes": 240}
    assert expected == block["projection"]


def test_single_record_block_has_no_burn_rate(db: sqlite3.Connection) -> None:
    """An active block whose records share one instant has no rate to project."""
    seed(db, claude("a", "2026-05-01T10:10:00+00:00"))
    (block,) = block_list(db, now=NOW)
    assert (True, None, None) == (block["isActive"], block["burnRate"], block["projection"])


# -- token limit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "status"),
    [
        pytest.param(100_000, "ok", id="under-80%"),
        pytest.param(80_000, "warning", id="over-80%"),
        pytest.param(60_000, "exceeds", id="over-100%"),
    ],
)
def test_token_limit_status(db: sqlite3.Connection, limit: int, status: str) -> None:
    """The projected 67,500 tokens against the limit: ok, warning above 80%, exceeds above."""
    (block,) = block_list(active_pair(db), now=NOW, token_limit=str(limit))
    assert status == block["tokenLimitStatus"]["status"]


def test_token_limit_status_fields(db: sqlite3.Connection) -> None:
    """tokenLimitStatus gives the limit, the projected usage and its share in percent."""
    (block,) = block_list(active_pair(db), now=NOW, token_limit="100000")
    expected = {"limit": 100_000, "projectedUsage": 67_500, "percentUsed": 67.5, "status": "ok"}
    assert expected == block["tokenLimitStatus"]


def test_token_limit_max_is_the_largest_complete_block(db: sqlite3.Connection) -> None:
    """'max' takes the largest earlier, finished block as the limit."""
    db = active_pair(db, claude("old", "2026-04-30T10:00:00+00:00", input=50_000))
    (_, _, block) = block_list(db, now=NOW, token_limit="max")
    assert 50_000 == block["tokenLimitStatus"]["limit"]


def test_token_limit_only_on_the_active_block(db: sqlite3.Connection) -> None:
    """Finished blocks get no tokenLimitStatus."""
    db = active_pair(db, claude("old", "2026-04-30T10:00:00+00:00", input=50_000))
    first = block_list(db, now=NOW, token_limit="max")[0]
    assert "tokenLimitStatus" not in first


def test_token_limit_max_without_history_adds_nothing(db: sqlite3.Connection) -> None:
    """With no finished block to measure, 'max' gives no status."""
    (block,) = block_list(active_pair(db), now=NOW, token_limit="max")
    assert "tokenLimitStatus" not in block


@pytest.mark.parametrize("bad", ["lots", "0", "-5"])
def test_bad_token_limit_is_a_report_error(db: sqlite3.Connection, bad: str) -> None:
    """A token limit that is neither a positive number nor 'max' raises ReportError."""
    with pytest.raises(ReportError, match="token limit"):
        blocks(db, token_limit=bad)


# -- filtering and order ------------------------------------------------------------------------


def two_days(db: sqlite3.Connection) -> sqlite3.Connection:
    """Blocks on 2026-05-01 10:00Z and 2026-05-02 10:00Z, with a gap between."""
    return seed(
        db, claude("a", "2026-05-01T10:30:00+00:00"), claude("b", "2026-05-02T10:30:00+00:00")
    )


def test_since_selects_by_block_start_date(db: sqlite3.Connection) -> None:
    """since keeps blocks starting on or after that local date."""
    assert ["2026-05-02T10:00:00.000Z"] == starts(block_list(two_days(db), since="20260502"))


def test_until_selects_by_block_start_date(db: sqlite3.Connection) -> None:
    """until keeps blocks (gaps included) starting on or before that local date."""
    expected = ["2026-05-01T10:00:00.000Z", "gap-2026-05-01T15:30:00.000Z"]
    assert expected == starts(block_list(two_days(db), until="2026-05-01"))


def test_block_dates_are_local(db: sqlite3.Connection) -> None:
    """In Asia/Tokyo the gap starting 15:30Z on May 1st starts on May 2nd."""
    found = block_list(two_days(db), tz="Asia/Tokyo", since="20260502")
    assert ["gap-2026-05-01T15:30:00.000Z", "2026-05-02T10:00:00.000Z"] == starts(found)


def test_blocks_order_desc(db: sqlite3.Connection) -> None:
    """order='desc' lists the latest block first."""
    found = block_list(two_days(db), order="desc")
    assert "2026-05-02T10:00:00.000Z" == found[0]["id"]


# -- providers ----------------------------------------------------------------------------------


def test_codex_block_fields(db: sqlite3.Connection) -> None:
    """A Codex block keeps Codex's meanings: non-cached input, reasoning, the logged total."""
    (block,) = block_list(seed(db, codex("a", "2026-05-01T10:00:00+00:00")), provider="codex")
    counts = {
        "inputTokens": 1000,
        "outputTokens": 500,
        "cacheCreationInputTokens": 0,
        "cacheReadInputTokens": 4000,
        "reasoningTokens": 200,
    }
    assert (counts, 5500, 0.00945) == (
        block["tokenCounts"],
        block["totalTokens"],
        block["costUSD"],
    )


def test_providers_have_their_own_blocks(db: sqlite3.Connection) -> None:
    """Under --provider all each CLI's records form their own blocks, each naming its CLI."""
    seed(
        db,
        claude("a", "2026-05-01T10:30:00+00:00"),
        gemini("b", "2026-05-01T11:30:00+00:00"),
    )
    found = block_list(db)
    expected = [("2026-05-01T10:00:00.000Z", "claude"), ("2026-05-01T11:00:00.000Z", "gemini")]
    assert expected == [(b["id"], b["provider"]) for b in found]


def test_one_provider_blocks_have_no_provider_key(db: sqlite3.Connection) -> None:
    """Only --provider all names the provider of each block."""
    (block,) = block_list(seed(db, claude("a", "2026-05-01T10:30:00+00:00")), provider="claude")
    assert "provider" not in block


# -- Codex's official window --------------------------------------------------------------------


def primary(resets_at: str, used: float = 42.0) -> LimitWindow:
    """Codex's 5-hour window as its logs report it, resetting at ``resets_at``."""
    return LimitWindow(
        provider="codex",
        window="primary",
        used_percent=used,
        observed_at=ms("2026-05-01T10:40:00+00:00") / 1000,
        source="local-official",
        resets_at=ms(resets_at) / 1000,
        window_seconds=18_000,
    )


def codex_active(
    db: sqlite3.Connection, resets_at: str, *earlier: UsageRecord
) -> sqlite3.Connection:
    """``earlier`` records, then Codex records at 10:10 and 10:40 and the official window
    resetting at ``resets_at``."""
    return seed(
        db,
        *earlier,
        codex("a", "2026-05-01T10:10:00+00:00"),
        codex("b", "2026-05-01T10:40:00+00:00"),
        limits=(primary(resets_at),),
    )


def test_active_codex_block_carries_the_official_window(db: sqlite3.Connection) -> None:
    """The active Codex block shows Codex's own window: its span, use and records inside it."""
    codex_active(db, "2026-05-01T15:20:00+00:00")
    (block,) = block_list(db, now=NOW, provider="codex")
    expected = {
        "window": "primary",
        "startTime": "2026-05-01T10:20:00.000Z",
        "endTime": "2026-05-01T15:20:00.000Z",
        "usedPercent": 42,
        "observedAt": "2026-05-01T10:40:00.000Z",
        "source": "local-official",
        "entries": 1,
        "totalTokens": 5500,
        "costUSD": 0.00945,
    }
    assert expected == block["officialWindow"]


def test_official_window_that_has_reset_is_left_out(db: sqlite3.Connection) -> None:
    """A window whose reset time has passed says nothing about now: no officialWindow."""
    codex_active(db, "2026-05-01T10:50:00+00:00")
    (block,) = block_list(db, now=NOW, provider="codex")
    assert "officialWindow" not in block


def test_official_window_only_on_the_active_block(db: sqlite3.Connection) -> None:
    """Finished Codex blocks carry no officialWindow."""
    codex_active(db, "2026-05-01T15:20:00+00:00", codex("old", "2026-04-30T10:00:00+00:00"))
    first = block_list(db, now=NOW, provider="codex")[0]
    assert "officialWindow" not in first


def five_hour() -> LimitWindow:
    """Claude's live 5-hour window at 37 %, resetting at 15:20."""
    return LimitWindow(
        provider="claude",
        window="five_hour",
        used_percent=37.0,
        observed_at=ms("2026-05-01T10:40:00+00:00") / 1000,
        source="live",
        resets_at=ms("2026-05-01T15:20:00+00:00") / 1000,
        window_seconds=18_000,
    )


def test_active_claude_block_carries_claude_five_hour_window(db: sqlite3.Connection) -> None:
    """Claude's live or statusline ``five_hour`` window joins Claude's active block."""
    seed(db, claude("a", "2026-05-01T10:30:00+00:00"), limits=(five_hour(),))
    (block,) = block_list(db, now=NOW, provider="claude")
    assert ("five_hour", 37, "live", 1) == tuple(
        block["officialWindow"][k] for k in ("window", "usedPercent", "source", "entries")
    )


def test_claude_five_hour_window_is_priced_as_claude(db: sqlite3.Connection) -> None:
    """Dollars in Claude's own window are Claude's prices: the block's cost, none unpriced."""
    seed(db, claude("a", "2026-05-01T10:30:00+00:00"), limits=(five_hour(),))
    report = blocks(db, now_ms=ms(NOW), provider="claude")
    (block,) = report["blocks"]
    assert (block["costUSD"], False) == (block["officialWindow"]["costUSD"], "unpriced" in report)


def test_all_providers_blocks_name_a_prefixed_codex_model_priced_as_known(
    db: sqlite3.Connection,
) -> None:
    """``aide-<codex model>`` in an --provider all blocks report is named in ``pricedAs``."""
    prefixed = f"aide-{CODEX}"
    observed = PriceObserved(
        provider="codex", model=prefixed, source=f"test, priced as {CODEX}", price=GPT_5_3_CODEX
    )
    Store(db).apply([observed])
    seed(
        db,
        claude("a", "2026-05-01T10:30:00+00:00"),
        codex("b", "2026-05-01T10:40:00+00:00", model=prefixed),
    )
    report = blocks(db, now_ms=ms(NOW))
    assert ({prefixed: CODEX}, False) == (report["pricedAs"], "unpriced" in report)
