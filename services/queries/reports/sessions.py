"""``otm report session|project``: tokens and dollars per session and per project.

Built from the ``usage_by_session`` projection (one row per provider, project, session, model,
speed and tier, with first and last use). As in ``ccusage claude session``, ``--since`` and
``--until`` select sessions by the local date of their last activity, sessions without tokens
are left out, and rows are sorted by cost, most expensive first (``--order asc`` reverses it).
A project is the sum of its selected sessions.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.queries.reports.common import (
    Group,
    Pricer,
    Row,
    Shape,
    Sums,
    check_order,
    finish,
    in_range,
    load_prices,
    normalise_date,
    placeholders,
    providers_of,
    row_json,
)
from services.queries.reports.timezones import zone

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable
    from typing import Any

SessionKey = tuple[str, str, str]


def session(
    conn: sqlite3.Connection,
    provider: str = "all",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """``{"sessions": [{"sessionId", "projectPath", "firstActivity", "lastActivity", ...}]}``."""
    shape, pricer, zone_info, direction, sessions = _selected(
        conn, provider, tz, since, until, order
    )
    ranked = sorted(sessions.items(), key=lambda i: _rank(i[0], i[1]), reverse=direction == "desc")
    rows = [
        row_json(
            {
                "sessionId": key[2],
                "projectPath": key[1],
                "firstActivity": _local_date(row.first_ts, zone_info),
                "lastActivity": _local_date(row.last_ts, zone_info),
            },
            row,
            shape,
        )
        for key, row in ranked
    ]
    return finish({"sessions": rows}, pricer, shape, _grand(sessions.values()))


def project(
    conn: sqlite3.Connection,
    provider: str = "all",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """``{"projects": [{"project", "firstActivity", "lastActivity", ...}], "totals"}``.

    Sessions of different providers with the same project string add up to one project.
    """
    shape, pricer, zone_info, direction, sessions = _selected(
        conn, provider, tz, since, until, order
    )
    projects: dict[str, Row] = {}
    for (_, name, _), row in sessions.items():
        projects.setdefault(name, Row()).merge(row)
    ranked = sorted(
        projects.items(), key=lambda i: _rank(("", i[0], ""), i[1]), reverse=direction == "desc"
    )
    rows = [
        row_json(
            {
                "project": name,
                "firstActivity": _local_date(row.first_ts, zone_info),
                "lastActivity": _local_date(row.last_ts, zone_info),
            },
            row,
            shape,
        )
        for name, row in ranked
    ]
    return finish({"projects": rows}, pricer, shape, _grand(projects.values()))


def _selected(
    conn: sqlite3.Connection,
    provider: str,
    tz: str,
    since: str | None,
    until: str | None,
    order: str | None,
) -> tuple[Shape, Pricer, ZoneInfo, str, dict[SessionKey, Row]]:
    """Validated options and the priced sessions whose last activity is in range."""
    providers = providers_of(provider)
    direction = check_order(order, "desc")
    zone_info = zone(tz)
    since, until = normalise_date(since, "--since"), normalise_date(until, "--until")
    rows = conn.execute(
        "SELECT provider, project, session, model, fast, long_context, input, output,"
        " cache_write_5m, cache_write_1h, cache_read, reasoning, total, web_searches,"
        " first_ts, last_ts"
        f" FROM usage_by_session WHERE provider IN ({placeholders(providers)})",
        providers,
    ).fetchall()
    grouped: dict[SessionKey, list[tuple[Group, int, int]]] = {}
    for provider_name, project_name, session_id, *values, first_ts, last_ts in rows:
        group = Group(provider_name, *values)
        key = (provider_name, project_name, session_id)
        grouped.setdefault(key, []).append((group, first_ts, last_ts))
    pricer = Pricer(load_prices(conn, providers))
    sessions: dict[SessionKey, Row] = {}
    for key, groups in grouped.items():
        last = max(last_ts for _, _, last_ts in groups)
        if not in_range(_local_date(last, zone_info), since, until):
            continue
        if not any(_has_tokens(g) for g, _, _ in groups):
            continue
        row = Row()
        for group, first_ts, last_ts in groups:
            row.add(group, pricer.sums(group), first_ts, last_ts)
        sessions[key] = row
    return Shape.of(provider), pricer, zone_info, direction, sessions


def _has_tokens(g: Group) -> bool:
    return any(
        (g.input, g.output, g.cache_write_5m, g.cache_write_1h, g.cache_read, g.reasoning, g.total)
    )


def _rank(key: SessionKey, row: Row) -> tuple[int, int, SessionKey]:
    """Sort key: cost, then last activity, then the key itself (a stable, total order)."""
    return row.totals.cost_pusd, row.last_ts or 0, key


def _grand(rows: Iterable[Row]) -> Sums:
    grand = Sums()
    for row in rows:
        grand.add(row.totals)
    return grand


def _local_date(ts_ms: int | None, tz: ZoneInfo) -> str:
    """The local ``YYYY-MM-DD`` of an epoch-millisecond time."""
    return datetime.fromtimestamp((ts_ms or 0) / 1000, tz).date().isoformat()
