"""The live demo's pace: exchanges spaced by their tokens, like a busy user's, not a runaway's."""

from __future__ import annotations

import random

from services.demo.service import APPEND_GAP_SECONDS, DEMO_TOKENS_PER_HOUR, pause_after


def test_an_exchange_waits_as_long_as_its_tokens_take_at_the_demo_pace() -> None:
    """A pause is the exchange's tokens at the demo's hourly rate, within 30 %."""
    tokens = DEMO_TOKENS_PER_HOUR // 120  # 30 s worth
    pauses = [pause_after(tokens, random.Random(seed)) for seed in range(50)]
    assert (True, True) == (min(pauses) >= 21.0, max(pauses) <= 39.0)


def test_a_tiny_exchange_still_waits_the_shortest_pause() -> None:
    """Even an exchange of a few tokens is followed by the shortest pause."""
    assert APPEND_GAP_SECONDS[0] == pause_after(10, random.Random(1))


def test_a_huge_exchange_waits_at_most_the_longest_pause() -> None:
    """A huge exchange never stops the demo for more than the longest pause."""
    assert APPEND_GAP_SECONDS[1] == pause_after(10**9, random.Random(1))


def test_an_hour_of_typical_exchanges_stays_near_the_demo_pace() -> None:
    """An hour of 50k-token exchanges adds up to about the demo's hourly tokens."""
    rng = random.Random(7)
    elapsed, tokens = 0.0, 0
    while elapsed < 3600:
        tokens += 50_000
        elapsed += pause_after(50_000, rng)
    assert 0.8 * DEMO_TOKENS_PER_HOUR <= tokens <= 1.2 * DEMO_TOKENS_PER_HOUR
