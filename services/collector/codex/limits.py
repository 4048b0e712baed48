"""Codex's own rate-limit numbers, as its ``token_count`` events log them (FORMATS.md 3.2).

Every ``token_count`` event (including ``info:null`` ones) may carry::

    "rate_limits":{"limit_id":"codex","limit_name":null,
      "primary":{"used_percent":12.0,"window_minutes":300,"resets_at":1777640000},
      "secondary":{"used_percent":3.0,"window_minutes":10080,"resets_at":1778200000},
      "credits":{...},"plan_type":"plus"}

Weekly-only plans (late 2026, FORMATS.md 9; reported, no real file seen here yet) put the
7-day window in ``primary``, ``secondary`` presumably null or absent::

    "rate_limits":{"limit_id":"codex","limit_name":null,
      "primary":{"used_percent":41.0,"window_minutes":10080,"resets_at":1778200000},
      "secondary":null,"plan_type":"..."}

so a window is named by its ``window_minutes``: 300 is ``primary`` (the 5-hour window) and
10080 is ``secondary`` (the weekly one), wherever it sits; only a window without a known length
keeps the name of its position. ``resets_at`` is epoch seconds; older builds wrote
``resets_in_seconds``, relative to the line's timestamp. These are the provider's own numbers,
so the windows are ``local-official``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from bus.messages import LimitWindow
from services.collector.codex.records import PROVIDER

SOURCE: Final = "local-official"
WINDOWS: Final = ("primary", "secondary")
"""The positions in ``rate_limits``, and the names of windows of unknown length."""
BY_MINUTES: Final = {300.0: "primary", 10080.0: "secondary"}
"""Window names by length: the names the notifier, the block report and the API know."""


def parse_rate_limits(value: Any, observed_ms: int) -> list[LimitWindow]:
    """The windows in one ``rate_limits`` object seen on a line stamped ``observed_ms``.

    A window without a numeric ``used_percent`` is left out; anything else missing just stays
    unknown (``None``). ``detail`` is a small JSON object with ``limit_id``, ``limit_name`` and
    ``plan_type`` when the log gives them, so several limit families stay apart.
    """
    if type(value) is not dict:
        return []
    observed_at = observed_ms / 1000
    detail = _detail(value)
    windows = []
    for position in WINDOWS:
        window = value.get(position)
        if type(window) is not dict:
            continue
        used = _number(window.get("used_percent"))
        if used is None:
            continue
        minutes = _number(window.get("window_minutes"))
        windows.append(
            LimitWindow(
                provider=PROVIDER,
                window=window_name(position, minutes),
                used_percent=used,
                observed_at=observed_at,
                source=SOURCE,
                resets_at=_resets_at(window, observed_at),
                window_seconds=None if minutes is None else round(minutes * 60),
                detail=detail,
            )
        )
    return windows


def window_key(window: LimitWindow) -> tuple[str, str]:
    """What makes two observations the same window: its name and its limit family."""
    return window.window, window.detail


def shape_key(value: dict[str, Any]) -> tuple[object, ...]:
    """Cheap stand-in for the windows a ``rate_limits`` object will give: two objects with the
    same key give the same window keys, so only the last of them needs parsing."""
    return (
        *(v if type(v) is str else None for v in map(value.get, ("limit_id", "limit_name"))),
        value.get("plan_type") if type(value.get("plan_type")) is str else None,
        *(_position_name(value, position) for position in WINDOWS),
    )


def latest_windows(observations: Iterable[tuple[Any, int]]) -> list[LimitWindow]:
    """The last reading of each window among ``(rate_limits, observed_ms)`` in time order."""
    latest: dict[tuple[str, str], LimitWindow] = {}
    for value, observed_ms in observations:
        for window in parse_rate_limits(value, observed_ms):
            key = window_key(window)
            latest.pop(key, None)
            latest[key] = window
    return list(latest.values())


def window_name(position: str, minutes: float | None) -> str:
    """The name of the window at ``position`` (``primary``/``secondary``) that lasts
    ``minutes``: by its length when known, else by its position."""
    return BY_MINUTES.get(minutes, position) if minutes is not None else position


def _position_name(value: dict[str, Any], position: str) -> str | None:
    """The name the window at ``position`` would get, ``None`` when there is none."""
    window = value.get(position)
    if type(window) is not dict:
        return None
    return window_name(position, _number(window.get("window_minutes")))


def _resets_at(window: dict[str, Any], observed_at: float) -> float | None:
    """``resets_at`` (epoch seconds), else the line's time plus ``resets_in_seconds``."""
    absolute = _number(window.get("resets_at"))
    if absolute is not None:
        return absolute
    relative = _number(window.get("resets_in_seconds"))
    return None if relative is None else observed_at + relative


def _detail(value: dict[str, Any]) -> str:
    """``limit_id``/``limit_name``/``plan_type`` (the string ones) as compact JSON."""
    fields = {
        key: value[key]
        for key in ("limit_id", "limit_name", "plan_type")
        if type(value.get(key)) is str
    }
    return msgspec.json.encode(fields).decode() if fields else ""


def _number(value: Any) -> float | None:
    """An int or float (never a bool) as float, else ``None``."""
    if type(value) is int or type(value) is float:
        return float(value)
    return None
