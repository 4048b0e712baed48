"""One entry point for every report, shared by ``otm report <kind>`` and ``GET /v1/usage/<kind>``.

Each kind's module is imported only when asked for, so a daily report never loads the blocks
code (and nothing here loads rich).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from services.queries.reports.common import ReportError

KINDS = ("daily", "weekly", "monthly", "session", "project", "blocks")
ROWS_KEY = {
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "session": "sessions",
    "project": "projects",
    "blocks": "blocks",
}
"""The JSON key holding each kind's rows."""


@dataclass(frozen=True)
class ReportOptions:
    """Every report option; each kind uses the ones that apply to it and ignores the rest.

    ``order=None`` is the kind's own order: oldest first for periods and blocks, most
    expensive first for sessions and projects. ``now_ms`` fixes "now" for blocks (tests).
    """

    provider: str = "all"
    tz: str = "UTC"
    since: str | None = None
    until: str | None = None
    order: str | None = None
    start_of_week: str = "sunday"
    token_limit: str | None = None
    now_ms: int | None = None


def build_report(conn: sqlite3.Connection, kind: str, options: ReportOptions) -> dict[str, Any]:
    """The report ``kind`` as a JSON-ready dict.

    Raises ``ReportError`` or ``UnknownTimezone`` (both ``ValueError``) for a bad option.
    """
    o = options
    if kind in ("daily", "weekly", "monthly"):
        from services.queries.reports import periods

        if kind == "weekly":
            return periods.weekly(
                conn, o.provider, o.tz, o.since, o.until, o.order, start_of_week=o.start_of_week
            )
        build = periods.daily if kind == "daily" else periods.monthly
        return build(conn, o.provider, o.tz, o.since, o.until, o.order)
    if kind in ("session", "project"):
        from services.queries.reports import sessions

        build = sessions.session if kind == "session" else sessions.project
        return build(conn, o.provider, o.tz, o.since, o.until, o.order)
    if kind == "blocks":
        from services.queries.reports.blocks import blocks

        return blocks(
            conn,
            o.provider,
            o.tz,
            o.since,
            o.until,
            o.order,
            token_limit=o.token_limit,
            now_ms=o.now_ms,
        )
    raise ReportError(f"report {kind!r}: use one of {', '.join(KINDS)}")
