"""The trouble rule: once when a provider needs the person, once when it recovers."""

from __future__ import annotations

from bus.messages import LiveStatus
from services.notifier.trouble import evaluate, troubled

NOW = 1_800_000_000.0


def status(state: str, kind: str = "", failures: int = 0) -> LiveStatus:
    """Claude's live status."""
    return LiveStatus(
        provider="claude",
        state=state,  # type: ignore[arg-type]
        checked_at=NOW,
        kind=kind,
        reason="HTTP 401 from the usage endpoint" if kind == "auth" else "",
        fix="sign in to Claude Code again (run `claude`)" if kind == "auth" else "",
        consecutive_failures=failures,
    )


def test_a_sign_in_problem_is_trouble_with_its_fix() -> None:
    """A 401 turns the provider troubled: one warning that quotes the fix."""
    now, alerts = evaluate(False, status("failed", "auth"), seq=7, current=True)
    assert (True, ["trouble:claude:down:7"]) == (now, [a.key for a in alerts])
    assert "Fix: sign in to Claude Code again" in alerts[0].body


def test_one_time_out_is_not_trouble() -> None:
    """A single failed poll (the collector retries politely) says nothing."""
    assert (False, []) == evaluate(False, status("failed", "timeout", 1), seq=3, current=True)


def test_repeated_failures_are_trouble() -> None:
    """Three failures in a row are."""
    assert troubled(status("failed", "server", 3))


def test_still_troubled_says_nothing_more() -> None:
    """Trouble that goes on is not announced again."""
    assert (True, []) == evaluate(True, status("failed", "auth"), seq=9, current=True)


def test_recovery_is_announced_once() -> None:
    """Back to ok: one info alert."""
    now, alerts = evaluate(True, status("ok"), seq=12, current=True)
    assert (False, ["trouble:claude:up:12"], "info") == (
        now,
        [a.key for a in alerts],
        alerts[0].severity,
    )


def test_old_status_changes_announce_nothing() -> None:
    """Replayed history changes the state silently."""
    assert (True, []) == evaluate(False, status("failed", "auth"), seq=2, current=False)


def test_unconfigured_providers_are_not_trouble() -> None:
    """A CLI that is not signed in on this machine at all is not an alarm."""
    assert (False, []) == evaluate(False, status("unconfigured"), seq=4, current=True)
