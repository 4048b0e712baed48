"""``otm report session|project``: tokens and dollars per session and per project.

Built from the ``usage_by_session`` projection (one row per provider, project, session, model,
speed and tier, with first and last use). As in ccusage 20.0.24's ``claude|codex|gemini
session``, ``--since`` and ``--until`` select *records* by their local date before they are
grouped into sessions: a session active on both sides of ``--since`` shows only its tokens from
``--since`` on, its ``firstActivity``/``lastActivity`` are those of the records kept, and a
session with no record in range is left out. (FORMATS.md §2.6 says ccusage filters whole
sessions on ``lastActivity``; 20.0.24 does not — probed on all three CLIs: a session with
records on 05-01 and 05-03 under ``--since 20260502`` keeps only the 05-03 ones.) A session
lying wholly inside or outside the range is taken from the projection as it is; only a session
straddling a bound is summed again from its records in ``usage_records``. Sessions without
tokens are left out, and rows are sorted by cost, most expensive first (``--order asc``
reverses it). A project is the sum of its selected sessions.
"""

from __future__ import annotations

from datetime import date, datetime
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
SessionGroups = list[tuple[Group, int, int]]
"""A session's projection rows: each group with its first and last use (epoch ms)."""

_DAY_MS = 86_400_000
_MAX_OFFSET_MS = 26 * 3_600_000
"""More than any zone's UTC offset: the window of raw records that can fall on a local date."""


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
    """Validated options and the priced sessions, each cut to its records in range."""
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
    grouped: dict[SessionKey, SessionGroups] = {}
    for provider_name, project_name, session_id, *values, first_ts, last_ts in rows:
        group = Group(provider_name, *values)
        key = (provider_name, project_name, session_id)
        grouped.setdefault(key, []).append((group, first_ts, last_ts))
    pricer = Pricer.load(conn, providers)
    projects_of: dict[tuple[str, str], set[str]] = {}
    for provider_name, project_name, session_id in grouped:
        projects_of.setdefault((provider_name, session_id), set()).add(project_name)
    sessions: dict[SessionKey, Row] = {}
    for key, groups in grouped.items():
        kept = _in_range(conn, key, groups, zone_info, since, until, projects_of)
        if not any(_has_tokens(g) for g, _, _ in kept):
            continue
        row = Row()
        for group, first_ts, last_ts in kept:
            row.add(group, pricer.sums(group), first_ts, last_ts)
        sessions[key] = row
    return Shape.of(provider), pricer, zone_info, direction, sessions


def _in_range(
    conn: sqlite3.Connection,
    key: SessionKey,
    groups: SessionGroups,
    tz: ZoneInfo,
    since: str | None,
    until: str | None,
    projects_of: dict[tuple[str, str], set[str]],
) -> SessionGroups:
    """The part of a session whose records fall on local dates in ``since..until``.

    The projection's rows are used as they are when the session lies wholly inside the range;
    a session straddling a bound is summed again from its records.
    """
    first = _local_date(min(f for _, f, _ in groups), tz)
    last = _local_date(max(last for _, _, last in groups), tz)
    if (since and last < since) or (until and first > until):
        return []
    if in_range(first, since, until) and in_range(last, since, until):
        return groups
    provider, project_name, session_id = key
    # usage_records holds no project: only a session id that several projects share needs
    # each record's project, read from the event that committed it (rare, and slower).
    shared = len(projects_of[(provider, session_id)]) > 1
    return _records_in_range(
        conn, provider, session_id, tz, since, until, project_name if shared else None
    )


def _records_in_range(
    conn: sqlite3.Connection,
    provider: str,
    session_id: str,
    tz: ZoneInfo,
    since: str | None,
    until: str | None,
    project_name: str | None = None,
) -> SessionGroups:
    """A session's records on local dates in ``since..until``, grouped as the projection is
    (only those of ``project_name`` when given)."""
    low = _utc_ms(since) - _MAX_OFFSET_MS if since else 0
    high = _utc_ms(until) + _DAY_MS + _MAX_OFFSET_MS if until else 2**62
    rows = conn.execute(
        "SELECT model, fast, long_context, input, output, cache_write_5m, cache_write_1h,"
        " cache_read, reasoning, total, ts_ms, key FROM usage_records"
        " WHERE provider = ? AND session = ? AND ts_ms >= ? AND ts_ms < ?",
        (provider, session_id, low, high),
    ).fetchall()
    rows = [r for r in rows if in_range(_local_date(r[10], tz), since, until)]
    if project_name is not None:
        projects = _projects_of_keys(conn, [r[11] for r in rows])
        rows = [r for r in rows if projects.get(r[11]) == project_name]
    sums: dict[tuple[str, int, int], list[int]] = {}
    for model, fast, long_context, *tokens, ts_ms, _ in rows:
        acc = sums.get((model, fast, long_context))
        if acc is None:
            sums[(model, fast, long_context)] = [*tokens, ts_ms, ts_ms]
            continue
        for i, value in enumerate(tokens):
            acc[i] += value
        acc[7], acc[8] = min(acc[7], ts_ms), max(acc[8], ts_ms)
    return [
        (Group(provider, model, fast, long_context, *acc[:7]), acc[7], acc[8])
        for (model, fast, long_context), acc in sums.items()
    ]


def _projects_of_keys(conn: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
    """Each record key's project, from the committed event whose record now counts."""
    from bus.codec import decode
    from bus.messages import UsageCommitted

    seqs: set[int] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found = conn.execute(
            f"SELECT seq FROM usage_claims WHERE key IN ({placeholders(chunk)})", chunk
        ).fetchall()
        seqs.update(seq for (seq,) in found)
    wanted = set(keys)
    projects: dict[str, str] = {}
    for seq in sorted(seqs):
        (body,) = conn.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
        event = decode(body)
        if isinstance(event, UsageCommitted):
            projects.update((r.key, r.project) for r in event.records if r.key in wanted)
    return projects


def _utc_ms(day: str) -> int:
    """Epoch milliseconds of UTC midnight starting ``day`` (``YYYY-MM-DD``)."""
    return (date.fromisoformat(day) - date(1970, 1, 1)).days * _DAY_MS


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
