"""Price resolution: genai-prices' catalogue plus the user's overrides, as one ``ModelPrice``.

Runs in the collector, once per (model, override) per process. The result is what the provider
bills (not what ccusage computes): five token categories, a long-context "cliff" tier that
reprices every category of a request whose whole prompt exceeds the threshold, and a fast-mode
multiplier. Cost arithmetic over the result lives in ``services.queries.costs``.

Rules, in order:

1. genai-prices (bundled snapshot, prices in force now) gives each category's base price and,
   where it has a ``TieredPrices`` cliff, the long-context price and threshold.
2. ``[pricing.overrides."<exact model string>"]`` replaces categories one by one. An override is
   a base price; where genai-prices has a long-context price for that category it is scaled by
   the same factor, because providers publish long-context rates as multiples of the base rate
   (Anthropic: 2x input, 1.5x output), so overriding ``input`` also moves the >200k input rate.
3. Categories still missing get defaults derived from the input price (``_DEFAULT_FACTORS``).
4. Without both an input and an output price the model is unpriced (``price=None``), never $0.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from bus.messages import ModelPrice, PriceObserved
from services.collector.model_names import PRICED_AS, known_within
from services.runtime.config import PriceOverride

if TYPE_CHECKING:
    from genai_prices.types import ModelPrice as GenaiModelPrice
    from genai_prices.types import TieredPrices

GENAI_PRICES_DIST = "genai-prices"

# Bump whenever a rule in this module changes (defaults, fast table, provider map), so
# pricing_fingerprint() tells callers to re-resolve even though genai-prices did not move.
RULES_VERSION = "3"

# The project's provider names -> genai-prices provider ids. Any other name is passed through.
_GENAI_PROVIDER: dict[str, str] = {"claude": "anthropic", "codex": "openai", "gemini": "google"}

# Our categories, in ModelPrice order -> genai-prices price keys, most specific first.
# genai-prices calls the 5-minute write "cache_write_mtok" (its cache_write minus the 1h part).
_GENAI_KEYS: dict[str, tuple[str, ...]] = {
    "input": ("input_mtok",),
    "output": ("output_mtok",),
    "cache_write_5m": ("cache_write_5m_mtok", "cache_write_mtok"),
    "cache_write_1h": ("cache_write_1h_mtok",),
    "cache_read": ("cache_read_mtok",),
}

# Our categories -> PriceOverride fields (config.toml says "cache_write" for the 5-minute write).
_OVERRIDE_FIELDS: dict[str, str] = {
    "input": "input",
    "output": "output",
    "cache_write_5m": "cache_write",
    "cache_write_1h": "cache_write_1h",
    "cache_read": "cache_read",
}

# Defaults for a cache category neither genai-prices nor the config prices, as multiples of the
# input price. Anthropic publishes fixed prompt-caching multipliers (5-minute write 1.25x, 1-hour
# write 2x, read 0.1x); ccusage uses the same. For other providers we know no rule, so a cache
# token is billed as plain input: never cheaper than the truth (OpenAI and Google bill no cache
# writes on the paths the CLIs use, and a model without a cached-input price gets no discount).
_ANTHROPIC_FACTORS: dict[str, Decimal] = {
    "cache_write_5m": Decimal("1.25"),
    "cache_write_1h": Decimal("2"),
    "cache_read": Decimal("0.1"),
}
_PLAIN_INPUT_FACTORS: dict[str, Decimal] = dict.fromkeys(_ANTHROPIC_FACTORS, Decimal(1))
# OpenAI bills cache writes (Codex's ``cache_write_input_tokens``, late 2026) at 1.25x input
# where it bills them at all (GPT-5.6); ccusage 20.0.24 prices them so for every model too.
_OPENAI_FACTORS: dict[str, Decimal] = _PLAIN_INPUT_FACTORS | {"cache_write_5m": Decimal("1.25")}
_DEFAULT_FACTORS: dict[str, dict[str, Decimal]] = {
    "anthropic": _ANTHROPIC_FACTORS,
    "openai": _OPENAI_FACTORS,
}

# genai-prices' request context selecting fast mode, per provider. Anthropic calls it
# ``speed: fast``; Codex's fast mode is OpenAI's priority processing tier.
_FAST_CONTEXT: dict[str, dict[str, str]] = {
    "anthropic": {"speed": "fast"},
    "openai": {"service_tier": "priority"},
}

# Fast-mode multipliers for models genai-prices (0.2.3) has no fast variant for, keyed by the
# genai-prices model id (so dated snapshots such as "-20260205" resolve too). Opus 4.6 fast mode
# is $30/$150 per MTok against $5/$25: 6x every category, prompt-caching multipliers on top
# (Anthropic's fast-mode pricing). Opus 4.7 x6 follows ccusage's built-in table. Everything
# else is x1 unless genai-prices has a variant.
_FAST_FALLBACK: dict[str, Decimal] = {
    "claude-opus-4-6": Decimal(6),
    "claude-opus-4-7": Decimal(6),
}


@dataclass(frozen=True)
class _Rate:
    """One category's USD/MTok price, and its price once the prompt is over the threshold."""

    base: Decimal
    long: Decimal | None = None

    def scaled(self, factor: Decimal) -> _Rate:
        """Both prices times ``factor``."""
        return _Rate(self.base * factor, None if self.long is None else self.long * factor)


@dataclass(frozen=True)
class _Catalogued:
    """What genai-prices knows about one model."""

    rates: dict[str, _Rate]
    threshold: int | None
    fast_multiplier: Decimal
    priced_as: str | None = None
    """The known model id whose price is used for a name genai-prices does not know."""
    web_searches_kcount: Decimal = Decimal(0)
    """USD per 1,000 server-side web searches (genai-prices' ``web_searches_kcount``)."""


def genai_prices_version() -> str:
    """The installed genai-prices version, without importing the package."""
    return _genai_prices_version()


@lru_cache(maxsize=1)
def _genai_prices_version() -> str:
    # Its dist-info folder names the version; importlib.metadata would cost ~20 ms of imports
    # (email parsing) in every one-shot report, which checks this to skip re-pricing.
    spec = importlib.util.find_spec("genai_prices")
    if spec is not None and spec.origin is not None:
        site = Path(spec.origin).parent.parent
        found = sorted(site.glob("genai_prices-*.dist-info"))
        if len(found) == 1:
            return found[0].name.removeprefix("genai_prices-").removesuffix(".dist-info")
    from importlib.metadata import version

    return version(GENAI_PRICES_DIST)


def resolve_price(
    provider: str, model: str, overrides: Mapping[str, PriceOverride]
) -> PriceObserved:
    """The price of ``model`` under ``overrides``, as the observation the collector publishes.

    ``provider`` is the project's name (``claude``, ``codex``, ``gemini``) or a genai-prices
    provider id. ``overrides`` is keyed by the exact model string. ``source`` says what the
    price came from: ``genai-prices <version>``, ``config``, or both joined by `` + ``; for an
    unpriced model it names what was consulted. Results are cached for the life of the process.
    """
    return _resolve(provider, model, overrides.get(model))


@lru_cache(maxsize=1024)
def _resolve(provider: str, model: str, override: PriceOverride | None) -> PriceObserved:
    provider_id = _GENAI_PROVIDER.get(provider, provider)
    catalogued = _lookup(provider_id, model)
    rates = dict(catalogued.rates) if catalogued else {}
    overridden = _apply_override(rates, override, model)
    searches = catalogued.web_searches_kcount if catalogued else Decimal(0)
    if override is not None and override.web_searches_kcount is not None:
        searches = _override_decimal(override.web_searches_kcount, model, "web_searches_kcount")
        overridden = True
    source = _source(catalogued is not None, overridden)
    if catalogued is not None and catalogued.priced_as is not None:
        source = f"{source}{PRICED_AS}{catalogued.priced_as}"
    if "input" not in rates or "output" not in rates:
        return PriceObserved(provider=provider, model=model, source=source, price=None)
    _fill_defaults(rates, _DEFAULT_FACTORS.get(provider_id, _PLAIN_INPUT_FACTORS))
    price = _model_price(
        rates,
        threshold=catalogued.threshold if catalogued else None,
        fast_multiplier=catalogued.fast_multiplier if catalogued else Decimal(1),
        web_searches_kcount=searches,
    )
    return PriceObserved(provider=provider, model=model, source=source, price=price)


def _source(catalogued: bool, overridden: bool) -> str:
    genai = f"genai-prices {genai_prices_version()}"
    if overridden and not catalogued:
        return "config"
    if overridden:
        return f"{genai} + config"
    return genai


# -- genai-prices ------------------------------------------------------------------------------


def _lookup(provider_id: str, model: str) -> _Catalogued | None:
    """genai-prices' current prices for ``model``, or ``None`` when it does not know the model."""
    # Imported here: loading genai-prices' data takes ~150-200 ms, which processes that never
    # resolve a price (and `otm` one-shot commands) should not pay.
    from genai_prices import Usage, calc_price

    priced_as = None
    try:
        calc = calc_price(Usage(input_tokens=1), model_ref=model, provider_id=provider_id)
    except LookupError:
        priced_as = known_within(model, _known_ids(provider_id))
        if priced_as is None:
            return None
        calc = calc_price(Usage(input_tokens=1), model_ref=priced_as, provider_id=provider_id)
        model = priced_as
    standard = calc.model_price
    rates = {
        category: rate
        for category, keys in _GENAI_KEYS.items()
        if (rate := _genai_rate(standard, keys)) is not None
    }
    return _Catalogued(
        rates=rates,
        threshold=_genai_threshold(standard),
        fast_multiplier=_fast_multiplier(provider_id, model, calc.model.id, standard),
        priced_as=priced_as,
        web_searches_kcount=_genai_flat(standard.web_searches_kcount),
    )


def _known_ids(provider_id: str) -> list[str]:
    """Every model id genai-prices lists for ``provider_id`` (none for an unknown provider)."""
    from genai_prices.data_snapshot import get_snapshot

    for provider in get_snapshot().providers:
        if provider.id == provider_id:
            return [m.id for m in provider.models]
    return []


def _genai_rate(price: GenaiModelPrice, keys: tuple[str, ...]) -> _Rate | None:
    """The first of ``keys`` that ``price`` has, as a base price and a long-context price.

    ``ModelPrice`` carries one threshold and one tier. genai-prices (0.2.3) has no Anthropic,
    OpenAI or Google model with more than one tier; if one appears, the lowest tier is used.
    """
    from genai_prices.types import TieredPrices

    for key in keys:
        value = getattr(price, key)
        if isinstance(value, TieredPrices):
            return _Rate(value.base, value.tiers[0].price if value.tiers else None)
        if value is not None:
            return _Rate(value)
    return None


def _genai_flat(value: Decimal | TieredPrices | None) -> Decimal:
    """A per-call price (web searches); a tiered one (none is, in 0.2.3) keeps its base."""
    from genai_prices.types import TieredPrices as Tiered

    if isinstance(value, Tiered):
        return value.base
    return Decimal(0) if value is None else value


def _genai_threshold(price: GenaiModelPrice) -> int | None:
    """The prompt size above which the cliff tier applies, or ``None`` for flat pricing."""
    from genai_prices.types import TieredPrices

    starts = [
        value.tiers[0].start
        for keys in _GENAI_KEYS.values()
        for key in keys
        if isinstance(value := getattr(price, key), TieredPrices) and value.tiers
    ]
    return min(starts) if starts else None


def _fast_multiplier(
    provider_id: str, model: str, model_id: str, standard: GenaiModelPrice
) -> Decimal:
    """Fast-mode price over standard price: from genai-prices' variant, else ``_FAST_FALLBACK``.

    ``ModelPrice`` has one multiplier for every category. genai-prices' fast variants are uniform
    multiples (the caching multipliers apply on top of the fast input price); if one ever is
    not, the input ratio, the headline figure of fast-mode pricing, is used.
    """
    from genai_prices import Usage, calc_price

    fallback = _FAST_FALLBACK.get(model_id, Decimal(1))
    context = _FAST_CONTEXT.get(provider_id)
    base = _genai_rate(standard, _GENAI_KEYS["input"])
    if context is None or base is None or base.base == 0:
        return fallback
    fast = calc_price(
        Usage(input_tokens=1), model_ref=model, provider_id=provider_id, price_context=context
    ).model_price
    fast_input = _genai_rate(fast, _GENAI_KEYS["input"])
    # No fast variant: genai-prices returns the standard prices unchanged.
    if fast_input is None or fast_input.base == base.base:
        return fallback
    return fast_input.base / base.base


# -- overrides and defaults --------------------------------------------------------------------


def _apply_override(rates: dict[str, _Rate], override: PriceOverride | None, model: str) -> bool:
    """Replace the overridden categories in ``rates``; ``True`` if any was overridden."""
    if override is None:
        return False
    overridden = False
    for category, field in _OVERRIDE_FIELDS.items():
        value = getattr(override, field)
        if value is None:
            continue
        new = _override_decimal(value, model, field)
        old = rates.get(category)
        rates[category] = _Rate(new, _scaled_long(old, new))
        overridden = True
    return overridden


def _scaled_long(old: _Rate | None, new_base: Decimal) -> Decimal | None:
    """The long-context price moved in proportion to the base price (see the module docstring)."""
    if old is None or old.long is None or old.base == 0:
        return None
    return old.long * new_base / old.base


def _override_decimal(value: float, model: str, field: str) -> Decimal:
    """A config float as the decimal the user wrote (``repr`` is the shortest round-trip form)."""
    decimal = Decimal(repr(value))
    if not decimal.is_finite() or decimal < 0:
        raise ValueError(
            f"[pricing.overrides.{model!r}] {field} = {value!r}: a price must be a finite "
            "number of USD per million tokens, zero or more"
        )
    return decimal


def _fill_defaults(rates: dict[str, _Rate], factors: Mapping[str, Decimal]) -> None:
    """Derive every missing cache category from the input price (see ``_DEFAULT_FACTORS``)."""
    for category, factor in factors.items():
        if category not in rates:
            rates[category] = rates["input"].scaled(factor)


# -- ModelPrice --------------------------------------------------------------------------------


def _model_price(
    rates: Mapping[str, _Rate],
    *,
    threshold: int | None,
    fast_multiplier: Decimal,
    web_searches_kcount: Decimal = Decimal(0),
) -> ModelPrice:
    """Pack complete ``rates`` into the wire struct; no tier survives without a threshold."""
    tiered = threshold is not None and any(rate.long is not None for rate in rates.values())

    def long(category: str) -> str | None:
        value = rates[category].long
        return _decimal_str(value) if tiered and value is not None else None

    return ModelPrice(
        input=_decimal_str(rates["input"].base),
        output=_decimal_str(rates["output"].base),
        cache_write_5m=_decimal_str(rates["cache_write_5m"].base),
        cache_write_1h=_decimal_str(rates["cache_write_1h"].base),
        cache_read=_decimal_str(rates["cache_read"].base),
        long_context_threshold=threshold if tiered else None,
        long_context_input=long("input"),
        long_context_output=long("output"),
        long_context_cache_write_5m=long("cache_write_5m"),
        long_context_cache_write_1h=long("cache_write_1h"),
        long_context_cache_read=long("cache_read"),
        fast_multiplier=_decimal_str(fast_multiplier),
        web_searches_kcount=_decimal_str(web_searches_kcount),
    )


def _decimal_str(value: Decimal) -> str:
    """Plain positional notation without trailing zeros: ``3.750`` -> ``3.75``, never ``1E+2``."""
    return format(value.normalize(), "f")


# -- fingerprint -------------------------------------------------------------------------------


def pricing_fingerprint(overrides: Mapping[str, PriceOverride]) -> str:
    """A short stable hash of everything a resolved price depends on besides the model name.

    Covers the overrides, the installed genai-prices version and ``RULES_VERSION``; when it
    changes, previously resolved prices must be resolved again. Does not import genai-prices.
    """
    payload = msgspec.json.encode(
        {
            "genai_prices": genai_prices_version(),
            "rules": RULES_VERSION,
            "overrides": dict(overrides),
        },
        order="sorted",
    )
    return hashlib.sha256(payload).hexdigest()[:16]
