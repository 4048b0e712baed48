"""Keeping the store's price for every model in line with genai-prices and the config.

Prices are events too, so a report's dollars are a function of the log. The collector announces
the price of each model the first time it meets it, and every few seconds compares the committed
prices with what it would announce now: a lost message or a changed override heals itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from bus.messages import ModelPrice, PriceObserved, UsageRecord
from services.collector.price_child import Resolver, resolve_here
from services.collector.price_resolution import pricing_fingerprint
from services.runtime.config import PriceOverride
from services.store.trouble import UNWRITABLE, classify, describe

STAMP_NAME = "prices.fingerprint"


def _logger() -> Any:
    """The collector's logger. structlog is imported only to log: a one-shot command's
    catch-up that keeps prices without logging skips its ~0.2 s import."""
    import structlog

    return structlog.get_logger().bind(process="collector")


_price_decoder = msgspec.msgpack.Decoder(ModelPrice)


class PriceKeeper:
    """Announces prices for new models and repairs drift from the committed ones."""

    def __init__(
        self, overrides: Mapping[str, PriceOverride], resolver: Resolver = resolve_here
    ) -> None:
        self.overrides = overrides
        self.resolver = resolver
        """How prices are worked out: here, or in a child (``services.collector.price_child``)."""
        self.announced: set[tuple[str, str]] = set()
        self._waiting: dict[tuple[str, str], None] = {}
        self._resolved: dict[tuple[str, str], PriceObserved] = {}
        """Every price worked out so far: the overrides and genai-prices cannot change under a
        running process, so a model is resolved once and each drift check is a comparison."""

    def resolve(self, models: Iterable[tuple[str, str]]) -> list[PriceObserved]:
        """The price of each model, asking the resolver only about models not resolved yet."""
        wanted = list(models)
        new = list(dict.fromkeys(m for m in wanted if m not in self._resolved))
        if new:
            self._resolved.update(zip(new, self.resolver(new, self.overrides), strict=True))
        return [self._resolved[m] for m in wanted]

    def known(self, conn: sqlite3.Connection) -> None:
        """Count every model with a committed price as announced: for a caller that knows the
        committed prices are current (``PriceStamp.current``), so only new models are priced."""
        try:
            self.announced.update(conn.execute("SELECT provider, model FROM prices").fetchall())
        except sqlite3.Error:
            return

    def note(self, records: Iterable[UsageRecord]) -> None:
        """Remember models met in these records; ``flush`` prices the new ones later."""
        for record in records:
            if record.model and (record.provider, record.model) not in self.announced:
                self.announced.add((record.provider, record.model))
                self._waiting[(record.provider, record.model)] = None

    def flush(self) -> list[PriceObserved]:
        """Price observations for the models noted since the last flush."""
        out = self.resolve(self._waiting)
        self._waiting.clear()
        return out

    def new_models(self, records: Iterable[UsageRecord]) -> list[PriceObserved]:
        """Price observations for models not announced yet by this process."""
        self.note(records)
        return self.flush()

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
        return [
            observed
            for observed in self.resolve((p, m) for p, m in models)
            if committed.get((observed.provider, observed.model))
            != (observed.source, observed.price)
        ]


class PriceStamp:
    """A file saying "committed prices match these overrides and this genai-prices".

    Whoever last checked for drift and found none writes it (the collector, or a one-shot
    command's catch-up), so a one-shot command skips the ~0.2 s of loading genai-prices when
    nothing that prices depend on has changed.
    """

    def __init__(
        self, run_dir: Path, overrides: Mapping[str, PriceOverride], *, log: bool = True
    ) -> None:
        self.path = run_dir / STAMP_NAME
        self.fingerprint = pricing_fingerprint(overrides)
        self.log = log
        """Log a failed write (the collector); one-shot commands keep stdout clean."""
        self.problem: str | None = None
        """Why the last write failed (a full disk), None once one worked."""

    @property
    def current(self) -> bool:
        """Whether the stamp matches the present overrides and genai-prices."""
        try:
            return self.path.read_text() == self.fingerprint
        except OSError:
            return False

    def mark_current(self) -> bool:
        """Record that the committed prices are up to date; False if the file could not be
        written (a full disk: nothing is lost, the next check simply runs again). One log
        line when writing starts failing and one when it works again."""
        if self.current:
            return True
        try:
            self.path.write_text(self.fingerprint)
        except OSError as exc:
            problem = describe(classify(exc) or UNWRITABLE, self.path, exc)
            if self.log and self.problem is None:
                _logger().warning("price_stamp_unwritable", path=str(self.path), message=problem)
            self.problem = problem
            return False
        if self.log and self.problem is not None:
            _logger().info("price_stamp_written", path=str(self.path))
        self.problem = None
        return True
