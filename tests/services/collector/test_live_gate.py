"""PollGate: the polling floor, exponential back-off, Retry-After, holds and restoring state."""

from __future__ import annotations

import pytest

from bus.messages import LiveStatus
from services.collector.live.gate import UNSUPPORTED_HOLD_SECONDS, PollGate
from services.runtime.config import LimitsConfig

NOW = 1_778_900_000.0
FLOOR = 60.0
CAP = 3600.0
TRIALS = 50
"""Jitter is random: each range is checked over this many fresh gates."""


def gate(**changes: float) -> PollGate:
    """A gate with a 60 s floor and a one-hour back-off cap (``changes`` override them)."""
    values = {"min_interval_seconds": FLOOR, "max_backoff_seconds": CAP, **changes}
    return PollGate(LimitsConfig(**values))  # type: ignore[arg-type]


def wait_after(failures: int, kind: str = "server") -> float:
    """The wait a fresh gate sets after ``failures`` failures of ``kind`` in a row at ``NOW``."""
    g = gate()
    for _ in range(failures):
        g.record(NOW, kind)
    return g.next_allowed - NOW


def test_success_sets_next_allowed_to_the_floor() -> None:
    """A success allows the next poll exactly min_interval_seconds later."""
    g = gate()
    g.record(NOW, None)
    assert NOW + FLOOR == g.next_allowed


def test_success_resets_failures_and_notes_the_time() -> None:
    """A success clears the failure count and remembers when it happened."""
    g = gate()
    g.record(NOW - 500, "server")
    g.record(NOW, None)
    assert (0, NOW) == (g.failures, g.last_success_at)


def test_fresh_gate_allows_at_once() -> None:
    """A gate that has seen no poll allows a scheduled request straight away."""
    assert True is gate().allows(NOW, manual=False)


@pytest.mark.parametrize("manual", [False, True])
def test_refused_before_next_allowed(manual: bool) -> None:
    """Scheduled and manual requests alike are refused until next_allowed."""
    g = gate()
    g.record(NOW, None)
    assert False is g.allows(NOW + FLOOR - 0.001, manual=manual)


@pytest.mark.parametrize("manual", [False, True])
def test_allowed_at_next_allowed(manual: bool) -> None:
    """Once next_allowed is reached, scheduled and manual requests are allowed."""
    g = gate()
    g.record(NOW, None)
    assert True is g.allows(NOW + FLOOR, manual=manual)


def test_first_failure_waits_about_the_floor() -> None:
    """One failure waits the floor plus up to 10% jitter (never less than the floor)."""
    waits = [wait_after(1) for _ in range(TRIALS)]
    assert (True, True) == (min(waits) >= FLOOR, max(waits) <= FLOOR * 1.1)


@pytest.mark.parametrize("failures", [2, 3, 4])
def test_each_failure_doubles_the_wait(failures: int) -> None:
    """The n-th failure in a row waits floor * 2**(n-1), within +-10% jitter."""
    base = FLOOR * 2 ** (failures - 1)
    waits = [wait_after(failures) for _ in range(TRIALS)]
    assert (True, True) == (min(waits) >= base * 0.9, max(waits) <= base * 1.1)


def test_back_off_is_capped_at_max_backoff() -> None:
    """Many failures wait max_backoff_seconds (within +-10% jitter), not more."""
    waits = [wait_after(30) for _ in range(TRIALS)]
    assert (True, True) == (min(waits) >= CAP * 0.9, max(waits) <= CAP * 1.1)


def test_back_off_is_jittered() -> None:
    """Gates failing in step do not all come back at the same moment."""
    waits = {wait_after(3) for _ in range(TRIALS)}
    assert True is (len(waits) > 1)


def test_failures_are_counted() -> None:
    """Each failure adds one to the count."""
    g = gate()
    for _ in range(3):
        g.record(NOW, "timeout")
    assert 3 == g.failures


def test_retry_after_longer_than_back_off_is_honoured() -> None:
    """A 429 whose Retry-After exceeds the back-off waits exactly as long as asked."""
    g = gate()
    g.record(NOW, "rate_limited", retry_after=1000.0)
    assert NOW + 1000.0 == g.next_allowed


def test_retry_after_shorter_than_back_off_keeps_the_back_off() -> None:
    """A Retry-After shorter than the back-off does not shorten the wait."""
    g = gate()
    for _ in range(3):
        g.record(NOW, "rate_limited", retry_after=5.0)
    assert True is (g.next_allowed - NOW >= FLOOR * 4 * 0.9)


def test_absurd_retry_after_is_capped_at_a_day() -> None:
    """A Retry-After of years is bounded by the one-day hold."""
    g = gate()
    g.record(NOW, "rate_limited", retry_after=1e9)
    assert NOW + UNSUPPORTED_HOLD_SECONDS == g.next_allowed


def test_unsupported_holds_scheduled_polls_for_the_hold() -> None:
    """After "unsupported", a scheduled request stays refused until the hold ends."""
    g = gate()
    g.record(NOW, "unsupported")
    assert False is g.allows(NOW + UNSUPPORTED_HOLD_SECONDS - 1, manual=False)


def test_unsupported_allows_a_scheduled_poll_after_the_hold() -> None:
    """A day later, the schedule asks once more (the account may have changed)."""
    g = gate()
    g.record(NOW, "unsupported")
    assert True is g.allows(NOW + UNSUPPORTED_HOLD_SECONDS, manual=False)


def test_unsupported_allows_manual_after_the_floor() -> None:
    """After "unsupported", `otm refresh` may ask again once the usual floor has passed."""
    g = gate()
    g.record(NOW, "unsupported")
    assert (False, True) == (
        g.allows(NOW + FLOOR - 1, manual=True),
        g.allows(NOW + FLOOR, manual=True),
    )


def test_unsupported_hold_is_at_least_max_backoff() -> None:
    """With a back-off cap above a day, "unsupported" holds scheduled polls for the cap."""
    g = gate(max_backoff_seconds=2 * UNSUPPORTED_HOLD_SECONDS)
    g.record(NOW, "unsupported")
    assert NOW + 2 * UNSUPPORTED_HOLD_SECONDS == g.scheduled_after


def test_success_after_unsupported_lifts_the_hold() -> None:
    """A manual poll that succeeds after "unsupported" lets scheduled polls resume."""
    g = gate()
    g.record(NOW, "unsupported")
    later = NOW + UNSUPPORTED_HOLD_SECONDS
    g.record(later, None)
    assert True is g.allows(later + FLOOR, manual=False)


def test_unconfigured_is_not_a_failure() -> None:
    """ "unconfigured" (nothing sent) leaves the failure count at zero."""
    g = gate()
    for _ in range(5):
        g.record(NOW, "unconfigured")
    assert 0 == g.failures


def test_unconfigured_waits_only_the_floor() -> None:
    """ "unconfigured" never backs off: the credentials are checked again after the floor."""
    g = gate()
    for _ in range(5):
        g.record(NOW, "unconfigured")
    assert NOW + FLOOR == g.next_allowed


def test_restore_picks_up_next_poll_at() -> None:
    """restore() keeps the committed next_poll_at when it is later than the floor."""
    g = gate()
    g.restore(LiveStatus(provider="claude", state="failed", checked_at=NOW, next_poll_at=NOW + 900))
    assert NOW + 900 == g.next_allowed


def test_restore_applies_the_floor_from_checked_at() -> None:
    """restore() never allows a poll sooner than checked_at + min_interval."""
    g = gate()
    g.restore(LiveStatus(provider="claude", state="ok", checked_at=NOW, next_poll_at=NOW + 5))
    assert NOW + FLOOR == g.next_allowed


def test_restore_without_next_poll_at_uses_the_floor() -> None:
    """A status without next_poll_at still blocks until checked_at + min_interval."""
    g = gate()
    g.restore(LiveStatus(provider="claude", state="ok", checked_at=NOW))
    assert NOW + FLOOR == g.next_allowed


def test_restore_picks_up_the_failure_count() -> None:
    """restore() continues the back-off from the committed consecutive failures."""
    g = gate()
    g.restore(LiveStatus(provider="claude", state="failed", checked_at=NOW, consecutive_failures=4))
    assert 4 == g.failures


def test_restore_keeps_the_unsupported_hold() -> None:
    """A committed "unsupported" status holds scheduled polls after a restart."""
    g = gate()
    g.restore(LiveStatus(provider="gemini", state="unsupported", checked_at=NOW))
    assert False is g.allows(NOW + UNSUPPORTED_HOLD_SECONDS - 1, manual=False)
