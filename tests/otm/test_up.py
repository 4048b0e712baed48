"""Formatting of `otm up`'s banner and event lines."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bus.messages import Alert, AlertCommitted, LimitsCommitted, LiveStatus
from otm.up import (
    DayWatch,
    EventLines,
    alert_line,
    banner_lines,
    day_total_line,
    live_line,
)
from services.runtime.installation import load_runtime


def test_alert_line_has_title_and_body() -> None:
    """An alert line is the time, the title, a dash and the body."""
    assert alert_line(0, "Claude 80% used", "5-hour window").endswith(
        " Claude 80% used — 5-hour window"
    )


def test_a_long_alert_wraps_under_its_time_instead_of_being_cut() -> None:
    """Every word of a long alert is shown, on lines of at most 80 columns."""
    body = "Past the 75 % line; resets in 2 h 14 min. Slow down or switch to a smaller model."
    lines = alert_line(0, "Claude 5-hour window at 76.3 % (demo data)", body).splitlines()
    assert (True, "      ", "model.") == (
        all(len(line) <= 80 for line in lines),
        lines[1][:6],
        lines[-1].split()[-1],
    )


def test_live_line_names_state_reason_and_fix() -> None:
    """A live state line says the provider, that limits are unavailable, the reason, the fix."""
    assert live_line(0, "codex", "failed", "token expired", "run codex login").endswith(
        " codex: live limits now unavailable — token expired; fix: run codex login"
    )


def test_live_line_says_available_again() -> None:
    """A provider back to ok is "now available"."""
    assert live_line(0, "claude", "ok", "", "").endswith(" claude: live limits now available")


def test_long_live_line_keeps_part_of_the_fix() -> None:
    """A long reason and fix are both cut so the fix still shows, within 80 columns."""
    text = live_line(0, "gemini", "failed", "r" * 100, "sign in to Gemini CLI" + "f" * 100)
    assert (True, True) == (len(text) <= 80, "; fix: sign in to" in text)


def _status(provider: str, state: str) -> LimitsCommitted:
    status = LiveStatus(provider=provider, state=state, checked_at=0, reason="why", fix="how")  # type: ignore[arg-type]
    return LimitsCommitted(
        seq=1, observation_id="o", provider=provider, source="live", observed_at=0, status=status
    )


def test_first_failed_state_is_said() -> None:
    """The first live state seen of a provider is a line when it is a failure."""
    assert live_line(0, "codex", "failed", "why", "how", first=True) == EventLines().line(
        _status("codex", "failed")
    )


def test_first_unconfigured_state_is_quiet() -> None:
    """A CLI this machine is not signed in to is not news at start."""
    assert None is EventLines().line(_status("gemini", "unconfigured"))


def test_change_of_state_is_said_once() -> None:
    """ok then failed then failed again: one line, for the change."""
    lines = EventLines()
    said = [lines.line(_status("codex", s)) for s in ("ok", "failed", "failed")]
    assert [None, live_line(0, "codex", "failed", "why", "how"), None] == said


def test_alert_event_is_a_line() -> None:
    """A committed alert is a line with its title and body."""
    alert = Alert(
        key="k", rule="threshold", provider="claude", title="T", body="B",
        severity="warning", raised_at=0,
    )  # fmt: skip
    assert alert_line(0, "T", "B") == EventLines().line(AlertCommitted(seq=1, alert=alert))


def test_day_watch_names_the_day_that_ended() -> None:
    """When the local date moves on, the day that ended is named once."""
    days = DayWatch(date(2026, 5, 1))
    seen = [
        days.ended(date(2026, 5, 1)),
        days.ended(date(2026, 5, 2)),
        days.ended(date(2026, 5, 2)),
    ]
    assert [None, date(2026, 5, 1), None] == seen


def test_day_total_line() -> None:
    """The day's total line names the day and its cost."""
    assert day_total_line(0, "2026-05-01", 1234.5).endswith(" 2026-05-01 total: $1,234.50")


def _demo_banner(home: Path) -> list[str]:
    runtime = load_runtime()
    looked = {
        "claude": [home / ".config/claude/projects", home / ".claude/projects"],
        "codex": [home / ".codex/sessions", home / ".codex/archived_sessions"],
        "gemini": [home / ".gemini/tmp"],
    }
    return banner_lines(runtime, 8787, home / "stack.log", looked)


def test_demo_banner_says_where_it_looked(hermetic: Path) -> None:
    """In demo mode the banner says so, then one line per CLI of the places looked in."""
    assert [
        "data       demo data, because no CLI logs were found in:",
        "             ~/.config/claude/projects, ~/.claude/projects",
        "             ~/.codex/sessions, ~/.codex/archived_sessions",
        "             ~/.gemini/tmp",
    ] == _demo_banner(hermetic / "home")[2:6]


def test_demo_banner_fits_80_columns(hermetic: Path) -> None:
    """Every line of the demo banner fits 80 columns."""
    assert [] == [line for line in _demo_banner(hermetic / "home") if len(line) > 80]
