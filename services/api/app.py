"""The HTTP API: health, usage reports and the live stream of committed events.

Reports read the store's SQLite database read-only, one connection per request, in a worker
thread (sqlite is blocking). ``/v1/stream`` is Server-Sent Events fed by the ``StreamHub``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import structlog
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.params import FromQuery, HeaderParameter
from litestar.response import Stream
from litestar.types import Scope

from bus.client import Publisher
from bus.messages import PROVIDERS, RefreshRequested
from bus.topics import EVENTS
from services.api.pages import page_routes
from services.api.sse import check_prefix, event_stream, resume_point
from services.api.stream import StreamHub, database_head
from services.queries.reports.build import KINDS, ReportOptions, build_report
from services.queries.reports.common import providers_of
from services.queries.reports.limits import limits_report, stale_after
from services.queries.reports.timezones import local_timezone_name
from services.runtime.installation import Runtime
from services.store.database import connect_reader
from services.store.trouble import DAMAGED, classify, describe

RETRY_AFTER_SECONDS = 2
OPENAPI = OpenAPIConfig(
    title="OpenTokenMonitor",
    version="1",
    # Only the JSON document, at /schema/openapi.json: Litestar's own pages load their scripts
    # from a CDN (blank offline), and /schema is the dashboard's page rendering this document.
    path="/schema/openapi.json",
    render_plugins=[JsonRenderPlugin(path="/")],
)
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


def http_error_response(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, str]]:
    """Litestar's own answers (unknown route, wrong method, bad parameter) in the API's one
    error shape, ``{"error": ...}``."""
    message = str(exc.detail)
    extra = getattr(exc, "extra", None)
    if exc.status_code == 400 and extra:
        message = f"{message}: {extra}"
    if exc.status_code >= 500:
        return internal_error_response(request, exc)
    return Response({"error": message}, status_code=exc.status_code, headers=exc.headers)


def internal_error_response(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, str]]:
    """A bug, in the one error shape; the details go to the log (``log_unexpected``)."""
    message = "internal error: see the api's log (otm up --verbose, or its log file)"
    return Response({"error": message}, status_code=500)


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


def database_error_handler(
    db_path: Path,
) -> Callable[[Request[Any, Any, Any], sqlite3.DatabaseError], Response[dict[str, str]]]:
    """The answer for a damaged database (or a full disk) wherever a query meets it: 503 with
    the one sentence naming the file and the fix; any other database error is a bug (500)."""

    def database_error_response(
        request: Request[Any, Any, Any], exc: sqlite3.DatabaseError
    ) -> Response[dict[str, str]]:
        kind = classify(exc)
        if kind is None:
            return internal_error_response(request, exc)
        headers = {} if kind == DAMAGED else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return Response({"error": describe(kind, db_path, exc)}, status_code=503, headers=headers)

    return database_error_response


class _Reported:
    """Whether a damaged database was logged already: once per api process, not per request."""

    damaged = False


async def log_unexpected(exc: Exception, scope: Scope) -> None:
    """Log exceptions that are not deliberate answers (those are the client's business); a
    damaged database is one line, the first time a request meets it."""
    if isinstance(exc, ApiError):
        return
    if classify(exc) == DAMAGED:
        if not _Reported.damaged:
            _Reported.damaged = True
            logger.error("database_damaged", path=scope.get("path"), error=str(exc))
        return
    logger.error("request_failed", path=scope.get("path"), error=repr(exc))


class RefreshSender:
    """Publishes manual refresh requests for request handlers (a PUB socket is not
    thread-safe, and handlers run in worker threads)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._publisher: Publisher | None = None

    def start(self) -> None:
        """Connect now: a PUB socket connected long before it sends loses nothing."""
        with self._lock:
            self._publisher = Publisher(self.runtime.endpoints)

    def send(self, providers: tuple[str, ...]) -> None:
        """Ask the collector to read the logs and poll the live limits of ``providers``."""
        with self._lock:
            if self._publisher is None:
                raise ApiError(503, "the API is starting or stopping; retry shortly")
            for provider in providers:
                self._publisher.publish(
                    RefreshRequested(
                        provider=provider, reason="manual", requested_at=time.time(), live=True
                    )
                )

    def stop(self) -> None:
        """Close the socket."""
        with self._lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None


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
        try:
            providers_of(provider)  # a wrong value is a 400 even before the database exists
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        with reader(runtime.db_path) as conn:
            return limits_report(conn, provider, stale_seconds=stale_seconds)

    @get("/v1/alerts", sync_to_thread=True)
    def alerts(limit: FromQuery[int] = 50) -> dict[str, Any]:
        """``otm alerts --json``: recent alerts, the active ones, each channel's delivery."""
        from services.queries.alerts import alerts_report

        if not 1 <= limit <= 1000:
            raise ApiError(400, f"limit={limit}: use 1-1000")
        with reader(runtime.db_path) as conn:
            return alerts_report(conn, runtime, limit)

    @get("/v1/activity", sync_to_thread=True)
    def activity(
        provider: FromQuery[str] = "all",
        limit: FromQuery[int] = 50,
        project: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """Recent prompts with their reply's model, tokens and dollars, newest first."""
        from services.queries.activity import activity_report

        if not 1 <= limit <= 1000:
            raise ApiError(400, f"limit={limit}: use 1-1000")
        settings = runtime.config.activity
        with reader(runtime.db_path) as conn:
            try:
                return activity_report(
                    conn,
                    provider,
                    limit,
                    project,
                    enabled=settings.enabled,
                    keep=settings.keep,
                )
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None

    @get("/v1/status", sync_to_thread=True)
    def status() -> dict[str, Any]:
        """``otm status --json``: processes, roots, skips and every provider's state."""
        from services.queries.status import collect_status

        return collect_status(runtime)

    @post("/v1/refresh", sync_to_thread=True, status_code=202)
    def refresh(provider: FromQuery[str] = "all") -> dict[str, Any]:
        """Ask for a log scan and a live limits poll now. The collector still asks each
        provider no more often than ``[limits] min_interval_seconds``; the outcome arrives on
        the stream as ``evt.limits.<provider>`` and in ``GET /v1/limits``. A cross-site POST
        never gets here (``services.api.guard``)."""
        if provider != "all" and provider not in PROVIDERS:
            raise ApiError(400, f"provider={provider!r}: use one of {', '.join(PROVIDERS)}, all")
        providers = PROVIDERS if provider == "all" else (provider,)
        sender.send(providers)
        return {
            "requested": list(providers),
            "minIntervalSeconds": runtime.config.limits.min_interval_seconds,
        }

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

    sender = RefreshSender(runtime)
    stale_seconds = stale_after(runtime.config.limits.poll_seconds)

    async def start_hub() -> None:
        hub.start(asyncio.get_running_loop())
        sender.start()

    async def stop_hub() -> None:
        sender.stop()
        hub.stop()
        await asyncio.to_thread(hub.join)

    return Litestar(
        route_handlers=[
            healthz,
            usage,
            limits,
            alerts,
            activity,
            status,
            refresh,
            stream,
            *page_routes,
        ],
        openapi_config=OPENAPI,
        on_startup=[start_hub],
        on_shutdown=[stop_hub],
        exception_handlers={
            ApiError: error_response,
            HTTPException: http_error_response,
            sqlite3.DatabaseError: database_error_handler(runtime.db_path),
            Exception: internal_error_response,
        },
        after_exception=[log_unexpected],
        logging_config=None,
    )
