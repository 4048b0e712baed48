"""Builders for the report tests: records of each provider, prices, and seeding a store.

Every report reads projections only, so the tests commit observations through the real
``Store`` (as the store process does) and then query the database.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from bus.messages import LimitWindow, ModelPrice, PriceObserved, UsageRecord
from services.store.writer import Store
from tests.helpers import SONNET_4_5, batch, record

SONNET = "claude-sonnet-4-5"
CODEX = "gpt-5.3-codex"
CODEX_LONG = "gpt-5.4"
GEMINI = "gemini-2.5-pro"

GPT_5_3_CODEX = ModelPrice(
    input="1.75", output="14", cache_write_5m="0", cache_write_1h="0", cache_read="0.175"
)
"""OpenAI's GPT-5.3-Codex: $1.75 input, $0.175 cached input, $14 output (reasoning included)."""
GPT_5_4 = ModelPrice(
    input="2.5",
    output="15",
    cache_write_5m="0",
    cache_write_1h="0",
    cache_read="0.25",
    long_context_threshold=272_000,
    long_context_input="5",
    long_context_output="22.5",
    long_context_cache_read="0.5",
)
"""GPT-5.4: prompts over 272k tokens cost 2x input and 1.5x output on the whole request."""
GEMINI_2_5_PRO = ModelPrice(
    input="1.25",
    output="10",
    cache_write_5m="0",
    cache_write_1h="0",
    cache_read="0.125",
    long_context_threshold=200_000,
    long_context_input="2.5",
    long_context_output="15",
    long_context_cache_read="0.25",
)
"""Gemini 2.5 Pro: $1.25/$10 (thoughts billed as output), $2.50/$15 above 200k prompt tokens."""

PRICES: dict[tuple[str, str], ModelPrice | None] = {
    ("claude", SONNET): SONNET_4_5,
    ("claude", "cheap"): ModelPrice(
        input="1", output="1", cache_write_5m="1", cache_write_1h="1", cache_read="0"
    ),
    ("claude", "dear"): ModelPrice(
        input="10", output="10", cache_write_5m="10", cache_write_1h="10", cache_read="0"
    ),
    ("codex", CODEX): GPT_5_3_CODEX,
    ("codex", CODEX_LONG): GPT_5_4,
    ("gemini", GEMINI): GEMINI_2_5_PRO,
}


def ms(iso: str) -> int:
    """Epoch milliseconds of an ISO timestamp with an explicit offset."""
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def claude(key: str, iso: str, **fields: Any) -> UsageRecord:
    """A Claude Sonnet record at ``iso`` (1000 input, 0 output unless told)."""
    values: dict[str, Any] = {"model": SONNET, "input": 1000, "output": 0}
    values.update(fields)
    return record(f"claude:{key}", ts_ms=ms(iso), **values)


def codex(key: str, iso: str, **fields: Any) -> UsageRecord:
    """A Codex record as its adapter writes it: ``input`` non-cached, ``total`` logged."""
    values: dict[str, Any] = {
        "provider": "codex",
        "model": CODEX,
        "project": "/home/u/proj",
        "session": "2026/05/01/rollout-1",
        "input": 1000,
        "output": 500,
        "cache_read": 4000,
        "reasoning": 200,
        "total": 5500,
    }
    values.update(fields)
    return record(f"codex:{key}", ts_ms=ms(iso), **values)


def gemini(key: str, iso: str, **fields: Any) -> UsageRecord:
    """A Gemini record as its adapter writes it (FORMATS 4.3's worked example by default)."""
    values: dict[str, Any] = {
        "provider": "gemini",
        "model": GEMINI,
        "project": "proj-slug",
        "session": "aaaa1111",
        "input": 3808,
        "output": 23,
        "cache_read": 11526,
        "reasoning": 919,
        "total": 16276,
    }
    values.update(fields)
    return record(f"gemini:{key}", ts_ms=ms(iso), **values)


def seed(
    db: sqlite3.Connection,
    *records: UsageRecord,
    prices: dict[tuple[str, str], ModelPrice | None] = PRICES,
    limits: tuple[LimitWindow, ...] = (),
) -> sqlite3.Connection:
    """Commit ``prices``, then ``records`` (and ``limits``) through the real store."""
    observed = [
        PriceObserved(provider=p, model=m, source="test", price=price)
        for (p, m), price in prices.items()
    ]
    committed, _, rejected = Store(db).apply([*observed, batch(records, None, 100, limits=limits)])
    assert ([], len(observed) + 1) == (rejected, len(committed))
    return db


def rows(report: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The rows of a report under ``key``."""
    found: list[dict[str, Any]] = report[key]
    return found
