"""Cost arithmetic: exact pico-dollars from Anthropic's published per-million-token prices."""

from __future__ import annotations

import msgspec
import pytest

from bus.messages import ModelPrice
from services.queries.costs import PriceTable, bills_long_context, cost_pusd, pusd_to_usd
from tests.helpers import SONNET_4_5

# Claude Opus 4.6: $5/$25, flat over the 1M window; fast mode is $30/$150, 6x every category.
OPUS_4_6 = ModelPrice(
    input="5",
    output="25",
    cache_write_5m="6.25",
    cache_write_1h="10",
    cache_read="0.5",
    fast_multiplier="6",
)


def _flat(usd_per_mtok: str) -> ModelPrice:
    """A price with every category at ``usd_per_mtok``."""
    p = usd_per_mtok
    return ModelPrice(input=p, output=p, cache_write_5m=p, cache_write_1h=p, cache_read=p)


def test_mixed_usage_costs_the_exact_pico_dollar_sum() -> None:
    """1000 in, 100 out, 2000 5m writes, 500 1h writes, 10000 reads on Sonnet 4.5 is $0.018."""
    # 1000*3 + 100*15 + 2000*3.75 + 500*6 + 10000*0.3 = 18000 USD/MTok*tokens = $0.018
    expected = 18_000_000_000
    assert expected == cost_pusd(
        SONNET_4_5,
        input=1000,
        output=100,
        cache_write_5m=2000,
        cache_write_1h=500,
        cache_read=10_000,
        long_context=False,
        fast=False,
    )


def test_long_context_request_bills_every_category_at_the_tier() -> None:
    """A 250k-token prompt on Sonnet 4.5 pays the long-context rate on all five categories."""
    # 200000*6 + 1000*22.5 + 20000*7.5 + 10000*12 + 20000*0.6 = 1504500 -> $1.5045
    expected = 1_504_500_000_000
    assert expected == cost_pusd(
        SONNET_4_5,
        input=200_000,
        output=1000,
        cache_write_5m=20_000,
        cache_write_1h=10_000,
        cache_read=20_000,
        long_context=True,
        fast=False,
    )


def test_fast_mode_multiplies_every_category() -> None:
    """Opus 4.6 fast mode: 1000 in + 1000 out + 1000 reads at 6x is $0.183."""
    # 1000*30 + 1000*150 + 1000*3 = 183000 -> $0.183
    expected = 183_000_000_000
    assert expected == cost_pusd(
        OPUS_4_6, input=1000, output=1000, cache_read=1000, long_context=False, fast=True
    )


def test_fast_multiplier_applies_on_top_of_long_context_rates() -> None:
    """A fast long-context request pays the tier price times the multiplier."""
    price = msgspec.structs.replace(SONNET_4_5, fast_multiplier="2")
    # 1000 input at the $6 tier, x2 = $12/MTok -> $0.012
    expected = 12_000_000_000
    assert expected == cost_pusd(price, input=1000, long_context=True, fast=True)


def test_one_hour_cache_write_is_billed_at_its_own_price() -> None:
    """500 1-hour writes on Sonnet 4.5 cost 500 x $6/MTok (2x input, not the 5-minute rate)."""
    expected = 3_000_000_000
    assert expected == cost_pusd(SONNET_4_5, cache_write_1h=500, long_context=False, fast=False)


def test_price_a_float_cannot_hold_is_exact() -> None:
    """A million cache reads at $0.30/MTok is exactly 0.3e12 pico-dollars."""
    expected = 300_000_000_000
    assert expected == cost_pusd(SONNET_4_5, cache_read=1_000_000, long_context=False, fast=False)


def test_long_context_flag_without_a_tier_uses_base_prices() -> None:
    """A model with flat pricing ignores the long-context flag."""
    assert cost_pusd(OPUS_4_6, input=300_000, long_context=False, fast=False) == cost_pusd(
        OPUS_4_6, input=300_000, long_context=True, fast=False
    )


def test_category_without_a_long_context_price_keeps_its_base_price() -> None:
    """A tiered model whose tier omits a category bills that category at base price."""
    price = msgspec.structs.replace(_flat("1"), long_context_threshold=0, long_context_input="2")
    expected = 1_000_000
    assert expected == cost_pusd(price, output=1, long_context=True, fast=False)


def test_sub_pico_dollar_rate_rounds_half_even() -> None:
    """$0.0000025/MTok is 2.5 pUSD per token, which rounds to 2 (half-even)."""
    expected = 2
    assert expected == PriceTable.from_price(_flat("0.0000025")).standard.input


def test_malformed_price_is_rejected() -> None:
    """A price string that is not a non-negative decimal raises ValueError."""
    with pytest.raises(ValueError, match="not a decimal"):
        PriceTable.from_price(_flat("three"))


def test_negative_price_is_rejected() -> None:
    """A negative price raises ValueError rather than producing a credit."""
    with pytest.raises(ValueError, match="zero or more"):
        PriceTable.from_price(_flat("-1"))


def test_prompt_exactly_at_threshold_is_not_long_context() -> None:
    """Anthropic bills the tier only for prompts that exceed 200k: 200,000 is standard."""
    assert False is bills_long_context(SONNET_4_5, 200_000)


def test_prompt_over_threshold_is_long_context() -> None:
    """A 200,001-token prompt on a tiered model is long context."""
    assert True is bills_long_context(SONNET_4_5, 200_001)


def test_flat_model_is_never_long_context() -> None:
    """A model with no threshold is never long context, however large the prompt."""
    assert False is bills_long_context(OPUS_4_6, 900_000)


def test_unpriced_model_is_never_long_context() -> None:
    """``None`` (an unpriced model) is not long context."""
    assert False is bills_long_context(None, 900_000)


def test_pusd_to_usd_converts_for_display() -> None:
    """18e9 pico-dollars is $0.018."""
    expected = 0.018
    assert expected == pusd_to_usd(18_000_000_000)
