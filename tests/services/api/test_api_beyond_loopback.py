"""The api bound beyond loopback (``[api] host``): only with a token, and then every route asks
for it. Real api processes bound to this container's own non-loopback address (or 0.0.0.0),
reached through that address, and a real chromium logging in with ``?token=``."""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from bus.messages import Message
from services.api.owner import NEEDS_TOKEN_REMOTE, WRONG_TOKEN, cookie_name
from tests.services.api.api_support import PROJECT_ROOT, Api, Service, usage_batch

pytestmark = pytest.mark.e2e

TOKEN = "remote-Token_0123456789-abcdefghijklmnopqrstuv"
WRONG = "w" * 43
PAGES_AND_ASSETS = ("/", "/provider/claude", "/status", "/widget", "/static/app.js", "/favicon.ico")
JSON_ROUTES = (
    "/healthz",
    "/v1/usage/daily",
    "/v1/limits",
    "/v1/alerts",
    "/v1/activity",
    "/v1/status",
    "/schema",
    "/schema/openapi.json",
)
EVERY_ROUTE = (*PAGES_AND_ASSETS, *JSON_ROUTES, "/v1/stream", "/metrics", "/no-such-route")
"""``/metrics`` and an unknown route too: the token is asked before any route is looked up."""


def own_address() -> str:
    """This container's first IPv4 address that is not loopback (skips the test if none)."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if (
                address.family == socket.AF_INET
                and not ipaddress.ip_address(address.address).is_loopback
            ):
                return str(address.address)
    pytest.skip("this machine has no IPv4 address other than loopback")


@pytest.fixture
def address() -> str:
    """The non-loopback address the api is bound to and reached through."""
    return own_address()


@pytest.fixture
def serve_on(env: dict[str, str], spawn: Callable[[str], Service]) -> Callable[[str], Api]:
    """Start the api bound to ``host`` with ``TOKEN`` (from OTM_API_HOST / OTM_API_TOKEN)."""

    def start(host: str) -> Api:
        env["OTM_API_HOST"] = host
        env["OTM_API_TOKEN"] = TOKEN
        api = spawn("api")
        assert isinstance(api, Api)
        return api

    return start


@pytest.fixture
def remote_api(
    address: str, serve_on: Callable[[str], Api], write_direct: Callable[[list[Message]], None]
) -> Api:
    """The api process bound to the non-loopback address, over a database with one record."""
    write_direct([usage_batch(1)])
    return serve_on(address)


@pytest.fixture
def remote(address: str, remote_api: Api) -> str:
    """The api's base URL through the non-loopback address."""
    return f"http://{address}:{remote_api.ready['port']}"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A plain HTTP client (no token of its own)."""
    with httpx.Client(timeout=15.0) as c:
        yield c


def bearer(token: str = TOKEN) -> dict[str, str]:
    """The Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def status_of(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> int:
    """The status of GET ``url`` (a stream is closed as soon as its headers arrive)."""
    with client.stream("GET", url, headers=headers) as response:
        return response.status_code


def test_host_beyond_loopback_without_token_refuses_to_start(
    env: dict[str, str], address: str
) -> None:
    """`otm api` on a non-loopback address with no token exits 2 with one line naming
    [api] token and how to make one."""
    environment = {**env, "OTM_API_HOST": address}
    environment.pop("OTM_API_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "otm", "api"],
        env=environment,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    message = str(errors[-1]["error"])
    assert (2, True, True) == (
        done.returncode,
        "needs [api] token" in message,
        "`otm api token --new` makes one" in message,
    )


@pytest.mark.parametrize("path", EVERY_ROUTE)
def test_every_route_needs_the_token(remote: str, client: httpx.Client, path: str) -> None:
    """Without a token every route, pages, assets and the stream included, is 401."""
    assert 401 == status_of(client, remote + path)


def test_refused_answer_says_how_to_send_the_token(remote: str, client: httpx.Client) -> None:
    """The 401 names the token's header and the browser's ?token= login, not the token."""
    response = client.get(remote + "/v1/status")
    assert {"error": NEEDS_TOKEN_REMOTE} == response.json()


def test_refresh_needs_the_token(remote: str, client: httpx.Client) -> None:
    """POST /v1/refresh without a token is 401 too."""
    assert 401 == client.post(remote + "/v1/refresh").status_code


@pytest.mark.parametrize("path", (*PAGES_AND_ASSETS, *JSON_ROUTES))
def test_every_route_answers_with_the_token(remote: str, client: httpx.Client, path: str) -> None:
    """With the bearer token every page, asset and JSON route answers 200."""
    assert 200 == status_of(client, remote + path, bearer())


def test_stream_answers_with_the_token(remote: str, client: httpx.Client) -> None:
    """The SSE stream opens with the bearer token."""
    assert 200 == status_of(client, remote + "/v1/stream", bearer())


@pytest.mark.parametrize("path", ["/", "/v1/status", "/v1/stream"])
def test_wrong_token_is_refused(remote: str, client: httpx.Client, path: str) -> None:
    """A wrong bearer token is 401 on pages, JSON and the stream."""
    assert 401 == status_of(client, remote + path, bearer(WRONG))


def test_wrong_token_answer_holds_no_token(remote: str, client: httpx.Client) -> None:
    """The wrong-token answer says what to do and repeats neither token."""
    response = client.get(remote + "/v1/status", headers=bearer(WRONG))
    assert {"error": WRONG_TOKEN} == response.json()


def test_wrong_token_in_the_url_is_refused(remote: str, client: httpx.Client) -> None:
    """A login URL with a wrong token sets no cookie: 401."""
    response = client.get(remote + f"/?token={WRONG}")
    assert (401, None) == (response.status_code, response.headers.get("set-cookie"))


def test_login_url_sets_a_strict_http_only_cookie(remote: str, client: httpx.Client) -> None:
    """?token= answers 303 to the same page without the token, with the token's cookie."""
    response = client.get(remote + f"/status?x=1&token={TOKEN}")
    port = urlsplit(remote).port or 0
    expected = (
        303,
        "/status?x=1",
        f"{cookie_name(port)}={TOKEN}; Path=/; HttpOnly; SameSite=Strict",
    )
    actual = (
        response.status_code,
        response.headers["location"],
        response.headers["set-cookie"],
    )
    assert expected == actual


def test_cookie_alone_lets_in(remote: str, client: httpx.Client) -> None:
    """The cookie the login sets is enough for the JSON routes."""
    port = urlsplit(remote).port or 0
    response = client.get(remote + "/v1/status", headers={"Cookie": f"{cookie_name(port)}={TOKEN}"})
    assert 200 == response.status_code


def test_foreign_host_is_refused_even_with_the_token(remote: str, client: httpx.Client) -> None:
    """A Host that is no name of this machine (a rebound DNS name) is 403."""
    headers = {**bearer(), "Host": "evil.example"}
    assert 403 == client.get(remote + "/v1/status", headers=headers).status_code


def test_machine_host_name_is_answered(remote: str, client: httpx.Client) -> None:
    """This machine's own host name is a Host the api answers to."""
    port = urlsplit(remote).port
    headers = {**bearer(), "Host": f"{socket.gethostname()}:{port}"}
    assert 200 == client.get(remote + "/v1/status", headers=headers).status_code


def test_foreign_origin_is_refused_even_with_the_token(remote: str, client: httpx.Client) -> None:
    """Another page's Origin is 403: only the dashboard's own origin may call."""
    headers = {**bearer(), "Origin": "http://evil.example"}
    assert 403 == client.get(remote + "/v1/status", headers=headers).status_code


def test_token_is_never_logged(remote: str, remote_api: Api, client: httpx.Client) -> None:
    """After logins, right and wrong, and a stopped api, its log holds neither token."""
    client.get(remote + f"/?token={TOKEN}")
    client.get(remote + f"/?token={WRONG}")
    client.get(remote + "/v1/status", headers=bearer(WRONG))
    remote_api.stop()
    logs = remote_api.log.read_text()
    assert (True, False, False) == ("stopping" in logs, TOKEN in logs, WRONG in logs)


def test_wildcard_host_needs_the_token_on_loopback_too(
    address: str, serve_on: Callable[[str], Api], client: httpx.Client
) -> None:
    """Bound to 0.0.0.0, even a request through 127.0.0.1 needs the token."""
    port = serve_on("0.0.0.0").ready["port"]
    statuses = (
        status_of(client, f"http://127.0.0.1:{port}/v1/status"),
        status_of(client, f"http://{address}:{port}/v1/status", bearer()),
    )
    assert (401, 200) == statuses


def test_loopback_host_needs_no_token(start_api: Callable[[], Api], client: httpx.Client) -> None:
    """On the default 127.0.0.1 the owner's own requests need no token, as before."""
    api = start_api()
    assert ("127.0.0.1", 200) == (api.ready["host"], status_of(client, api.url + "/v1/status"))


OPEN_STREAM = """() => new Promise((opened, failed) => {
    const source = new EventSource('/v1/stream');
    window.firstUsage = new Promise((resolve) => {
        source.addEventListener('evt.usage.claude', (e) => {
            source.close();
            resolve(e.lastEventId);
        });
    });
    source.onopen = () => opened(true);
    setTimeout(() => failed(new Error('the stream did not open')), 15000);
})"""


def test_browser_logs_in_and_streams(
    remote: str, commit: Callable[[list[Message]], list[int]]
) -> None:
    """A real chromium opens the login URL, lands on the dashboard without the token in the
    URL, keeps an HttpOnly strict cookie, and its EventSource gets committed events."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{remote}/?token={TOKEN}")
            page.wait_for_selector("main > :not(p.muted)")
            cookies = page.context.cookies()
            page.evaluate(OPEN_STREAM)  # resolves once the stream is open: live from here
            [seq] = commit([usage_batch(2)])
            got = page.evaluate("() => window.firstUsage")
            seen = (page.url, got, [(c["httpOnly"], c["sameSite"]) for c in cookies])
        finally:
            browser.close()
    assert (f"{remote}/", str(seq), [(True, "Strict")]) == seen
