"""Local dates of projection slots, computed inside SQLite.

A time zone's UTC offset is constant between DST transitions. We find those stretches across the
data's slot range and hand SQLite one ``CASE`` arm per stretch, so it can group rows by local
date itself: a year of history stays one query, not a Python loop over every slot.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SLOT_SECONDS = 15 * 60
_HOUR = 3600


class UnknownTimezone(ValueError):
    """The ``--tz`` value is not an IANA time zone name."""


def zone(name: str) -> ZoneInfo:
    """The named zone, or ``UnknownTimezone`` with a hint."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None


def local_timezone_name() -> str:
    """The machine's zone name when it can be found (for the default of ``--tz``), else UTC."""
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            return str(link.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    return "UTC"


def offset_stretches(tz: ZoneInfo, first_slot: int, last_slot: int) -> list[tuple[int, int]]:
    """``(start_slot, offset_seconds)`` for each stretch of constant offset over the range."""
    start = first_slot * SLOT_SECONDS
    end = (last_slot + 1) * SLOT_SECONDS
    stretches: list[tuple[int, int]] = []
    t = start - start % _HOUR
    current = _offset(tz, start)
    stretches.append((first_slot, current))
    while t < end:
        nxt = t + _HOUR
        if _offset(tz, nxt) != current:
            # Find the exact 15-minute slot inside this hour where the offset changed.
            s = t
            while _offset(tz, s) == current:
                s += SLOT_SECONDS
            current = _offset(tz, s)
            stretches.append((s // SLOT_SECONDS, current))
        t = nxt
    return stretches


def local_day_sql(column: str, stretches: list[tuple[int, int]]) -> str:
    """A SQL expression giving the local ``YYYY-MM-DD`` of the slot in ``column``."""
    arms = []
    for start_slot, offset in reversed(stretches):
        arms.append(
            f"WHEN {column} >= {start_slot} THEN "
            f"date({column} * {SLOT_SECONDS} + {offset}, 'unixepoch')"
        )
    first_offset = stretches[0][1] if stretches else 0
    default = f"date({column} * {SLOT_SECONDS} + {first_offset}, 'unixepoch')"
    return f"(CASE {' '.join(arms)} ELSE {default} END)"


def day_bounds_slots(tz: ZoneInfo, since: str | None, until: str | None) -> tuple[int, int]:
    """A slot range certainly covering the local dates ``since``..``until`` (inclusive)."""
    lo = -(2**62)
    hi = 2**62
    if since:
        day = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=tz) - timedelta(days=1)
        lo = int(day.astimezone(UTC).timestamp()) // SLOT_SECONDS
    if until:
        day = datetime.strptime(until, "%Y-%m-%d").replace(tzinfo=tz) + timedelta(days=2)
        hi = int(day.astimezone(UTC).timestamp()) // SLOT_SECONDS
    return lo, hi


def _offset(tz: ZoneInfo, epoch: int) -> int:
    delta = datetime.fromtimestamp(epoch, tz).utcoffset()
    return int(delta.total_seconds()) if delta else 0
