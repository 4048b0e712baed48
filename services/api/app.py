"""The HTTP API: health, usage reports and the live stream of committed events.

Reports read the store's SQLite database read-only, one connection per request, in a worker
thread (sqlite is blocking). ``/v1/stream`` is Server-Sent Events fed by the ``StreamHub``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import structlog
from litestar import Litestar, Request, Response, get
from litestar.params import FromQuery, HeaderParameter
from litestar.response import Stream
from litestar.types import Scope

from bus.topics import EVENTS
from otm.reports.build import KINDS, ReportOptions, build_report
from otm.reports.limits import limits_report
from otm.reports.timezones import local_timezone_name
from otm.runtime import Runtime
from services.api.sse import check_prefix, event_stream, resume_point
from services.api.stream import StreamHub, database_head
from services.store.schema import connect_reader

RETRY_AFTER_SECONDS = 2
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

logger = structlog.get_logger().bind(process="api")


class ApiError(Exception):
    """A request that cannot be answered; the message is sent as ``{"error": ...}``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def error_response(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, str]]:
    """Render an ``ApiError`` as JSON, telling clients when to retry a 503."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.status_code == 503 else {}
    return Response({"error": str(exc)}, status_code=exc.status_code, headers=headers)


@contextmanager
def reader(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection for one request; ``ApiError(503)`` while there is no database."""
    if not db_path.exists():
        raise ApiError(
            503, f"no database yet at {db_path}: start the store (otm store, or otm up) and retry"
        )
    try:
        conn = connect_reader(str(db_path))
    except sqlite3.OperationalError as exc:
        raise ApiError(503, f"cannot open the database at {db_path}: {exc}") from None
    try:
        yield conn
    except sqlite3.OperationalError as exc:
        # Typically a database the store has created but not yet migrated.
        raise ApiError(503, f"the database is not ready yet ({exc}); retry shortly") from None
    finally:
        conn.close()


def health(db_path: Path) -> dict[str, Any]:
    """Liveness plus whether the database exists and its head seq."""
    return {"status": "ok", "db": db_path.exists(), "head_seq": database_head(db_path)}


def usage_report(db_path: Path, kind: str, options: ReportOptions) -> dict[str, Any]:
    """The same dict as ``otm report <kind> --json``; 404 for an unknown kind, 400 for a bad
    option."""
    if kind not in KINDS:
        raise ApiError(404, f"no report {kind!r}: use one of {', '.join(KINDS)}")
    with reader(db_path) as conn:
        try:
            return build_report(conn, kind, options)
        except ValueError as exc:  # ReportError and UnknownTimezone both are ValueErrors
            raise ApiError(400, str(exc)) from None


async def log_unexpected(exc: Exception, scope: Scope) -> None:
    """Log exceptions that are not deliberate answers (those are the client's business)."""
    if not isinstance(exc, ApiError):
        logger.error("request_failed", path=scope.get("path"), error=repr(exc))


def create_app(runtime: Runtime, hub: StreamHub) -> Litestar:
    """The Litestar application; the hub starts and stops with it."""

    @get("/healthz", sync_to_thread=True)
    def healthz() -> dict[str, Any]:
        """Liveness, database presence and head seq."""
        return health(runtime.db_path)

    @get("/v1/usage/{kind:str}", sync_to_thread=True)
    def usage(
        kind: str,
        provider: FromQuery[str] = "all",
        tz: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        order: FromQuery[str | None] = None,
        start_of_week: FromQuery[str] = "sunday",
        token_limit: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """``otm report <kind> --json`` (daily|weekly|monthly|session|project|blocks), with the
        same options; ``tz`` defaults to this machine's zone, as on the command line."""
        options = ReportOptions(
            provider=provider,
            tz=tz or local_timezone_name(),
            since=since,
            until=until,
            order=order,
            start_of_week=start_of_week,
            token_limit=token_limit,
        )
        return usage_report(runtime.db_path, kind, options)

    @get("/v1/limits", sync_to_thread=True)
    def limits(provider: FromQuery[str] = "all") -> dict[str, Any]:
        """``otm limits --json``: every rate-limit window with its live countdown."""
        with reader(runtime.db_path) as conn:
            return limits_report(conn, provider)

    @get("/v1/stream")
    async def stream(
        prefix: FromQuery[str] = EVENTS,
        after: FromQuery[int | None] = None,
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
    ) -> Stream:
        """Committed events as Server-Sent Events (id = seq, event = topic, data = JSON)."""
        try:
            resume = resume_point(last_event_id, after)
            check_prefix(prefix)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return Stream(
            event_stream(hub, resume, prefix), media_type="text/event-stream", headers=SSE_HEADERS
        )

    async def start_hub() -> None:
        hub.start(asyncio.get_running_loop())

    async def stop_hub() -> None:
        hub.stop()
        await asyncio.to_thread(hub.join)

    return Litestar(
        route_handlers=[healthz, usage, limits, stream],
        on_startup=[start_hub],
        on_shutdown=[stop_hub],
        exception_handlers={ApiError: error_response},
        after_exception=[log_unexpected],
        logging_config=None,
    )
