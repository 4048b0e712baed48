"""Machines in reports: ``--machine`` (which machines a report counts) and ``otm report
machines`` (one row per machine).

A filter is applied to the connection, not to each report's SQL: for the length of one report
every usage projection the reports read (``usage_by_slot``, ``usage_by_session``,
``usage_records``, ``usage_by_hour``) is shadowed by a temporary view holding the chosen
machines' rows only (SQLite looks up unqualified names in ``temp`` first). Every kind then
filters the same way, and a report without ``--machine`` runs the very SQL it always ran.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime

from services.queries.reports.common import (
    Pricer,
    ReportError,
    Row,
    Shape,
    Sums,
    check_order,
    finish,
    normalise_date,
    providers_of,
    row_json,
)
from services.queries.reports.timezones import zone

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from typing import Any

SCOPED_TABLES = ("usage_by_slot", "usage_by_session", "usage_records", "usage_by_hour")
"""The usage projections a machine filter narrows."""
ID_PREFIX = 8
"""How much of a machine's id tables show (and the shortest prefix ``--machine`` accepts)."""


def known_machines(conn: sqlite3.Connection) -> list[tuple[str, str, int, int]]:
    """Every machine seen: ``(id, name, first_seen_ms, last_seen_ms)``, by name then id."""
    rows = conn.execute(
        "SELECT id, name, first_seen_ms, last_seen_ms FROM machines ORDER BY name, id"
    ).fetchall()
    return [(str(i), str(n), int(f), int(last)) for i, n, f, last in rows]


def resolve_machines(conn: sqlite3.Connection, spec: str | None) -> tuple[str, ...]:
    """The machine ids ``--machine`` names: comma-separated names, ids or id prefixes (at
    least ``ID_PREFIX`` digits); ``()`` when ``spec`` is empty (every machine).
    ``ReportError`` for a name that matches no machine, or an ambiguous one."""
    wanted = [part.strip() for part in (spec or "").split(",") if part.strip()]
    if not wanted:
        return ()
    machines = known_machines(conn)
    chosen: list[str] = []
    for word in wanted:
        matches = _matches(machines, word)
        if len(matches) != 1:
            listed = ", ".join(f"{n} ({i[:ID_PREFIX]})" for i, n, _, _ in machines) or "none yet"
            problem = "matches no machine" if not matches else "matches several machines"
            raise ReportError(f"machine {word!r} {problem}: known machines are {listed}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return tuple(sorted(chosen))


def _matches(machines: list[tuple[str, str, int, int]], word: str) -> list[str]:
    """Ids named by ``word``: an exact id, else names equal to it (case aside), else ids it
    begins (``ID_PREFIX`` digits or more)."""
    exact = [i for i, _, _, _ in machines if i == word.lower()]
    if exact:
        return exact
    named = [i for i, n, _, _ in machines if n.casefold() == word.casefold()]
    if named:
        return named
    if len(word) >= ID_PREFIX:
        return [i for i, _, _, _ in machines if i.startswith(word.lower())]
    return []


@contextmanager
def machine_scope(conn: sqlite3.Connection, machines: tuple[str, ...]) -> Iterator[None]:
    """Within the block, the usage projections of ``conn`` hold only ``machines``' rows
    (every machine when empty). The connection must not be shared meanwhile."""
    if not machines:
        yield
        return
    # A view takes no parameters: the ids are spelt into it, each as a quoted SQL string.
    listed = ", ".join("'" + m.replace("'", "''") + "'" for m in machines)
    for table in SCOPED_TABLES:
        conn.execute(
            f"CREATE TEMP VIEW {table} AS SELECT * FROM main.{table} WHERE machine IN ({listed})"
        )
    try:
        yield
    finally:
        for table in SCOPED_TABLES:
            conn.execute(f"DROP VIEW IF EXISTS temp.{table}")


def machines_report(
    conn: sqlite3.Connection,
    provider: str = "all",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
    machines: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``{"machines": [{"machine", "machineId", "firstSeen", "lastSeen", tokens...}],
    "totals"}``: each machine's usage over the same days and providers as ``daily``, most
    expensive first (``order="asc"`` reverses). ``lastSeen`` is the time of its latest record
    (UTC ISO), ``firstSeen`` of its first."""
    from services.queries.reports.periods import day_groups

    providers = providers_of(provider)
    direction = check_order(order, "desc")
    zone_info = zone(tz)
    since, until = normalise_date(since, "--since"), normalise_date(until, "--until")
    shape = Shape.of(provider)
    pricer = Pricer.load(conn, providers)
    listed = [m for m in known_machines(conn) if not machines or m[0] in machines]
    rows: dict[str, Row] = defaultdict(Row)
    for machine_id, *_ in listed:
        with machine_scope(conn, (machine_id,)):
            for _day, group, first_ts in day_groups(conn, providers, zone_info, since, until):
                rows[machine_id].add(group, pricer.sums(group), first_ts)
    grand = Sums()
    out = []
    for machine_id, name, first_ms, last_ms in listed:
        row = rows[machine_id]
        grand.add(row.totals)
        head = {
            "machine": name or machine_id[:ID_PREFIX],
            "machineId": machine_id,
            "firstSeen": _iso(first_ms),
            "lastSeen": _iso(last_ms),
        }
        out.append((row.totals.cost_pusd, row.totals.total, name, row_json(head, row, shape)))
    out.sort(key=lambda item: item[:3], reverse=direction == "desc")
    return finish({"machines": [item[3] for item in out]}, pricer, shape, grand)


def machines_list(conn: sqlite3.Connection) -> dict[str, Any]:
    """``GET /v1/machines``: every machine with its id, name, first and last record times, its
    tokens and dollars over all time, its share of all tokens and whether it is the store's
    own, most tokens first."""
    report = machines_report(conn)
    grand = report["totals"]["totalTokens"] or 0
    row = conn.execute("SELECT value FROM store_machine WHERE name = 'id'").fetchone()
    own = "" if row is None else str(row[0])
    entries = [
        {
            "id": r["machineId"],
            "name": r["machine"],
            "firstSeen": r["firstSeen"],
            "lastSeen": r["lastSeen"],
            "totalTokens": r["totalTokens"],
            "totalCost": r["totalCost"],
            "share": round(r["totalTokens"] / grand, 4) if grand else 0.0,
            "local": r["machineId"] == own,
        }
        for r in report["machines"]
    ]
    entries.sort(key=lambda e: (-e["totalTokens"], e["name"], e["id"]))
    return {"machines": entries}


def _iso(ms: int) -> str | None:
    """A record time as UTC ISO 8601 (``None`` for a machine that has counted none)."""
    if not ms:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
