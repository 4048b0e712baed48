"""What every report shares: options, providers, sums, pricing and the JSON pieces.

Kept free of heavy imports (no rich, no genai-prices, no msgspec, no ``dataclasses``):
``otm report daily --json`` loads this, and its start-up is most of its time. Committed prices
are read with ``msgpack_lite`` into ``costs.Price``; the classes are written out by hand.
"""

from __future__ import annotations

from datetime import date

from services.collector.model_names import PRICED_AS
from services.queries.costs import Price, cost_pusd, pusd_to_usd
from services.queries.msgpack_lite import decode_struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Sequence
    from typing import Any

    from bus.messages import ModelPrice

PROVIDERS = ("claude", "codex", "gemini")
"""Every provider, in the order ``providers`` lists and reports iterate them
(``bus.messages.PROVIDERS``, which the tests hold equal)."""
ALL = "all"
SYNTHETIC = ""
"""The model column of records naming no real model (Claude's ``<synthetic>``)."""
REASONING_OUTSIDE_OUTPUT = frozenset({"gemini"})
"""Providers whose reasoning tokens are not inside ``output`` but billed as output."""
ORDERS = ("asc", "desc")


class ReportError(ValueError):
    """A report option is wrong; the message says which and what to use instead."""


def providers_of(provider: str) -> tuple[str, ...]:
    """The providers a ``--provider`` value selects; ``ReportError`` for an unknown one."""
    if provider == ALL:
        return PROVIDERS
    if provider not in PROVIDERS:
        choices = "|".join((*PROVIDERS, ALL))
        raise ReportError(f"provider {provider!r}: use one of {choices}")
    return (provider,)


def check_order(order: str | None, default: str) -> str:
    """``order`` (or the report's own default when ``None``); ``ReportError`` if not asc/desc."""
    if order is None:
        return default
    if order not in ORDERS:
        raise ReportError(f"order {order!r}: use 'asc' or 'desc'")
    return order


FIRST_DATE = date(1970, 1, 2)
LAST_DATE = date(9998, 12, 31)


def normalise_date(value: str | None, option: str) -> str | None:
    """Accept ``YYYYMMDD`` or ``YYYY-MM-DD`` (as ccusage does) and return ``YYYY-MM-DD``."""
    if value is None:
        return None
    digits = value.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        raise ReportError(f"{option} {value!r}: use YYYYMMDD or YYYY-MM-DD")
    text = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{option} {value!r} is not a calendar date") from None
    # Dates at the ends of the calendar overflow once shifted into a time zone.
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ReportError(f"{option} {value!r} is out of range: use {FIRST_DATE} to {LAST_DATE}")
    return text


def in_range(day: str, since: str | None, until: str | None) -> bool:
    """Whether the local date ``day`` lies in the inclusive ``since``..``until`` range."""
    return not ((since and day < since) or (until and day > until))


def placeholders(values: Sequence[object]) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``values``."""
    return ", ".join("?" * len(values))


# -- prices -----------------------------------------------------------------------------------

if TYPE_CHECKING:
    Prices = dict[tuple[str, str], ModelPrice | Price | None]


def load_prices(conn: sqlite3.Connection, providers: Iterable[str]) -> Prices:
    """The committed price of every ``(provider, model)`` (``None`` = known to be unpriced)."""
    wanted = tuple(providers)
    return {
        (provider, model): None if blob is None else decode_price(bytes(blob))
        for provider, model, blob in conn.execute(
            f"SELECT provider, model, price FROM prices WHERE provider IN ({placeholders(wanted)})",
            wanted,
        )
    }


def load_priced_as(
    conn: sqlite3.Connection, providers: Iterable[str]
) -> dict[tuple[str, str], str]:
    """The known model each ``(provider, model)`` no price list knows by its own name is
    priced as (``aide-gpt-5`` as ``gpt-5``), from its committed price's ``source``."""
    wanted = tuple(providers)
    rows = conn.execute(
        "SELECT provider, model, source FROM prices WHERE price IS NOT NULL"
        f" AND provider IN ({placeholders(wanted)}) AND instr(source, ?) > 0",
        (*wanted, PRICED_AS),
    )
    return {(p, m): str(source).rsplit(PRICED_AS, 1)[1] for p, m, source in rows}


def decode_price(blob: bytes) -> Price:
    """A committed ``ModelPrice`` blob as a ``Price``; ``ValueError`` if it is not one. Fields
    a newer writer added are ignored, as msgspec ignores them for ``ModelPrice``."""
    fields = decode_struct(blob, "price")
    if fields is None:
        raise ValueError("a committed price is not a ModelPrice")
    try:
        return Price(**{k: v for k, v in fields.items() if k in Price._fields})
    except TypeError:
        raise ValueError("a committed price is not a ModelPrice") from None


# -- sums -------------------------------------------------------------------------------------


class Fields:
    """Equality and a repr by field for the slotted classes here (what ``@dataclass`` gave
    them; the module and the ``inspect`` it loads cost a one-shot report some 5 ms)."""

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({shown})"


class Sums(Fields):
    """Token counts and exact cost of any group of records, in the report's field meanings.

    ``input`` is the provider's non-cached input (Gemini: plus tool-use prompt tokens),
    ``cache_creation`` both cache writes, ``reasoning`` the separately reported reasoning,
    ``total`` the sum of the projection's ``total`` column (the CLI's own total).
    """

    __slots__ = (
        "cache_creation",
        "cache_read",
        "cost_pusd",
        "input",
        "output",
        "reasoning",
        "total",
    )

    def __init__(
        self,
        input: int = 0,
        output: int = 0,
        cache_creation: int = 0,
        cache_read: int = 0,
        reasoning: int = 0,
        total: int = 0,
        cost_pusd: int = 0,
    ) -> None:
        self.input = input
        self.output = output
        self.cache_creation = cache_creation
        self.cache_read = cache_read
        self.reasoning = reasoning
        self.total = total
        self.cost_pusd = cost_pusd

    def add(self, other: Sums) -> None:
        """Add ``other`` field by field."""
        self.input += other.input
        self.output += other.output
        self.cache_creation += other.cache_creation
        self.cache_read += other.cache_read
        self.reasoning += other.reasoning
        self.total += other.total
        self.cost_pusd += other.cost_pusd


class Group(Fields):
    """One projection row (or a sum of rows) of a single provider, model, speed and tier.

    ``web_searches`` are not tokens: they add to the cost only (per search), never to a count.
    """

    __slots__ = (
        "cache_read",
        "cache_write_1h",
        "cache_write_5m",
        "fast",
        "input",
        "long_context",
        "model",
        "output",
        "provider",
        "reasoning",
        "total",
        "web_searches",
    )

    def __init__(
        self,
        provider: str,
        model: str,
        fast: int,
        long_context: int,
        input: int,
        output: int,
        cache_write_5m: int,
        cache_write_1h: int,
        cache_read: int,
        reasoning: int,
        total: int,
        web_searches: int = 0,
    ) -> None:
        self.provider = provider
        self.model = model
        self.fast = fast
        self.long_context = long_context
        self.input = input
        self.output = output
        self.cache_write_5m = cache_write_5m
        self.cache_write_1h = cache_write_1h
        self.cache_read = cache_read
        self.reasoning = reasoning
        self.total = total
        self.web_searches = web_searches

    @property
    def label(self) -> str:
        """The model as reports show it: fast-mode requests as ``<model>-fast`` (as ccusage)."""
        return f"{self.model}-fast" if self.fast else self.model


class Pricer(Fields):
    """Prices groups of records as each provider bills them, and notes unpriced models."""

    __slots__ = ("priced_as", "prices", "unpriced", "used_as")

    def __init__(
        self,
        prices: Prices,
        unpriced: dict[tuple[str, str], int] | None = None,
        priced_as: dict[tuple[str, str], str] | None = None,
    ) -> None:
        self.prices = prices
        self.unpriced: dict[tuple[str, str], int] = {} if unpriced is None else unpriced
        self.priced_as: dict[tuple[str, str], str] = {} if priced_as is None else priced_as
        """The known model each prefixed or suffixed name is priced as (``load_priced_as``)."""
        self.used_as: dict[tuple[str, str], str] = {}
        """Those of ``priced_as`` that priced a group so far: what the report says it did."""

    @classmethod
    def load(cls, conn: sqlite3.Connection, providers: Iterable[str]) -> Pricer:
        """A pricer over the committed prices of ``providers``, knowing which are priced as
        another model."""
        wanted = tuple(providers)
        return cls(load_prices(conn, wanted), priced_as=load_priced_as(conn, wanted))

    def sums(self, g: Group) -> Sums:
        """The group's report fields and its cost; an unknown price costs 0 and is noted."""
        sums = Sums(
            g.input,
            g.output,
            g.cache_write_5m + g.cache_write_1h,
            g.cache_read,
            g.reasoning,
            g.total,
        )
        price = self.prices.get((g.provider, g.model))
        if price is not None:
            sums.cost_pusd = cost_pusd(
                price,
                input=g.input,
                output=g.output,
                cache_write_5m=g.cache_write_5m,
                cache_write_1h=g.cache_write_1h,
                cache_read=g.cache_read,
                reasoning_billed=g.reasoning if g.provider in REASONING_OUTSIDE_OUTPUT else 0,
                web_searches=g.web_searches,
                long_context=bool(g.long_context),
                fast=bool(g.fast),
            )
            known = self.priced_as.get((g.provider, g.model))
            if known is not None:
                self.used_as[(g.provider, g.model)] = known
        elif g.model != SYNTHETIC:
            key = (g.provider, g.model)
            self.unpriced[key] = self.unpriced.get(key, 0) + g.total
        return sums


class ModelSums(Fields):
    """One model's share of a row: its sums and when it was first used."""

    __slots__ = ("first_ts", "provider", "sums")

    def __init__(self, provider: str, first_ts: int, sums: Sums | None = None) -> None:
        self.provider = provider
        self.first_ts = first_ts
        self.sums = Sums() if sums is None else sums


class Row(Fields):
    """One report row (a period, a session, a project): totals, models and providers."""

    __slots__ = ("first_ts", "last_ts", "models", "providers", "totals")

    def __init__(
        self,
        totals: Sums | None = None,
        models: dict[tuple[str, str], ModelSums] | None = None,
        providers: set[str] | None = None,
        first_ts: int | None = None,
        last_ts: int | None = None,
    ) -> None:
        self.totals = Sums() if totals is None else totals
        self.models: dict[tuple[str, str], ModelSums] = {} if models is None else models
        self.providers: set[str] = set() if providers is None else providers
        self.first_ts = first_ts
        self.last_ts = last_ts

    def add(self, g: Group, sums: Sums, first_ts: int, last_ts: int | None = None) -> None:
        """Add one priced group, first used at ``first_ts`` (last used at ``last_ts``)."""
        self.totals.add(sums)
        self.providers.add(g.provider)
        self.first_ts = first_ts if self.first_ts is None else min(self.first_ts, first_ts)
        last = first_ts if last_ts is None else last_ts
        self.last_ts = last if self.last_ts is None else max(self.last_ts, last)
        if g.model == SYNTHETIC:
            return
        key = (g.provider, g.label)
        entry = self.models.get(key)
        if entry is None:
            entry = self.models[key] = ModelSums(g.provider, first_ts)
        entry.sums.add(sums)
        entry.first_ts = min(entry.first_ts, first_ts)

    def merge(self, other: Row) -> None:
        """Fold another row in (e.g. days into a week, sessions into a project)."""
        self.totals.add(other.totals)
        self.providers |= other.providers
        for stamp in (other.first_ts, other.last_ts):
            if stamp is None:
                continue
            self.first_ts = stamp if self.first_ts is None else min(self.first_ts, stamp)
            self.last_ts = stamp if self.last_ts is None else max(self.last_ts, stamp)
        for key, theirs in other.models.items():
            mine = self.models.get(key)
            if mine is None:
                mine = self.models[key] = ModelSums(theirs.provider, theirs.first_ts)
            mine.sums.add(theirs.sums)
            mine.first_ts = min(mine.first_ts, theirs.first_ts)


# -- JSON -------------------------------------------------------------------------------------


class Shape(Fields):
    """Which optional keys a report carries, fixed by its ``--provider``.

    ``reasoning``: ``reasoningTokens`` (every provider but ``claude``, whose JSON stays
    byte-compatible with ``ccusage claude``). ``multi``: ``--provider all``, which adds
    ``providers`` to rows and ``provider`` to model breakdowns, blocks and unpriced entries.
    """

    __slots__ = ("multi", "reasoning")

    def __init__(self, reasoning: bool, multi: bool) -> None:
        self.reasoning = reasoning
        self.multi = multi

    @classmethod
    def of(cls, provider: str) -> Shape:
        """The shape of a report for this ``--provider`` value."""
        return cls(reasoning=provider != "claude", multi=provider == ALL)


def tokens_json(sums: Sums, shape: Shape) -> dict[str, Any]:
    """The token fields and ``totalCost`` of a row or of the totals, in ccusage's order."""
    out: dict[str, Any] = {
        "inputTokens": sums.input,
        "outputTokens": sums.output,
        "cacheCreationTokens": sums.cache_creation,
        "cacheReadTokens": sums.cache_read,
    }
    if shape.reasoning:
        out["reasoningTokens"] = sums.reasoning
    out["totalTokens"] = sums.total
    out["totalCost"] = pusd_to_usd(sums.cost_pusd)
    return out


def models_json(row: Row, shape: Shape) -> dict[str, Any]:
    """``modelsUsed`` (first use order) and ``modelBreakdowns`` (cost, descending)."""
    first_seen = sorted(row.models, key=lambda k: (row.models[k].first_ts, k))
    used: list[str] = []
    for _, label in first_seen:
        if label not in used:
            used.append(label)
    by_cost = sorted(row.models, key=lambda k: (-row.models[k].sums.cost_pusd, k[1], k[0]))
    breakdowns = []
    for key in by_cost:
        s = row.models[key].sums
        item: dict[str, Any] = {"modelName": key[1]}
        if shape.multi:
            item["provider"] = key[0]
        item.update(
            inputTokens=s.input,
            outputTokens=s.output,
            cacheCreationTokens=s.cache_creation,
            cacheReadTokens=s.cache_read,
        )
        if shape.reasoning:
            item["reasoningTokens"] = s.reasoning
        item["cost"] = pusd_to_usd(s.cost_pusd)
        breakdowns.append(item)
    return {"modelsUsed": used, "modelBreakdowns": breakdowns}


def row_json(head: dict[str, Any], row: Row, shape: Shape) -> dict[str, Any]:
    """A full row: its key fields, tokens and cost, models, and (all providers) ``providers``."""
    out = {**head, **tokens_json(row.totals, shape), **models_json(row, shape)}
    if shape.multi:
        out["providers"] = [p for p in PROVIDERS if p in row.providers]
    return out


def finish(
    report: dict[str, Any], pricer: Pricer, shape: Shape, totals: Sums | None = None
) -> dict[str, Any]:
    """Add ``totals`` (when given), only if some model has no price ``unpriced``, and only if
    some model was priced as a known model inside its name ``pricedAs`` (``{model: known}``:
    a key ccusage does not have, so its own keys stay as they are)."""
    if totals is not None:
        report["totals"] = tokens_json(totals, shape)
    if pricer.unpriced:
        items = []
        for (provider, model), tokens in sorted(pricer.unpriced.items(), key=lambda i: i[0][::-1]):
            item: dict[str, Any] = {"model": model, "tokens": tokens}
            if shape.multi:
                item = {"provider": provider, **item}
            items.append(item)
        report["unpriced"] = items
    if pricer.used_as:
        report["pricedAs"] = {
            model: known
            for (_, model), known in sorted(pricer.used_as.items(), key=lambda i: i[0][::-1])
        }
    return report
