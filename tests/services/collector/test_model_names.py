"""A prefixed or suffixed model name priced as the known model id inside it, as ccusage does."""

from __future__ import annotations

from services.collector.model_names import known_within

KNOWN = ("gpt-5", "gpt-5-mini", "claude-opus-4", "claude-sonnet-4-5", "gpt-5.1")


def test_a_prefix_before_a_known_id_is_matched() -> None:
    """``aide-gpt-5`` holds ``gpt-5``."""
    assert "gpt-5" == known_within("aide-gpt-5", KNOWN)


def test_a_suffix_after_a_known_id_is_matched() -> None:
    """``gpt-5-aide`` holds ``gpt-5``."""
    assert "gpt-5" == known_within("gpt-5-aide", KNOWN)


def test_the_longest_known_id_wins() -> None:
    """``team/gpt-5-mini`` is ``gpt-5-mini``, not ``gpt-5``."""
    assert "gpt-5-mini" == known_within("team/gpt-5-mini", KNOWN)


def test_another_version_number_is_not_a_match() -> None:
    """``claude-opus-4-9`` is not ``claude-opus-4``: the 9 continues the version."""
    assert None is known_within("claude-opus-4-9", KNOWN)


def test_a_dotted_version_is_not_a_match_either() -> None:
    """``claude-opus-4.70`` is not ``claude-opus-4``."""
    assert None is known_within("claude-opus-4.70", KNOWN)


def test_a_dated_snapshot_is_a_match() -> None:
    """``claude-opus-4-20250514`` is ``claude-opus-4``: an 8-digit date suffix."""
    assert "claude-opus-4" == known_within("claude-opus-4-20250514", KNOWN)


def test_dots_and_at_signs_compare_as_dashes() -> None:
    """``proxy@gpt-5-1`` holds ``gpt-5.1``."""
    assert "gpt-5.1" == known_within("proxy@gpt-5-1", KNOWN)


def test_a_known_id_inside_a_word_is_not_a_match() -> None:
    """``xgpt-5`` does not hold ``gpt-5``: no boundary before it."""
    assert None is known_within("xgpt-5", KNOWN)


def test_ties_take_the_alphabetically_first() -> None:
    """Two known ids of one length: the first in alphabetical order."""
    assert "aa-1" == known_within("x-bb-1-aa-1", ("bb-1", "aa-1"))
