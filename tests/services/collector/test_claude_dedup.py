"""Which copy of a duplicated Claude response counts, and how duplicates are keyed."""

from __future__ import annotations

from bus.messages import UsageRecord
from services.collector.claude.dedup import dedup_key
from services.store.copies import claude_wins as wins


def rec(output: int = 100, *, sidechain: bool = False, speed: str | None = None) -> UsageRecord:
    """A record under one fixed key."""
    return UsageRecord(
        key="claude:msg_1",
        provider="claude",
        ts_ms=0,
        model="claude-sonnet-4-5",
        project="P",
        session="S",
        input=10,
        output=output,
        speed=speed,
        sidechain=sidechain,
    )


def test_main_chain_beats_sidechain() -> None:
    """A main-chain copy replaces a sidechain copy, even when smaller."""
    assert wins(rec(1), rec(1000, sidechain=True))


def test_sidechain_never_beats_main_chain() -> None:
    """A sidechain replay does not replace the main-chain copy, even when larger."""
    assert not wins(rec(1000, sidechain=True), rec(1))


def test_larger_total_wins() -> None:
    """The final streaming copy (more output) replaces an earlier one."""
    assert wins(rec(500), rec(5))


def test_smaller_total_loses() -> None:
    """An earlier, smaller copy does not replace the final one."""
    assert not wins(rec(5), rec(500))


def test_stated_speed_breaks_a_tie() -> None:
    """With equal totals a copy stating its speed wins."""
    assert wins(rec(speed="standard"), rec())


def test_missing_speed_does_not_break_a_tie() -> None:
    """With equal totals a copy without speed does not replace one with it."""
    assert not wins(rec(), rec(speed="fast"))


def test_identical_copy_keeps_the_old_one() -> None:
    """An exact repeat never replaces what is counted."""
    assert not wins(rec(), rec())


def test_key_with_request_id_ignores_session() -> None:
    """Resumed-session copies (same ids, other session) share a key."""
    expected = dedup_key("m", "r", "S1", b"a")
    assert expected == dedup_key("m", "r", "S2", b"b")


def test_key_without_request_id_depends_on_session() -> None:
    """Requestless ids are only trusted within one session."""
    expected = "claude:m@S1"
    assert expected == dedup_key("m", None, "S1", b"a")


def test_key_without_message_id_ignores_surrounding_whitespace() -> None:
    """A line hash ignores its line ending."""
    expected = dedup_key(None, None, "S", b"{}\r\n")
    assert expected == dedup_key(None, "r", "T", b"{}")
