"""One entry point for every report, shared by ``otm report <kind>`` and ``GET /v1/usage/<kind>``.

Each kind's module is imported only when asked for, so a daily report never loads the blocks
code (and nothing here loads rich).
"""

from __future__ import annotations

from services.queries.reports.common import Fields, ReportError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

KINDS = ("daily", "weekly", "monthly", "session", "project", "blocks", "machines")
ROWS_KEY = {
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "session": "sessions",
    "project": "projects",
    "blocks": "blocks",
    "machines": "machines",
}
"""The JSON key holding each kind's rows."""


class ReportOptions(Fields):
    """Every report option; each kind uses the ones that apply to it and ignores the rest.

    ``order=None`` is the kind's own order: oldest first for periods and blocks, most
    expensive first for sessions and projects. ``now_ms`` fixes "now" for blocks (tests).
    ``machine`` is ``--machine``: comma-separated machine names or ids (``None``: every
    machine). Immutable and hashable.
    """

    __slots__ = (
        "machine",
        "now_ms",
        "order",
        "provider",
        "since",
        "start_of_week",
        "token_limit",
        "tz",
        "until",
    )
    provider: str
    tz: str
    since: str | None
    until: str | None
    order: str | None
    start_of_week: str
    token_limit: str | None
    now_ms: int | None
    machine: str | None

    def __init__(
        self,
        *,
        provider: str = "all",
        tz: str = "UTC",
        since: str | None = None,
        until: str | None = None,
        order: str | None = None,
        start_of_week: str = "sunday",
        token_limit: str | None = None,
        now_ms: int | None = None,
        machine: str | None = None,
    ) -> None:
        set_field = object.__setattr__
        set_field(self, "provider", provider)
        set_field(self, "tz", tz)
        set_field(self, "since", since)
        set_field(self, "until", until)
        set_field(self, "order", order)
        set_field(self, "start_of_week", start_of_week)
        set_field(self, "token_limit", token_limit)
        set_field(self, "now_ms", now_ms)
        set_field(self, "machine", machine)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ReportOptions is immutable: cannot set {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(getattr(self, n) for n in self.__slots__))


def build_report(conn: sqlite3.Connection, kind: str, options: ReportOptions) -> dict[str, Any]:
    """The report ``kind`` as a JSON-ready dict.

    Raises ``ReportError`` or ``UnknownTimezone`` (both ``ValueError``) for a bad option
    (``--machine`` naming no known machine included).
    """
    from services.queries.reports.machines import machine_scope, resolve_machines

    if kind not in KINDS:
        raise ReportError(f"report {kind!r}: use one of {', '.join(KINDS)}")
    machines = resolve_machines(conn, options.machine)
    o = options
    if kind == "machines":
        from services.queries.reports.machines import machines_report

        return machines_report(conn, o.provider, o.tz, o.since, o.until, o.order, machines)
    with machine_scope(conn, machines):
        return _build(conn, kind, options)


def _build(conn: sqlite3.Connection, kind: str, o: ReportOptions) -> dict[str, Any]:
    """The report ``kind`` over the machines the connection is scoped to."""
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
