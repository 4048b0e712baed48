"""Keeping the store's price for every model in line with genai-prices and the config.

Prices are events too, so a report's dollars are a function of the log. The collector announces
the price of each model the first time it meets it, and every few seconds compares the committed
prices with what it would announce now: a lost message or a changed override heals itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

import msgspec

from bus.messages import ModelPrice, PriceObserved, UsageRecord
from otm.config import PriceOverride
from services.collector.pricing import resolve_price

_price_decoder = msgspec.msgpack.Decoder(ModelPrice)


class PriceKeeper:
    """Announces prices for new models and repairs drift from the committed ones."""

    def __init__(self, overrides: Mapping[str, PriceOverride]) -> None:
        self.overrides = overrides
        self.announced: set[tuple[str, str]] = set()

    def new_models(self, records: Iterable[UsageRecord]) -> list[PriceObserved]:
        """Price observations for models not announced yet by this process."""
        out = []
        for record in records:
            if record.model and (record.provider, record.model) not in self.announced:
                self.announced.add((record.provider, record.model))
                out.append(resolve_price(record.provider, record.model, self.overrides))
        return out

    def drift(self, conn: sqlite3.Connection | None) -> list[PriceObserved]:
        """Observations for models whose committed price is missing or differs from ours."""
        if conn is None:
            return []
        try:
            models = conn.execute(
                "SELECT DISTINCT provider, model FROM usage_by_session WHERE model != ''"
            ).fetchall()
            committed = {
                (p, m): (source, None if blob is None else _price_decoder.decode(blob))
                for p, m, source, blob in conn.execute(
                    "SELECT provider, model, source, price FROM prices"
                )
            }
        except sqlite3.Error:
            return []
        out = []
        for provider, model in models:
            observed = resolve_price(provider, model, self.overrides)
            if committed.get((provider, model)) != (observed.source, observed.price):
                out.append(observed)
        return out
