"""LiveCadence: when the scheduler next asks for each provider's live limits."""

from __future__ import annotations

from bus.messages import PROVIDERS, LimitsCommitted, LiveStatus
from services.runtime.config import LimitsConfig
from services.scheduler.service import FIRST_LIVE_POLL_SECONDS, STARTUP_REPEATS, LiveCadence

NOW = 1_778_900_000.0
POLL = 300.0
JITTER = 0.1
FIRST = NOW + FIRST_LIVE_POLL_SECONDS
TRIALS = 50


def cadence() -> LiveCadence:
    """A cadence of 300 s with 10% jitter, started at ``NOW``."""
    return LiveCadence(LimitsConfig(poll_seconds=POLL, jitter=JITTER), NOW)


def commit(provider: str, next_poll_at: float | None, with_status: bool = True) -> LimitsCommitted:
    """A committed live observation whose status says when to poll next."""
    status = LiveStatus(
        provider=provider, state="failed", checked_at=NOW, next_poll_at=next_poll_at
    )
    return LimitsCommitted(
        seq=1,
        observation_id=f"live:{provider}:1",
        provider=provider,
        source="live",
        observed_at=NOW,
        status=status if with_status else None,
    )


def test_nothing_due_before_the_first_poll() -> None:
    """No provider is due before FIRST_LIVE_POLL_SECONDS have passed."""
    assert [] == cadence().take_due(FIRST - 0.01)


def test_every_provider_due_at_the_first_poll() -> None:
    """Every provider is due FIRST_LIVE_POLL_SECONDS after start."""
    assert list(PROVIDERS) == cadence().take_due(FIRST)


def test_taken_providers_are_not_due_again_at_once() -> None:
    """A provider just taken is not due again a moment later."""
    live = cadence()
    live.take_due(FIRST)
    assert [] == live.take_due(FIRST + 1)


def test_take_due_reschedules_within_the_jittered_interval() -> None:
    """Each provider taken is due again between poll_seconds and poll_seconds*(1+jitter)."""
    gaps: list[float] = []
    for _ in range(TRIALS):
        live = cadence()
        live.take_due(FIRST)
        gaps.extend(at - FIRST for at in live.due.values())
    assert (True, True) == (min(gaps) >= POLL, max(gaps) <= POLL * (1 + JITTER))


def test_rescheduling_is_jittered() -> None:
    """Providers (and machines) taken together do not stay in step."""
    gaps: set[float] = set()
    for _ in range(TRIALS):
        live = cadence()
        live.take_due(FIRST)
        gaps.update(live.due.values())
    assert True is (len(gaps) > 1)


def test_later_next_poll_at_defers_the_provider() -> None:
    """A committed status asking to wait longer moves the provider's next poll to that time."""
    live = cadence()
    live.committed(commit("claude", NOW + 5000))
    assert NOW + 5000 == live.due["claude"]


def test_deferred_provider_is_not_taken_at_its_old_time() -> None:
    """A provider deferred by its status is left out when the others come due."""
    live = cadence()
    live.committed(commit("codex", NOW + 5000))
    assert ["claude", "gemini"] == live.take_due(FIRST)


def test_earlier_next_poll_at_does_not_pull_the_poll_in() -> None:
    """A status allowing a poll sooner than scheduled does not advance the schedule."""
    live = cadence()
    live.take_due(FIRST)
    scheduled = live.due["claude"]
    live.committed(commit("claude", FIRST + 1))
    assert scheduled == live.due["claude"]


def test_status_without_next_poll_at_changes_nothing() -> None:
    """A committed status that does not say when to poll leaves the schedule alone."""
    live = cadence()
    live.committed(commit("claude", None))
    assert FIRST == live.due["claude"]


def test_commit_without_status_changes_nothing() -> None:
    """A limits commit with no live status (e.g. from the statusline) leaves the schedule."""
    live = cadence()
    live.committed(commit("claude", NOW + 5000, with_status=False))
    assert FIRST == live.due["claude"]


def test_unknown_provider_is_ignored() -> None:
    """A commit for a provider the scheduler does not poll adds nothing to the schedule."""
    live = cadence()
    live.committed(commit("mistral", NOW + 5000))
    assert sorted(PROVIDERS) == sorted(live.due)


def test_the_first_request_is_repeated_shortly_after_start() -> None:
    """Every provider is asked again at each start-up repeat, then only on the cadence."""
    # A collector still connecting may have missed the first request.
    live = cadence()
    live.take_due(FIRST)
    repeats = [live.take_due(NOW + r) for r in STARTUP_REPEATS]
    assert ([list(PROVIDERS)] * len(STARTUP_REPEATS), []) == (
        repeats,
        live.take_due(NOW + STARTUP_REPEATS[-1] + 1),
    )
