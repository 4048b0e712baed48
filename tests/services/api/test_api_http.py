"""The api process over real HTTP: health, the usage reports, errors, binding and shutdown."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus

import httpx
import psutil
import pytest

from bus.client import Subscriber
from bus.forwarder import Forwarder
from bus.messages import Heartbeat, Message
from bus.topics import HEARTBEAT
from services.queries.reports.build import KINDS, ReportOptions, build_report
from services.queries.reports.periods import daily
from services.runtime.installation import Runtime
from services.store.database import connect_reader
from tests.services.api.api_support import Api, SseReader, price_observed, usage_batch

WriteDirect = Callable[[Iterable[Message]], None]

pytestmark = pytest.mark.e2e


def test_healthz_reports_database_and_head_seq(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """/healthz says the database exists and gives the log's head seq."""
    write_direct([usage_batch(1), usage_batch(2)])
    api = start_api()
    response = httpx.get(f"{api.url}/healthz")
    expected = {"status": "ok", "db": True, "headSeq": 2}
    assert expected == response.json()


def test_healthz_without_database(start_api: Callable[[], Api]) -> None:
    """/healthz stays ok before the store has created the database, with a null head."""
    api = start_api()
    response = httpx.get(f"{api.url}/healthz")
    expected = {"status": "ok", "db": False, "headSeq": None}
    assert expected == response.json()


def test_daily_equals_report_function(
    runtime: Runtime, write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """/v1/usage/daily returns exactly what daily() computes on the same database."""
    write_direct([price_observed(), *(usage_batch(n) for n in range(1, 8))])
    api = start_api()
    response = httpx.get(
        f"{api.url}/v1/usage/daily",
        params={"tz": "Asia/Tokyo", "order": "desc", "since": "2026-01-08"},
    )
    conn = connect_reader(str(runtime.db_path))
    try:
        expected = daily(conn, tz="Asia/Tokyo", order="desc", since="2026-01-08")
    finally:
        conn.close()
    assert expected == response.json()


@pytest.mark.parametrize("kind", KINDS)
def test_each_report_equals_the_cli_json(
    kind: str, runtime: Runtime, write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """/v1/usage/<kind> returns exactly what `otm report <kind> --json` builds."""
    write_direct([price_observed(), *(usage_batch(n) for n in range(1, 8))])
    api = start_api()
    params = {"provider": "claude", "tz": "Asia/Tokyo", "order": "desc", "until": "20260109"}
    response = httpx.get(f"{api.url}/v1/usage/{kind}", params=params)
    conn = connect_reader(str(runtime.db_path))
    try:
        expected = build_report(conn, kind, ReportOptions(**params))
    finally:
        conn.close()
    assert expected == response.json()


def test_weekly_start_of_week_query(
    runtime: Runtime, write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """start_of_week=monday names the weeks by their Monday, as --start-of-week does."""
    write_direct([price_observed(), *(usage_batch(n) for n in range(1, 8))])
    api = start_api()
    response = httpx.get(
        f"{api.url}/v1/usage/weekly", params={"tz": "UTC", "start_of_week": "monday"}
    )
    assert ["2026-01-05"] == [row["week"] for row in response.json()["weekly"]]


def test_unknown_report_is_404_listing_the_kinds(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """/v1/usage/<unknown> is a 404 whose error lists the reports there are."""
    write_direct([usage_batch(1)])
    api = start_api()
    response = httpx.get(f"{api.url}/v1/usage/yearly")
    not_found = HTTPStatus.NOT_FOUND
    assert (not_found, True) == (response.status_code, "blocks" in response.json()["error"])


def test_bad_token_limit_is_400(write_direct: WriteDirect, start_api: Callable[[], Api]) -> None:
    """A token limit that is not a number or 'max' is a 400 naming the option."""
    write_direct([usage_batch(1)])
    api = start_api()
    response = httpx.get(f"{api.url}/v1/usage/blocks", params={"token_limit": "lots"})
    bad_request = HTTPStatus.BAD_REQUEST
    assert (bad_request, True) == (response.status_code, "token limit" in response.json()["error"])


def test_a_bad_option_is_400_even_where_the_kind_ignores_it(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """A wrong token limit on the daily report (which has no blocks) is a 400 too."""
    write_direct([usage_batch(1)])
    api = start_api()
    response = httpx.get(f"{api.url}/v1/usage/daily", params={"token_limit": "lots"})
    assert (400, True) == (response.status_code, "token limit" in response.json()["error"])


def test_daily_bad_timezone_is_400_naming_it(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """An unknown time zone is a 400 whose JSON error names the zone."""
    write_direct([usage_batch(1)])
    api = start_api()
    response = httpx.get(f"{api.url}/v1/usage/daily", params={"tz": "Mars/Olympus_Mons"})
    bad_request = HTTPStatus.BAD_REQUEST
    assert bad_request == response.status_code
    assert "Mars/Olympus_Mons" in response.json()["error"]


def test_daily_without_database_is_503(start_api: Callable[[], Api]) -> None:
    """Before the store has created the database, the report is a 503 saying so."""
    api = start_api()
    response = httpx.get(f"{api.url}/v1/usage/daily")
    unavailable = HTTPStatus.SERVICE_UNAVAILABLE
    assert unavailable == response.status_code
    assert "no database yet" in response.json()["error"]


def test_listens_on_loopback_only(start_api: Callable[[], Api]) -> None:
    """Every listening socket of the api process is bound to 127.0.0.1, none to 0.0.0.0."""
    api = start_api()
    listening = {
        conn.laddr.ip
        for conn in psutil.Process(api.proc.pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }
    expected = {"127.0.0.1"}
    assert expected == listening


def test_sigterm_exits_cleanly_within_two_seconds(
    start_api: Callable[[], Api], open_stream: Callable[..., SseReader]
) -> None:
    """SIGTERM stops the api, even with a stream client attached, with status 0 within 2 s."""
    api = start_api()
    open_stream(api.url).wait_subscribed()
    started = time.monotonic()
    api.proc.send_signal(signal.SIGTERM)
    returncode = api.proc.wait(timeout=5)
    elapsed = time.monotonic() - started
    clean_exit = 0
    assert clean_exit == returncode
    assert elapsed < 2.0, f"took {elapsed:.2f} s"


def test_publishes_heartbeats_as_api(
    runtime: Runtime, bus: Forwarder, start_api: Callable[[], Api]
) -> None:
    """Once running, the api publishes sys.heartbeat messages under the process name "api"."""
    subscriber = Subscriber((HEARTBEAT,), runtime.endpoints)
    try:
        api = start_api()
        beat = _next_heartbeat(subscriber, "api")
    finally:
        subscriber.close()
    assert api.proc.pid == beat.pid


def _next_heartbeat(subscriber: Subscriber, process: str) -> Heartbeat:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = subscriber.recv(timeout_ms=500)
        if got is not None and isinstance(got[1], Heartbeat) and got[1].process == process:
            return got[1]
    raise AssertionError(f"no heartbeat from {process!r}")


def test_limits_route_equals_the_cli_json(
    write_direct: WriteDirect, start_api: Callable[[], Api], runtime: Runtime
) -> None:
    """/v1/limits answers the windows committed in the log, with their live countdowns."""
    import msgspec

    from bus.messages import LimitWindow
    from services.queries.reports.limits import limits_report

    window = LimitWindow(
        provider="codex",
        window="primary",
        used_percent=42.0,
        observed_at=time.time(),
        source="local-official",
        resets_at=time.time() + 3600,
        window_seconds=18_000,
    )
    write_direct([msgspec.structs.replace(usage_batch(1), limits=(window,))])
    api = start_api()
    got = httpx.get(f"{api.url}/v1/limits", params={"provider": "codex"}).json()
    conn = connect_reader(str(runtime.db_path))
    try:
        expected = limits_report(conn, "codex", now=got["checkedAt"])
    finally:
        conn.close()
    assert expected == got
