"""The window rules: thresholds, pace and resets, on sequences of readings."""

from __future__ import annotations

from bus.messages import Alert, LimitWindow
from services.notifier.windows import Rules, WindowState, evaluate

NOW = 1_800_000_000.0
RESETS = NOW + 3 * 3600
NO_PACE = Rules(pace=False)


def reading(
    used: float, at: float = NOW, resets_at: float | None = RESETS, **fields: object
) -> LimitWindow:
    """Claude's live 5-hour window at ``used`` %, observed at ``at``."""
    values: dict[str, object] = {
        "provider": "claude",
        "window": "five_hour",
        "used_percent": used,
        "observed_at": at,
        "source": "live",
        "resets_at": resets_at,
        "window_seconds": 5 * 3600,
    }
    values.update(fields)
    return LimitWindow(**values)  # type: ignore[arg-type]


def run(
    readings: list[LimitWindow], rules: Rules = NO_PACE, current: bool = True
) -> tuple[WindowState | None, list[Alert]]:
    """Feed readings in order (each evaluated at its own time); the last state and every alert."""
    state: WindowState | None = None
    alerts: list[Alert] = []
    for window in readings:
        state, decided = evaluate(state, window, current, rules, window.observed_at)
        alerts.extend(decided)
    return state, alerts


def test_rising_window_crosses_each_band_once() -> None:
    """40 -> 80 -> 92 -> 96 % gives one alert per band: 75, 90, 95."""
    _, alerts = run(
        [reading(40), reading(80, NOW + 60), reading(92, NOW + 120), reading(96, NOW + 180)]
    )
    assert [75.0, 90.0, 95.0] == [a.band for a in alerts]


def test_only_the_highest_band_crossed_at_once_fires() -> None:
    """A jump from 40 to 96 % announces 95 only."""
    _, alerts = run([reading(40), reading(96, NOW + 60)])
    assert [95.0] == [a.band for a in alerts]


def test_severity_is_critical_from_95() -> None:
    """75 and 90 warn; 95 is critical."""
    _, alerts = run([reading(80), reading(91, NOW + 60), reading(95, NOW + 120)])
    assert ["warning", "warning", "critical"] == [a.severity for a in alerts]


def test_staying_in_a_band_says_nothing_more() -> None:
    """80 then 85 %: one alert."""
    _, alerts = run([reading(80), reading(85, NOW + 60)])
    assert 1 == len(alerts)


def test_a_few_seconds_of_reset_jitter_is_the_same_window() -> None:
    """resets_at moving by 30 s is the same instance: no second alert, the same key."""
    _, alerts = run([reading(80), reading(81, NOW + 60, resets_at=RESETS + 30)])
    assert [f"threshold:claude:five_hour:{RESETS:.0f}:75"] == [a.key for a in alerts]


def test_reset_after_a_warning_is_announced_and_bands_rearm() -> None:
    """A new instance after a warned one gives a reset alert; 80 % in it warns again."""
    later = RESETS + 5 * 3600
    _, alerts = run(
        [
            reading(80),
            reading(3, RESETS + 10, resets_at=later),
            reading(80, RESETS + 60, resets_at=later),
        ]
    )
    assert [("threshold", 75.0), ("reset", 75.0), ("threshold", 75.0)] == [
        (a.rule, a.band) for a in alerts
    ]
    assert "Claude 5-hour window reset" == alerts[1].title


def test_reset_of_an_unwarned_window_is_silent() -> None:
    """A window that never crossed a band resets without an alert."""
    _, alerts = run([reading(30), reading(3, RESETS + 10, resets_at=RESETS + 5 * 3600)])
    assert [] == alerts


def test_stale_readings_never_alert_but_are_remembered() -> None:
    """Not current: no alert, and the band is not marked as announced."""
    state, alerts = run([reading(96)], current=False)
    assert ([], 0.0) == (alerts, state.band if state else None)


def test_estimated_windows_alert_only_when_asked_and_say_so() -> None:
    """An estimated window is silent by default; with estimated = true the title says so."""
    _, silent = run([reading(80, source="estimated")])
    _, spoken = run([reading(80, source="estimated")], Rules(pace=False, estimated=True))
    assert ([], "Claude 5-hour window at 80 % (estimate)") == (silent, spoken[0].title)


def test_demo_alerts_are_labelled_demo() -> None:
    """In demo mode estimated windows alert, labelled as demo data."""
    _, alerts = run([reading(80, source="estimated")], Rules(pace=False, demo=True))
    assert (True, "Claude 5-hour window at 80 % (demo data)") == (alerts[0].demo, alerts[0].title)


def test_codex_primary_window_is_named_by_its_length() -> None:
    """Codex's primary window of 5 hours reads "Codex 5-hour"; a weekly secondary "weekly"."""
    _, five = run([reading(80, provider="codex", window="primary")])
    _, week = run([reading(80, provider="codex", window="secondary", window_seconds=604_800)])
    assert ("Codex 5-hour window at 80 %", "Codex weekly window at 80 %") == (
        five[0].title,
        week[0].title,
    )


def test_pace_warns_once_when_the_window_runs_out_well_before_reset() -> None:
    """20 % then 50 % ten minutes later, 3 h before reset: 100 % in about 17 min, one alert."""
    rules = Rules(pace=True, thresholds=(75.0,))
    _, alerts = run([reading(20), reading(50, NOW + 600), reading(60, NOW + 800)], rules)
    paced = [a for a in alerts if a.rule == "pace"]
    assert 1 == len(paced)
    assert (f"pace:claude:five_hour:{RESETS:.0f}", "critical", True) == (
        paced[0].key,
        paced[0].severity,
        paced[0].estimated,
    )
    assert "before it resets (50 % now" in paced[0].body


def test_pace_is_silent_when_the_window_lasts_until_reset() -> None:
    """10 % then 12 % in ten minutes, 3 h before reset: it lasts; no pace alert."""
    _, alerts = run([reading(10), reading(12, NOW + 600)], Rules(pace=True))
    assert [] == alerts


def test_pace_needs_minutes_of_readings() -> None:
    """Two readings a minute apart say nothing about pace."""
    _, alerts = run([reading(20), reading(40, NOW + 60)], Rules(pace=True, thresholds=(99.0,)))
    assert [] == alerts


def test_same_readings_give_the_same_keys() -> None:
    """Keys are a function of the readings: a replay decides the very same alerts."""
    readings = [reading(40), reading(80, NOW + 60), reading(96, NOW + 120)]
    assert [a.key for a in run(readings)[1]] == [a.key for a in run(readings)[1]]


def test_first_start_over_old_history_gives_one_alert_for_the_highest_band() -> None:
    """Replayed history (stale readings of past windows) says nothing; the one current reading
    at 92 % gives a single 90 % alert, not a flood of 75, 90 and old resets."""
    old = RESETS - 10 * 3600
    history = [reading(u, NOW - 8 * 3600 + i * 60, resets_at=old) for i, u in enumerate((80, 96))]
    state = None
    for window in history:
        state, silent = evaluate(state, window, False, NO_PACE, NOW)
        assert [] == silent
    state, alerts = evaluate(state, reading(92), True, NO_PACE, NOW)
    assert [("threshold", 90.0)] == [(a.rule, a.band) for a in alerts]


def spend(used: float, at: float = NOW) -> LimitWindow:
    """Claude's statusline spend cap at ``used`` %: a window name the rules have no length for."""
    return reading(used, at, window="spend_limit", source="local-official", window_seconds=None)


def test_spend_limit_over_100_says_it_is_exceeded() -> None:
    """A first spend_limit reading at 130 % is one critical alert naming the real percentage."""
    _, alerts = run([spend(130)])
    assert [("Claude spend limit exceeded: 130 %", "critical", 100.0, 130.0)] == [
        (a.title, a.severity, a.band, a.used_percent) for a in alerts
    ]


def test_passing_100_after_the_top_threshold_alerts_again() -> None:
    """96 % then 130 %: the 95 band, then "exceeded" once; 140 % adds nothing."""
    _, alerts = run([spend(96), spend(130, NOW + 60), spend(140, NOW + 120)])
    assert [95.0, 100.0] == [a.band for a in alerts]


def test_exactly_100_is_not_exceeded() -> None:
    """A window at exactly 100 % is at its limit, not past it: the top threshold only."""
    _, alerts = run([reading(100)])
    assert [("Claude 5-hour window at 100 %", 95.0)] == [(a.title, a.band) for a in alerts]
