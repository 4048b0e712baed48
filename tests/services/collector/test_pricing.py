"""Price resolution: genai-prices plus config overrides, as Anthropic bills."""

from __future__ import annotations

from decimal import Decimal
from importlib.metadata import version

import pytest
from genai_prices import Usage, calc_price

from bus.messages import ModelPrice
from services.collector.price_resolution import pricing_fingerprint, resolve_price
from services.queries.costs import bills_long_context, cost_pusd
from services.runtime.config import PriceOverride

GENAI = f"genai-prices {version('genai-prices')}"
SONNET_4_5 = "claude-sonnet-4-5-20250929"


def _price(model: str, overrides: dict[str, PriceOverride] | None = None) -> ModelPrice:
    price = resolve_price("claude", model, overrides or {}).price
    assert price is not None
    return price


def test_sonnet_4_5_resolves_to_anthropic_published_prices() -> None:
    """Sonnet 4.5: $3/$15, 5m write $3.75, 1h write $6, read $0.30, all 2x (out 1.5x) over 200k."""
    expected = ModelPrice(
        input="3",
        output="15",
        cache_write_5m="3.75",
        cache_write_1h="6",
        cache_read="0.3",
        long_context_threshold=200_000,
        long_context_input="6",
        long_context_output="22.5",
        long_context_cache_write_5m="7.5",
        long_context_cache_write_1h="12",
        long_context_cache_read="0.6",
        fast_multiplier="1",
        web_searches_kcount="10",
    )
    assert expected == _price(SONNET_4_5)


def test_catalogued_model_names_genai_prices_as_source() -> None:
    """A model genai-prices knows, with no override, has source ``genai-prices <version>``."""
    expected = GENAI
    assert expected == resolve_price("claude", SONNET_4_5, {}).source


def test_opus_4_6_fast_mode_is_six_times() -> None:
    """Opus 4.6 fast mode ($30/$150 against $5/$25) has multiplier 6."""
    expected = "6"
    assert expected == _price("claude-opus-4-6").fast_multiplier


def test_fast_multiplier_comes_from_genai_prices_when_it_knows() -> None:
    """Opus 4.8's fast variant in genai-prices ($10/$50 against $5/$25) gives multiplier 2."""
    expected = "2"
    assert expected == _price("claude-opus-4-8").fast_multiplier


def test_model_without_fast_mode_has_multiplier_one() -> None:
    """Sonnet 4.5 has no fast mode: multiplier 1."""
    expected = "1"
    assert expected == _price(SONNET_4_5).fast_multiplier


def test_opus_4_6_fast_request_costs_six_times_standard() -> None:
    """1000 in + 1000 out on Opus 4.6 fast is 1000*$30 + 1000*$150 per MTok = $0.18."""
    expected = 180_000_000_000
    price = _price("claude-opus-4-6")
    assert expected == cost_pusd(price, input=1000, output=1000, long_context=False, fast=True)


def test_250k_prompt_is_billed_at_long_context_rate_in_every_category() -> None:
    """A 250k-token Sonnet 4.5 prompt pays $6/$22.5/$7.5/$12/$0.6 on every category: $1.5045."""
    expected = 1_504_500_000_000
    price = _price(SONNET_4_5)
    assert expected == cost_pusd(
        price,
        input=200_000,
        output=1000,
        cache_write_5m=20_000,
        cache_write_1h=10_000,
        cache_read=20_000,
        long_context=bills_long_context(price, 200_000 + 20_000 + 10_000 + 20_000),
        fast=False,
    )


def test_one_hour_write_defaults_to_twice_input() -> None:
    """A model priced only by input and output gets a 1-hour write price of 2x input."""
    overrides = {"my-claude": PriceOverride(input=2.0, output=8.0)}
    expected = "4"
    assert expected == _price("my-claude", overrides).cache_write_1h


def test_cache_defaults_follow_anthropic_multipliers() -> None:
    """Missing 5m write and read prices default to 1.25x and 0.1x input."""
    overrides = {"my-claude": PriceOverride(input=2.0, output=8.0)}
    price = _price("my-claude", overrides)
    expected = ("2.5", "0.2")
    assert expected == (price.cache_write_5m, price.cache_read)


def test_override_only_model_is_priced_with_source_config() -> None:
    """A model genai-prices lacks, overridden with input and output, is priced from config."""
    overrides = {"my-claude": PriceOverride(input=2.0, output=8.0)}
    observed = resolve_price("claude", "my-claude", overrides)
    expected = ("config", "2", "8")
    assert observed.price is not None
    assert expected == (observed.source, observed.price.input, observed.price.output)


def test_override_wins_field_by_field() -> None:
    """Overriding output keeps genai-prices' input and cache prices."""
    overrides = {SONNET_4_5: PriceOverride(output=20.0)}
    price = _price(SONNET_4_5, overrides)
    expected = ("3", "20", "3.75", "6", "0.3")
    assert expected == (
        price.input,
        price.output,
        price.cache_write_5m,
        price.cache_write_1h,
        price.cache_read,
    )


def test_override_on_catalogued_model_names_both_sources() -> None:
    """An override on a model genai-prices knows gives source ``genai-prices <v> + config``."""
    overrides = {SONNET_4_5: PriceOverride(output=20.0)}
    expected = f"{GENAI} + config"
    assert expected == resolve_price("claude", SONNET_4_5, overrides).source


def test_override_scales_the_long_context_price_in_proportion() -> None:
    """Output overridden $15 -> $20 moves the >200k output price $22.5 -> $30."""
    overrides = {SONNET_4_5: PriceOverride(output=20.0)}
    expected = "30"
    assert expected == _price(SONNET_4_5, overrides).long_context_output


def test_override_for_another_model_changes_nothing() -> None:
    """Overrides are keyed by the exact model string."""
    overrides = {"claude-sonnet-4-5": PriceOverride(output=20.0)}
    expected = "15"
    assert expected == _price(SONNET_4_5, overrides).output


def test_a_prefixed_model_is_priced_as_the_known_model_inside() -> None:
    """``aide-gpt-5`` (real Codex logs) costs what ``gpt-5`` costs, and its source says so."""
    prefixed = resolve_price("codex", "aide-gpt-5", {})
    known = resolve_price("codex", "gpt-5", {})

    assert (known.price, f"{GENAI}, priced as gpt-5") == (prefixed.price, prefixed.source)


def test_unknown_model_is_unpriced() -> None:
    """A model no source knows has ``price=None``, never a $0 price."""
    assert None is resolve_price("claude", "claude-opus-4-9", {}).price


def test_unknown_model_with_partial_override_is_unpriced() -> None:
    """An override without an output price cannot price an unknown model."""
    overrides = {"claude-opus-4-9": PriceOverride(input=5.0)}
    assert None is resolve_price("claude", "claude-opus-4-9", overrides).price


def test_negative_override_is_rejected() -> None:
    """A negative override price raises ValueError naming the model and key."""
    with pytest.raises(ValueError, match="cache_read"):
        resolve_price("claude", "my-claude", {"my-claude": PriceOverride(1.0, 2.0, -0.1)})


def test_codex_model_resolves_through_openai() -> None:
    """Codex's gpt-5.3-codex is priced by genai-prices' OpenAI entry: $1.75 in, $0.175 read."""
    price = resolve_price("codex", "gpt-5.3-codex", {}).price
    expected = ("1.75", "0.175")
    assert price is not None
    assert expected == (price.input, price.cache_read)


def test_resolution_is_cached_per_process() -> None:
    """Resolving the same model under the same override twice returns the same object."""
    assert resolve_price("claude", SONNET_4_5, {}) is resolve_price("claude", SONNET_4_5, {})


@pytest.mark.parametrize("prompt", [15_000, 250_000], ids=["standard", "long-context"])
def test_cost_matches_genai_prices_own_calculation(prompt: int) -> None:
    """Our Sonnet 4.5 cost equals genai-prices' own calc_price for the same usage, exactly."""
    cache_write_5m, cache_write_1h, cache_read = 2000, 500, 10_000
    input_ = prompt - cache_write_5m - cache_write_1h - cache_read
    usage = Usage(
        input_tokens=prompt,  # genai-prices' input includes cache writes and reads
        cache_write_tokens=cache_write_5m + cache_write_1h,
        cache_write_1h_tokens=cache_write_1h,
        cache_read_tokens=cache_read,
        output_tokens=100,
    )
    expected = calc_price(usage, model_ref=SONNET_4_5, provider_id="anthropic").total_price
    price = _price(SONNET_4_5)
    ours = cost_pusd(
        price,
        input=input_,
        output=100,
        cache_write_5m=cache_write_5m,
        cache_write_1h=cache_write_1h,
        cache_read=cache_read,
        long_context=bills_long_context(price, prompt),
        fast=False,
    )
    assert expected * 10**12 == Decimal(ours)


def test_fingerprint_is_stable_for_equal_overrides() -> None:
    """Equal overrides, in any order, give the same fingerprint."""
    a, b = PriceOverride(input=1.0), PriceOverride(output=2.0)
    assert pricing_fingerprint({"x": a, "y": b}) == pricing_fingerprint({"y": b, "x": a})


def test_fingerprint_changes_with_overrides() -> None:
    """Changing any override changes the fingerprint."""
    assert pricing_fingerprint({"x": PriceOverride(input=1.0)}) != pricing_fingerprint(
        {"x": PriceOverride(input=1.5)}
    )


def test_genai_prices_version_equals_the_installed_metadata() -> None:
    """The version read from the dist-info folder name is the one pip installed."""
    from importlib.metadata import version

    from services.collector.price_resolution import genai_prices_version

    assert version("genai-prices") == genai_prices_version()


def test_codex_cache_writes_default_to_one_and_a_quarter_input() -> None:
    """gpt-5 has no cache-write price in genai-prices: writes cost 1.25x input, as ccusage bills."""
    price = resolve_price("codex", "gpt-5", {}).price
    expected = "1.5625"
    assert price is not None
    assert expected == price.cache_write_5m


def test_gpt_5_6_cache_writes_use_the_catalogued_price() -> None:
    """gpt-5.6's own cache-write price ($5, 1.25x its $4 input) is used."""
    price = resolve_price("codex", "gpt-5.6", {}).price
    expected = ("4", "5")
    assert price is not None
    assert expected == (price.input, price.cache_write_5m)


def test_web_searches_are_ten_dollars_per_thousand_from_genai_prices() -> None:
    """Anthropic bills web search at $10 per 1,000 searches (genai-prices' web_searches_kcount)."""
    assert "10" == _price(SONNET_4_5).web_searches_kcount


def test_web_search_price_can_be_overridden() -> None:
    """``web_searches_kcount`` in ``[pricing.overrides]`` replaces the per-1,000 price."""
    overrides = {SONNET_4_5: PriceOverride(web_searches_kcount=12.5)}
    assert "12.5" == _price(SONNET_4_5, overrides).web_searches_kcount


def test_web_search_override_names_config_as_a_source() -> None:
    """An override of the search price alone still says the price came partly from config."""
    overrides = {SONNET_4_5: PriceOverride(web_searches_kcount=12.5)}
    expected = f"genai-prices {version('genai-prices')} + config"
    assert expected == resolve_price("claude", SONNET_4_5, overrides).source


def test_override_only_model_has_no_search_price_unless_set() -> None:
    """A model priced only by config bills searches at 0 unless the override names a price."""
    overrides = {"my-claude": PriceOverride(input=2.0, output=8.0)}
    assert "0" == _price("my-claude", overrides).web_searches_kcount


def test_each_web_search_costs_one_cent_in_every_tier_and_speed() -> None:
    """Searches add $0.01 each, flat: no long-context rate and no fast multiplier on them."""
    price = _price("claude-opus-4-6")
    for long_context, fast in [(False, False), (True, False), (True, True)]:
        tokens = cost_pusd(price, input=10, long_context=long_context, fast=fast)
        with_searches = cost_pusd(
            price, input=10, web_searches=3, long_context=long_context, fast=fast
        )
        assert 3 * 10**10 == with_searches - tokens
