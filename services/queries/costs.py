"""Cost arithmetic over token sums: exact integer pico-dollars from a ``ModelPrice``.

Pure and fast, for query time: no genai-prices import, no floats until display. A price is USD
per million tokens, so one token costs ``price * 10**6`` pico-dollars (1 pUSD = 1e-12 USD), an
exact integer for any price with at most six decimal places, which covers every published price.
Sums of integers are exact in any order, so a report equals the sum of its rows.

The caller aggregates tokens separately for requests over the long-context threshold (see
``bills_long_context``) and for fast-mode requests, and prices each group with the flags set.
"""

from __future__ import annotations

from collections import namedtuple
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

Price = namedtuple(
    "Price",
    (
        "input",
        "output",
        "cache_write_5m",
        "cache_write_1h",
        "cache_read",
        "long_context_threshold",
        "long_context_input",
        "long_context_output",
        "long_context_cache_write_5m",
        "long_context_cache_write_1h",
        "long_context_cache_read",
        "fast_multiplier",
        "web_searches_kcount",
    ),
    defaults=(None, None, None, None, None, None, "1", "0"),
)
"""A ``ModelPrice`` without msgspec (reports read committed prices with
``services.queries.msgpack_lite``): the same fields, order and defaults, which the tests hold
equal. Hashable, so ``price_table`` caches it as it caches a ``ModelPrice``."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bus.messages import ModelPrice

    AnyPrice = ModelPrice | Price

PUSD_PER_USD = 10**12
# USD per million tokens -> pico-dollars per token: 1e12 / 1e6.
_PUSD_PER_TOKEN_PER_USD_PER_MTOK = 10**6
# USD per 1,000 web searches -> pico-dollars per search: 1e12 / 1e3.
_PUSD_PER_SEARCH_PER_USD_PER_K = 10**9


class Rates:
    """Pico-dollars per token for each category, for one (long-context, fast) combination.

    (A plain class, not a dataclass: the ``dataclasses`` module and the ``inspect`` it imports
    cost a one-shot report some 5 ms.)
    """

    __slots__ = ("cache_read", "cache_write_1h", "cache_write_5m", "input", "output")

    def __init__(
        self, *, input: int, output: int, cache_write_5m: int, cache_write_1h: int, cache_read: int
    ) -> None:
        self.input = input
        self.output = output
        self.cache_write_5m = cache_write_5m
        self.cache_write_1h = cache_write_1h
        self.cache_read = cache_read

    def cost(
        self, *, input: int, output: int, cache_write_5m: int, cache_write_1h: int, cache_read: int
    ) -> int:
        """The cost of these token counts, in pico-dollars."""
        return (
            input * self.input
            + output * self.output
            + cache_write_5m * self.cache_write_5m
            + cache_write_1h * self.cache_write_1h
            + cache_read * self.cache_read
        )


class PriceTable:
    """A ``ModelPrice`` as per-token integer rates, computed once (Decimal is used only here).

    ``web_search`` is pico-dollars per web search: one flat fee, whatever the tier or speed.
    """

    __slots__ = ("fast", "fast_long_context", "long_context", "standard", "web_search")

    def __init__(
        self,
        *,
        standard: Rates,
        long_context: Rates,
        fast: Rates,
        fast_long_context: Rates,
        web_search: int = 0,
    ) -> None:
        self.standard = standard
        self.long_context = long_context
        self.fast = fast
        self.fast_long_context = fast_long_context
        self.web_search = web_search

    @classmethod
    def from_price(cls, price: AnyPrice) -> PriceTable:
        """Precompute the four rate sets.

        A category with no ``long_context_*`` price (or a price with no threshold) keeps its
        base price over the threshold. The fast multiplier scales the whole request, the
        long-context rates included.

        A rate that is not a whole number of pico-dollars per token (a price with more than six
        decimal places, e.g. an override scaled by an odd factor) is rounded half-even to the
        nearest pico-dollar per token: an error below $0.0000005 per million tokens.

        Web searches cost ``web_searches_kcount`` per 1,000 (Anthropic bills them apart from
        tokens, at one rate for every tier and speed).
        """
        fast = _decimal(price.fast_multiplier, "fast_multiplier")
        standard = _prices(price, long_context=False)
        long_context = _prices(price, long_context=True)
        search = _decimal(price.web_searches_kcount, "web_searches_kcount")
        return cls(
            standard=_rates(standard, Decimal(1)),
            long_context=_rates(long_context, Decimal(1)),
            fast=_rates(standard, fast),
            fast_long_context=_rates(long_context, fast),
            web_search=int(
                (search * _PUSD_PER_SEARCH_PER_USD_PER_K).to_integral_value(
                    rounding=ROUND_HALF_EVEN
                )
            ),
        )

    def rates(self, *, long_context: bool, fast: bool) -> Rates:
        """The rate set for requests over (or not over) the threshold, in (or not in) fast mode."""
        if fast:
            return self.fast_long_context if long_context else self.fast
        return self.long_context if long_context else self.standard


def _prices(price: AnyPrice, *, long_context: bool) -> tuple[str, str, str, str, str]:
    """Category prices (USD/MTok strings) in ``Rates`` order, over or under the threshold."""
    base = (
        price.input,
        price.output,
        price.cache_write_5m,
        price.cache_write_1h,
        price.cache_read,
    )
    if not long_context or price.long_context_threshold is None:
        return base
    long = (
        price.long_context_input,
        price.long_context_output,
        price.long_context_cache_write_5m,
        price.long_context_cache_write_1h,
        price.long_context_cache_read,
    )
    inp, out, cw5, cw1, cr = (
        tier if tier is not None else b for tier, b in zip(long, base, strict=True)
    )
    return inp, out, cw5, cw1, cr


def _rates(prices: tuple[str, str, str, str, str], multiplier: Decimal) -> Rates:
    inp, out, cw5, cw1, cr = (_pusd_per_token(p, multiplier) for p in prices)
    return Rates(input=inp, output=out, cache_write_5m=cw5, cache_write_1h=cw1, cache_read=cr)


def _pusd_per_token(usd_per_mtok: str, multiplier: Decimal) -> int:
    exact = _decimal(usd_per_mtok, "price") * multiplier * _PUSD_PER_TOKEN_PER_USD_PER_MTOK
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def _decimal(text: str, what: str) -> Decimal:
    """Parse a price string; a malformed, negative or non-finite one is a bug upstream."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{what} {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what} {text!r} must be a finite number, zero or more")
    return value


@lru_cache(maxsize=512)
def price_table(price: AnyPrice) -> PriceTable:
    """The cached ``PriceTable`` of ``price`` (a frozen struct, so hashable)."""
    return PriceTable.from_price(price)


def cost_pusd(
    price: AnyPrice,
    *,
    input: int = 0,
    output: int = 0,
    cache_write_5m: int = 0,
    cache_write_1h: int = 0,
    cache_read: int = 0,
    reasoning_billed: int = 0,
    web_searches: int = 0,
    long_context: bool,
    fast: bool,
) -> int:
    """The cost in pico-dollars of these token counts, all from requests of one kind.

    ``long_context``: the requests' prompts exceeded the threshold, so every category is billed
    at its long-context price (ignored when the model has no tier). ``fast``: they ran in fast
    mode, so every category is multiplied by ``price.fast_multiplier``. ``reasoning_billed``:
    reasoning tokens that are *not* already inside ``output`` but billed as output (Gemini's
    ``thoughts``); Codex reasoning is inside ``output`` and must not be passed here.
    ``web_searches``: server-side web searches, each at the flat per-search price.
    """
    table = price_table(price)
    rates = table.rates(long_context=long_context, fast=fast)
    return (
        rates.cost(
            input=input,
            output=output + reasoning_billed,
            cache_write_5m=cache_write_5m,
            cache_write_1h=cache_write_1h,
            cache_read=cache_read,
        )
        + web_searches * table.web_search
    )


def bills_long_context(price: AnyPrice | None, prompt_tokens: int) -> bool:
    """Whether a request whose whole prompt was ``prompt_tokens`` is billed at long-context rates.

    The prompt is input + both cache writes + cache reads (``UsageRecord.prompt_tokens``). The
    comparison is strict, as Anthropic bills "requests that exceed 200K input tokens" and as
    genai-prices compares (``total_input_tokens > tier.start``): exactly 200,000 is not long.
    """
    if price is None or price.long_context_threshold is None:
        return False
    return prompt_tokens > price.long_context_threshold


def pusd_to_usd(pusd: int) -> float:
    """Pico-dollars as a float of USD, for display and JSON only (never sum the floats)."""
    return pusd / PUSD_PER_USD
