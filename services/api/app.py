"""The HTTP API: health, usage reports and the live stream of committed events.

Reports read the store's SQLite database read-only, one connection per request, in a worker
thread (sqlite is blocking). ``/v1/stream`` is Server-Sent Events fed by the ``StreamHub``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import msgspec
import structlog
from litestar import Litestar, get, post
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.params import HeaderParameter, Parameter
from litestar.response import Stream
from litestar.types import Scope

from bus.client import Publisher
from bus.messages import PROVIDERS, RefreshRequested
from bus.topics import EVENTS
from services.api.answers import (
    ActivityAnswer,
    AlertsAnswer,
    LimitsAnswer,
    MachinesAnswer,
    UsageAnswer,
)
from services.api.errors import ApiError, error_responses, exception_handlers
from services.api.pages import page_routes
from services.api.sse import check_prefix, event_stream, resume_point
from services.api.stream import StreamHub, database_head
from services.queries.reports.blocks import TokenLimit
from services.queries.reports.build import KINDS, ReportOptions, build_report
from services.queries.reports.common import ReportError, providers_of
from services.queries.reports.limits import limits_report, stale_after
from services.queries.reports.periods import WEEK_STARTS
from services.queries.reports.timezones import local_timezone_name
from services.queries.status_types import StatusReport
from services.runtime.installation import Runtime
from services.store.database import connect_reader
from services.store.trouble import DAMAGED, classify

OPENAPI = OpenAPIConfig(
    title="OpenTokenMonitor",
    version="1",
    # Only the JSON document, at /schema/openapi.json: Litestar's own pages load their scripts
    # from a CDN (blank offline), and /schema is the dashboard's page rendering this document.
    path="/schema/openapi.json",
    render_plugins=[JsonRenderPlugin(path="/")],
    use_handler_docstrings=True,  # each route's docstring is its description
)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

logger = structlog.get_logger().bind(process="api")


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


class Health(msgspec.Struct, frozen=True, rename="camel"):
    """``GET /healthz``."""

    status: Literal["ok"]
    db: bool
    """Whether the database exists."""
    head_seq: int | None
    """The last committed event's seq; null before the database exists."""


class Refreshing(msgspec.Struct, frozen=True, rename="camel"):
    """``POST /v1/refresh``: what was asked for."""

    requested: list[str]
    """The providers asked."""
    min_interval_seconds: float
    """The collector asks each provider no more often than this."""


# The enums and patterns (schema_extra: the document only, Litestar does not enforce them) are
# for the OpenAPI document; the handlers check the values themselves, so a wrong one gets the
# same message as on the command line.
Provider = Annotated[
    str,
    Parameter(
        description=f"one of {', '.join(PROVIDERS)}, or all",
        schema_extra={"enum": [*PROVIDERS, "all"]},
    ),
]
DAY = Parameter(
    description="YYYYMMDD or YYYY-MM-DD (inclusive), a calendar date",
    schema_extra={"pattern": r"^[0-9]{4}-?(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])$"},
)
Limit = Annotated[int, Parameter(description="how many, newest first", ge=1, le=1000)]


def health(db_path: Path) -> Health:
    """Liveness plus whether the database exists and its head seq."""
    return Health(status="ok", db=db_path.exists(), head_seq=database_head(db_path))


def usage_report(db_path: Path, kind: str, options: ReportOptions) -> dict[str, Any]:
    """The same dict as ``otm report <kind> --json``; 404 for an unknown kind, 400 for a bad
    option."""
    if kind not in KINDS:
        raise ApiError(404, f"no report {kind!r}: use one of {', '.join(KINDS)}")
    with reader(db_path) as conn:
        try:
            check_every_option(options)
            return build_report(conn, kind, options)
        except ValueError as exc:  # ReportError and UnknownTimezone both are ValueErrors
            raise ApiError(400, str(exc)) from None


def check_every_option(options: ReportOptions) -> None:
    """``ReportError`` for a wrong option even where the kind does not use it: the API takes
    every option on every kind, and a mistyped one should not pass unnoticed."""
    TokenLimit.parse(options.token_limit)
    if options.start_of_week not in WEEK_STARTS:
        raise ReportError(f"start of week {options.start_of_week!r}: use 'sunday' or 'monday'")


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

    @get("/healthz", sync_to_thread=True, responses=error_responses())
    def healthz() -> Health:
        """Liveness, database presence and head seq."""
        return health(runtime.db_path)

    @get("/v1/usage/{kind:str}", sync_to_thread=True, responses=error_responses(400, 404, 503))
    def usage(
        kind: Annotated[
            str, Parameter(description="the report", schema_extra={"enum": list(KINDS)})
        ],
        provider: Provider = "all",
        tz: Annotated[
            str | None,
            Parameter(description="IANA time zone for days and hours; default: this machine's"),
        ] = None,
        since: Annotated[str | None, DAY] = None,
        until: Annotated[str | None, DAY] = None,
        order: Annotated[
            str | None,
            Parameter(
                description="default: the kind's own order (oldest first; sessions and "
                "projects: most expensive first)",
                schema_extra={"enum": ["asc", "desc"]},
            ),
        ] = None,
        start_of_week: Annotated[
            str,
            Parameter(
                description="weekly: the day weeks start on",
                schema_extra={"enum": ["sunday", "monday"]},
            ),
        ] = "sunday",
        token_limit: Annotated[
            str | None,
            Parameter(
                description="blocks: a token count, or 'max' for the largest past block",
                schema_extra={"pattern": r"^(max|0*[1-9][0-9]*)$"},
            ),
        ] = None,
        machine: Annotated[
            str | None,
            Parameter(
                description="only these machines: names or ids (or id prefixes of 8 digits "
                "or more), comma-separated; default: every machine",
            ),
        ] = None,
    ) -> UsageAnswer:
        """``otm report <kind> --json``, with the same options; the JSON ccusage prints for the
        same report (camelCase keys)."""
        options = ReportOptions(
            provider=provider,
            tz=tz or local_timezone_name(),
            since=since,
            until=until,
            order=order,
            start_of_week=start_of_week,
            token_limit=token_limit,
            machine=machine,
        )
        return cast(UsageAnswer, usage_report(runtime.db_path, kind, options))

    @get("/v1/machines", sync_to_thread=True, responses=error_responses(503))
    def machines() -> MachinesAnswer:
        """Every machine whose usage the store holds: name, id, last seen, tokens, dollars
        and share; the names and ids ``?machine=`` takes."""
        from services.queries.reports.machines import machines_list

        with reader(runtime.db_path) as conn:
            return cast(MachinesAnswer, machines_list(conn))

    @get("/v1/limits", sync_to_thread=True, responses=error_responses(400, 503))
    def limits(provider: Provider = "all") -> LimitsAnswer:
        """``otm limits --json``: every rate-limit window with its live countdown."""
        try:
            providers_of(provider)  # a wrong value is a 400 even before the database exists
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        with reader(runtime.db_path) as conn:
            return cast(LimitsAnswer, limits_report(conn, provider, stale_seconds=stale_seconds))

    @get("/v1/alerts", sync_to_thread=True, responses=error_responses(400, 503))
    def alerts(limit: Limit = 50) -> AlertsAnswer:
        """``otm alerts --json``: recent alerts, the active ones, each channel's delivery."""
        from services.queries.alerts import alerts_report

        with reader(runtime.db_path) as conn:
            return cast(AlertsAnswer, alerts_report(conn, runtime, limit))

    @get("/v1/activity", sync_to_thread=True, responses=error_responses(400, 503))
    def activity(
        provider: Provider = "all",
        limit: Limit = 50,
        project: Annotated[
            str | None, Parameter(description="only this project (its path or name)")
        ] = None,
    ) -> ActivityAnswer:
        """Recent prompts with their reply's model, tokens and dollars, newest first."""
        from services.queries.activity import activity_report

        settings = runtime.config.activity
        with reader(runtime.db_path) as conn:
            try:
                answer = activity_report(
                    conn, provider, limit, project, enabled=settings.enabled, keep=settings.keep
                )
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        return cast(ActivityAnswer, answer)

    @get("/v1/status", sync_to_thread=True, responses=error_responses())
    def status() -> StatusReport:
        """``otm status --json``: processes, roots, skips and every provider's state."""
        from services.queries.status import collect_status

        return collect_status(runtime)

    @post("/v1/refresh", sync_to_thread=True, status_code=202, responses=error_responses(400, 503))
    def refresh(provider: Provider = "all") -> Refreshing:
        """Ask for a log scan and a live limits poll now. The collector still asks each
        provider no more often than ``[limits] min_interval_seconds``; the outcome arrives on
        the stream as ``evt.limits.<provider>`` and in ``GET /v1/limits``. A cross-site POST
        never gets here (``services.api.guard``)."""
        if provider != "all" and provider not in PROVIDERS:
            raise ApiError(400, f"provider={provider!r}: use one of {', '.join(PROVIDERS)}, all")
        providers = PROVIDERS if provider == "all" else (provider,)
        sender.send(providers)
        return Refreshing(
            requested=list(providers),
            min_interval_seconds=runtime.config.limits.min_interval_seconds,
        )

    @get("/v1/stream", responses=error_responses(400))
    async def stream(
        prefix: Annotated[
            str, Parameter(description="only topics starting with this (evt., evt.usage., ...)")
        ] = EVENTS,
        after: Annotated[
            int | None, Parameter(description="resume after this seq (else: from now on)", ge=0)
        ] = None,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(name="Last-Event-ID", description="the browser's resume point"),
        ] = None,
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
            machines,
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
        exception_handlers=exception_handlers(runtime.db_path),
        after_exception=[log_unexpected],
        logging_config=None,
    )
