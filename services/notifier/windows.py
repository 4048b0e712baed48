"""Alert rules on one rate-limit window: thresholds, pace, and the reset after a warning.

Each official window of each provider has a state that follows its *instances* (one 5-hour
window, then the next): the band already announced in this instance, whether pace was
announced, and the recent readings pace is computed from. A reading decides alerts only when it
is current (not stale by the same rule ``otm limits`` uses), so replaying old history on a new
install announces nothing old, and the newest reading of a window already above a band gives
one alert for its highest band.

Keys are ``<rule>:<provider>:<window>:<instance>[:<band>]``; the instance is the first
``resets_at`` seen for it, to the second, and later readings within ``JITTER_SECONDS`` of it
belong to the same instance, so providers' few seconds of jitter never make a second alert.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from bus.messages import Alert, LimitWindow
from services.notifier.labels import clock, duration, percent, provider_name, window_name

JITTER_SECONDS = 120.0
PACE_SPAN_SECONDS = 30 * 60
"""Pace is measured over the readings of the last 30 minutes."""
PACE_MIN_SPAN_SECONDS = 5 * 60
"""Fewer minutes of readings than this say nothing about pace."""
CRITICAL_BAND = 95.0
EXCEEDED_BAND = 100.0
"""Beyond the configured thresholds: a reading over 100 % (Claude's ``spend_limit`` can pass
it) has gone past the limit itself, which is announced once per instance as "exceeded"."""


class WindowState(msgspec.Struct, frozen=True):
    """What the rules remember of one window (kept in the notifier's database)."""

    instance: float
    """The instance's id: its first ``resets_at`` (or the start of its span when none)."""
    band: float = 0.0
    """The highest band announced in this instance (0: none)."""
    paced: bool = False
    samples: tuple[tuple[float, float], ...] = ()
    """``(observed_at, used_percent)`` of recent readings, oldest first."""


@dataclass(frozen=True)
class Rules:
    """The ``[alerts]`` settings the window rules use."""

    thresholds: tuple[float, ...] = (75.0, 90.0, 95.0)
    estimated: bool = False
    pace: bool = True
    pace_margin_seconds: float = 15 * 60
    resets: bool = True
    tz: str = ""
    demo: bool = False


def evaluate(
    previous: WindowState | None,
    window: LimitWindow,
    current: bool,
    rules: Rules,
    now: float,
) -> tuple[WindowState, list[Alert]]:
    """The window's new state and the alerts this reading decides. ``current`` says the
    reading is not stale (only current readings alert)."""
    instance = _instance(previous, window)
    alerts: list[Alert] = []
    if previous is not None and instance != previous.instance:
        if previous.band and rules.resets and current:
            alerts.append(_reset_alert(window, previous, rules, now))
        previous = None
    state = previous or WindowState(instance=instance)
    if window.used_percent is None:
        return state, alerts
    state = _with_sample(state, window.observed_at, window.used_percent)
    if not current or not _alertable(window, rules):
        return state, alerts
    crossed = [band for band in rules.thresholds if window.used_percent >= band]
    if window.used_percent > EXCEEDED_BAND:
        crossed.append(EXCEEDED_BAND)
    if crossed and max(crossed) > state.band:
        state = msgspec.structs.replace(state, band=max(crossed))
        alerts.append(_threshold_alert(window, state, rules, now))
    if rules.pace and not state.paced:
        paced = _pace_alert(window, state, rules, now)
        if paced is not None:
            state = msgspec.structs.replace(state, paced=True)
            alerts.append(paced)
    return state, alerts


def _instance(previous: WindowState | None, window: LimitWindow) -> float:
    if window.resets_at is None:
        span = window.window_seconds or 86_400
        return float(window.observed_at // span * span)
    if previous is not None and abs(window.resets_at - previous.instance) <= JITTER_SECONDS:
        return previous.instance
    return float(round(window.resets_at))


def _alertable(window: LimitWindow, rules: Rules) -> bool:
    return window.source != "estimated" or rules.estimated or rules.demo


def _with_sample(state: WindowState, at: float, used: float) -> WindowState:
    kept = tuple(s for s in state.samples if at - s[0] <= PACE_SPAN_SECONDS and s[0] < at)
    return msgspec.structs.replace(state, samples=(*kept, (at, used)))


def _key(rule: str, window: LimitWindow, instance: float, band: float | None = None) -> str:
    tail = "" if band is None else f":{band:g}"
    return f"{rule}:{window.provider}:{window.window}:{instance:.0f}{tail}"


def _label(window: LimitWindow) -> str:
    return f"{provider_name(window.provider)} {window_name(window.window, window.window_seconds)}"


def _suffix(window: LimitWindow, rules: Rules) -> str:
    if rules.demo:
        return " (demo data)"
    return " (estimate)" if window.source == "estimated" else ""


def _threshold_alert(window: LimitWindow, state: WindowState, rules: Rules, now: float) -> Alert:
    used = window.used_percent or 0.0
    resets = ""
    if window.resets_at is not None:
        at = clock(window.resets_at, rules.tz, now)
        resets = f"; resets in {duration(window.resets_at - now)} (at {at})"
    if state.band >= EXCEEDED_BAND:
        title = f"{_label(window)} exceeded: {percent(used)}"
        body = f"Past 100 %{resets}."
    else:
        title = f"{_label(window)} window at {percent(used)}"
        body = f"Past the {percent(state.band)} line{resets}."
    return Alert(
        key=_key("threshold", window, state.instance, state.band),
        rule="threshold",
        provider=window.provider,
        title=title + _suffix(window, rules),
        body=body,
        severity="critical" if state.band >= CRITICAL_BAND else "warning",
        raised_at=now,
        window=window.window,
        band=state.band,
        used_percent=used,
        resets_at=window.resets_at,
        estimated=window.source == "estimated",
        demo=rules.demo,
    )


def _pace_alert(window: LimitWindow, state: WindowState, rules: Rules, now: float) -> Alert | None:
    if window.resets_at is None or window.used_percent is None or len(state.samples) < 2:
        return None
    (first_at, first_used), (last_at, last_used) = state.samples[0], state.samples[-1]
    if last_at - first_at < PACE_MIN_SPAN_SECONDS or last_used <= first_used:
        return None
    rate = (last_used - first_used) / (last_at - first_at)
    full_at = last_at + (100.0 - last_used) / rate
    early = window.resets_at - full_at
    if last_used >= 100.0 or early < rules.pace_margin_seconds:
        return None
    return Alert(
        key=_key("pace", window, state.instance),
        rule="pace",
        provider=window.provider,
        title=f"{_label(window)}: at this pace 100 % at {clock(full_at, rules.tz, now)}",
        body=(
            f"{duration(early)} before it resets ({percent(last_used)} now; an estimate from "
            f"the last {duration(last_at - first_at)}){_suffix(window, rules)}."
        ),
        severity="critical",
        raised_at=now,
        window=window.window,
        used_percent=last_used,
        resets_at=window.resets_at,
        estimated=True,
        demo=rules.demo,
    )


def _reset_alert(window: LimitWindow, previous: WindowState, rules: Rules, now: float) -> Alert:
    used = "" if window.used_percent is None else f" ({percent(window.used_percent)} used now)"
    return Alert(
        key=_key("reset", window, previous.instance),
        rule="reset",
        provider=window.provider,
        title=f"{_label(window)} window reset{_suffix(window, rules)}",
        body=f"It had passed {percent(previous.band)}; a new window has started{used}.",
        severity="info",
        raised_at=now,
        window=window.window,
        band=previous.band,
        used_percent=window.used_percent,
        resets_at=window.resets_at,
        estimated=window.source == "estimated",
        demo=rules.demo,
    )
