"""Words for people: provider and window names, durations and clock times in alert texts."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

PROVIDER_NAMES = {"claude": "Claude", "codex": "Codex", "gemini": "Gemini", "all": "All CLIs"}
NAMED_WINDOWS = {
    "five_hour": "5-hour",
    "seven_day": "weekly",
    "seven_day_opus": "weekly Opus",
    "seven_day_sonnet": "weekly Sonnet",
    "seven_day_oauth_apps": "weekly apps",
    "spend_limit": "spend limit",
}
BY_LENGTH = {5 * 3600: "5-hour", 7 * 86_400: "weekly", 86_400: "daily"}


def provider_name(provider: str) -> str:
    """``claude`` -> ``Claude``."""
    return PROVIDER_NAMES.get(provider, provider)


def window_name(window: str, window_seconds: int | None) -> str:
    """``five_hour`` -> ``5-hour``; Codex's ``primary`` of 5 hours -> ``5-hour``; a Gemini
    model's daily bucket -> ``daily gemini-2.5-pro``."""
    if window in NAMED_WINDOWS:
        return NAMED_WINDOWS[window]
    by_length = BY_LENGTH.get(window_seconds or 0)
    if by_length is None:
        return window
    if window in ("primary", "secondary") or window.endswith((":primary", ":secondary")):
        return by_length
    return f"{by_length} {window}"


def duration(seconds: float) -> str:
    """``4200`` -> ``1h10m``; under an hour in minutes, under a minute in seconds."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def clock(epoch: float, tz: str = "", now: float | None = None) -> str:
    """``14:32`` in the configured zone (this machine's when empty); with the weekday when it
    is not today."""
    zone = ZoneInfo(tz) if tz else None
    moment = datetime.fromtimestamp(epoch, zone)
    today = datetime.fromtimestamp(time.time() if now is None else now, zone).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%a %H:%M")


def percent(value: float) -> str:
    """``92.0`` -> ``92 %``, ``92.5`` -> ``92.5 %``."""
    return f"{value:.0f} %" if float(value).is_integer() else f"{value:.1f} %"
