"""Every route of the real api process refuses a foreign Host or Origin and sends the
security headers (DNS rebinding and cross-site requests, ``services.api.guard``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from email.utils import parsedate_to_datetime

import httpx
import pytest

from bus.messages import Message
from services.api.guard import CONTENT_SECURITY_POLICY
from tests.services.api.api_support import Api, usage_batch

pytestmark = pytest.mark.e2e

ROUTES = (
    "/",
    "/widget",
    "/healthz",
    "/v1/status",
    "/v1/limits",
    "/v1/alerts",
    "/v1/activity",
    "/v1/usage/daily",
    "/v1/stream",
    "/schema/openapi.json",
    "/no/such/page",
)


@pytest.mark.parametrize("route", ROUTES)
def test_a_rebound_host_is_refused_on_every_route(route: str, start_api: Callable[[], Api]) -> None:
    """A Host that is not loopback (a DNS name rebound to 127.0.0.1) gets 403 everywhere."""
    api = start_api()
    response = httpx.get(
        f"{api.url}{route}", headers={"Host": f"evil.example:{api.url.rsplit(':', 1)[1]}"}
    )
    assert (403, "Host") == (response.status_code, response.json()["error"].split()[0])


@pytest.mark.parametrize("route", ROUTES)
def test_a_foreign_origin_is_refused_on_every_route(
    route: str, start_api: Callable[[], Api]
) -> None:
    """A page from another origin (even another local port) gets 403 everywhere."""
    api = start_api()
    response = httpx.get(f"{api.url}{route}", headers={"Origin": "http://127.0.0.1:1"})
    assert 403 == response.status_code


def test_a_foreign_post_to_refresh_is_refused(start_api: Callable[[], Api]) -> None:
    """POST /v1/refresh from a foreign page is refused before anything is asked."""
    api = start_api()
    response = httpx.post(f"{api.url}/v1/refresh", headers={"Origin": "http://evil.example"})
    assert 403 == response.status_code


def test_the_dashboards_own_origin_may_post(start_api: Callable[[], Api]) -> None:
    """The dashboard's own POST (Origin equal to http://<Host>) is accepted."""
    api = start_api()
    host = f"127.0.0.1:{api.url.rsplit(':', 1)[1]}"
    response = httpx.post(f"{api.url}/v1/refresh", headers={"Origin": f"http://{host}"})
    assert 202 == response.status_code


def test_every_answer_carries_the_content_security_policy(
    start_api: Callable[[], Api],
) -> None:
    """Pages, JSON and errors alike carry the CSP and nosniff."""
    api = start_api()
    for route in ("/", "/healthz", "/v1/usage/nope", "/no/such/page"):
        headers = httpx.get(f"{api.url}{route}").headers
        expected = (CONTENT_SECURITY_POLICY, "nosniff")
        assert expected == (headers["content-security-policy"], headers["x-content-type-options"])


def test_every_answer_is_dated_now(start_api: Callable[[], Api]) -> None:
    """Pages, JSON, errors and refusals carry one Date header, within a second of now."""
    api = start_api()
    foreign = {"Host": "evil.example"}
    for route, headers in (("/", {}), ("/healthz", {}), ("/no/such/page", {}), ("/", foreign)):
        before = time.time()
        answer = httpx.get(f"{api.url}{route}", headers=headers)
        dated = parsedate_to_datetime(answer.headers["date"]).timestamp()
        assert (1, True) == (
            len(answer.headers.get_list("date")),
            before - 1 <= dated <= time.time() + 1,
        )


def test_the_openapi_document_is_served_without_a_cdn_page(
    start_api: Callable[[], Api],
) -> None:
    """/schema/openapi.json is the document, and no Litestar CDN page is served."""
    api = start_api()
    document = httpx.get(f"{api.url}/schema/openapi.json").json()
    redoc = httpx.get(f"{api.url}/schema/redoc")
    assert ("/v1/status", 404) == (
        "/v1/status" if "/v1/status" in document["paths"] else None,
        redoc.status_code,
    )


def test_an_unknown_route_answers_in_the_one_error_shape(start_api: Callable[[], Api]) -> None:
    """Litestar's own 404 comes as {"error": ...} like every other error of the API."""
    api = start_api()
    response = httpx.get(f"{api.url}/v1/nothing-here")
    assert (404, ["error"]) == (response.status_code, list(response.json()))


def test_a_date_at_the_calendar_edge_is_a_400(
    write_direct: Callable[[Iterable[Message]], None], start_api: Callable[[], Api]
) -> None:
    """since=0001-01-01 is a 400 with a one-line error, not a 500."""
    write_direct([usage_batch(1)])
    api = start_api()
    response = httpx.get(f"{api.url}/v1/usage/daily", params={"since": "0001-01-01"})
    assert (400, "--since '0001-01-01' is out of range: use 1970-01-02 to 9998-12-31") == (
        response.status_code,
        response.json()["error"],
    )
