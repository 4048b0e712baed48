"""The demo's made-up limits: labelled as estimates, filling up over each window."""

from __future__ import annotations

from services.demo.service import demo_limits


def test_demo_windows_say_they_are_estimates() -> None:
    """Nothing in the demo came from a provider: every window is an estimate of demo data."""
    observed = demo_limits(1_778_900_000.0)
    assert {("estimated", "demo data")} == {(w.source, w.detail) for w in observed.windows}


def test_demo_five_hour_window_fills_up_over_its_span() -> None:
    """Later in the same 5-hour window, more of it is used."""
    start = (1_778_900_000.0 // 18_000) * 18_000
    early, late = demo_limits(start + 60), demo_limits(start + 17_000)
    assert True is (early.windows[0].used_percent < late.windows[0].used_percent)


def test_demo_window_resets_at_its_end() -> None:
    """The five-hour window resets at the next 5-hour boundary."""
    start = (1_778_900_000.0 // 18_000) * 18_000
    assert start + 18_000 == demo_limits(start + 60).windows[0].resets_at


def test_demo_five_hour_window_passes_every_alert_band_within_minutes() -> None:
    """From the demo's start: above 75 % at once, 90 % within 3 minutes, 95 % within 4, never
    above 97 %."""
    start = (1_778_900_000.0 // 18_000) * 18_000 + 600
    used = [
        demo_limits(start + s, started=start).windows[0].used_percent for s in (1, 170, 230, 9000)
    ]
    assert [True, True, True, 97.0] == [used[0] >= 75, used[1] >= 90, used[2] >= 95, used[3]]
