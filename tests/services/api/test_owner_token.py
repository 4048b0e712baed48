"""The owner check of ``services.api.guard`` over real HTTP: a real uvicorn on 127.0.0.1 serving
a small Litestar app behind the real ``GuardMiddleware`` and ``Owner``.

Where the peer's uid cannot be told (``unknown_peer``, as on a system without ``sock_diag`` or
``/proc/net/tcp``) the token decides; where it can (the real lookup), the uid does."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from litestar import Litestar, get
from litestar.response import Stream

from otm.up import dashboard_url
from services.api.guard import GuardMiddleware
from services.api.owner import (
    NEEDS_TOKEN,
    OTHER_USER,
    WRONG_TOKEN,
    Owner,
    api_token,
    effective_token,
    token_path,
)
from services.api.peer import Address

TOKEN = "t" * 43


def unknown_peer(client: Address, server: Address) -> int | None:
    """A lookup that can never tell the peer's uid (the token path)."""
    return None


@get("/")
async def home() -> str:
    """A page."""
    return "home"


@get("/v1/status")
async def status() -> dict[str, str]:
    """A JSON route."""
    return {"status": "ok"}


@get("/v1/stream")
async def stream() -> Stream:
    """A stream that sends one event."""

    async def events() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"

    return Stream(events(), media_type="text/event-stream")


def serve(owner: Owner, app: Litestar | None = None) -> Iterator[str]:
    """Serve ``app`` (default: a small one) guarded on 127.0.0.1 in a thread; yield its base
    URL."""
    guarded = GuardMiddleware(app or Litestar([home, status, stream]), owner)
    config = uvicorn.Config(guarded, host="127.0.0.1", port=0, log_config=None, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture
def tokened() -> Iterator[str]:
    """The app where only the token tells the owner."""
    yield from serve(Owner(TOKEN, lookup=unknown_peer))


@pytest.fixture
def served() -> Iterator[Callable[[Owner], str]]:
    """Start the app with a given ``Owner``; stopped at teardown."""
    running: list[Iterator[str]] = []

    def start(owner: Owner) -> str:
        server = serve(owner)
        running.append(server)
        return next(server)

    yield start
    for server in running:
        next(server, None)


def bearer(token: str) -> dict[str, str]:
    """An Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def test_a_bearer_token_lets_the_request_in(tokened: str) -> None:
    """``Authorization: Bearer <token>`` is answered."""
    response = httpx.get(f"{tokened}/v1/status", headers=bearer(TOKEN))
    assert (200, {"status": "ok"}) == (response.status_code, response.json())


def test_no_token_is_refused_saying_how_to_get_one(tokened: str) -> None:
    """Without a token: 401 and the one-line way to get it."""
    response = httpx.get(f"{tokened}/v1/status")
    assert (401, {"error": NEEDS_TOKEN}) == (response.status_code, response.json())


def test_a_401_names_the_bearer_scheme(tokened: str) -> None:
    """A refusal for want of a token says how to authenticate (``WWW-Authenticate``)."""
    response = httpx.get(f"{tokened}/v1/status")
    assert "Bearer" == response.headers["www-authenticate"]


def test_a_wrong_bearer_token_is_refused(tokened: str) -> None:
    """A wrong token: 401."""
    response = httpx.get(f"{tokened}/v1/status", headers=bearer("x" * 43))
    assert (401, {"error": WRONG_TOKEN}) == (response.status_code, response.json())


def test_a_token_in_the_url_becomes_a_cookie_and_leaves_the_url(tokened: str) -> None:
    """``?token=`` on a page: 303 to the same address without it (other parameters kept),
    setting an HttpOnly, SameSite=Strict cookie for the whole site."""
    response = httpx.get(f"{tokened}/provider/claude", params={"days": "90", "token": TOKEN})
    port = tokened.rsplit(":", 1)[1]
    expected = (
        303,
        "/provider/claude?days=90",
        f"otm_token_{port}={TOKEN}; Path=/; HttpOnly; SameSite=Strict",
    )
    assert expected == (
        response.status_code,
        response.headers["location"],
        response.headers["set-cookie"],
    )


def test_the_cookie_lets_the_pages_in(tokened: str) -> None:
    """After the redirect the browser's cookie alone is enough, for pages and the API."""
    with httpx.Client(follow_redirects=True) as browser:
        page = browser.get(f"{tokened}/?token={TOKEN}")
        api = browser.get(f"{tokened}/v1/status")
    assert (200, f"{tokened}/", 200) == (page.status_code, str(page.url), api.status_code)


def test_a_wrong_token_in_the_url_is_refused_and_sets_no_cookie(tokened: str) -> None:
    """A wrong ``?token=``: 401, no cookie."""
    response = httpx.get(f"{tokened}/?token=nope")
    assert (401, None) == (response.status_code, response.headers.get("set-cookie"))


def test_the_redirect_never_leaves_the_site(tokened: str) -> None:
    """``//evil.example/x?token=…`` is sent to a path of this site, not to evil.example."""
    response = httpx.get(f"{tokened}//evil.example/x?token={TOKEN}")
    assert "/evil.example/x" == response.headers["location"]


def test_litestars_own_404_is_guarded(tokened: str) -> None:
    """An unknown route is refused without the token, and a 404 with it."""
    refused = httpx.get(f"{tokened}/no/such/page")
    missing = httpx.get(f"{tokened}/no/such/page", headers=bearer(TOKEN))
    assert (401, 404) == (refused.status_code, missing.status_code)


def test_the_stream_is_guarded(tokened: str) -> None:
    """``/v1/stream`` is refused without the token and streams with it."""
    refused = httpx.get(f"{tokened}/v1/stream")
    streamed = httpx.get(f"{tokened}/v1/stream", headers=bearer(TOKEN))
    assert (401, "data: 1") == (refused.status_code, streamed.text.strip())


def test_no_answer_carries_the_token(tokened: str) -> None:
    """Refusals and the redirect say nothing of the token in their bodies."""
    bodies = [
        httpx.get(f"{tokened}/v1/status").text,
        httpx.get(f"{tokened}/v1/status", headers=bearer("x" * 43)).text,
        httpx.get(f"{tokened}/?token={TOKEN}").text,
    ]
    assert [] == [body for body in bodies if TOKEN in body]


def test_another_users_connection_is_refused_even_with_the_token(
    served: Callable[[Owner], str],
) -> None:
    """The kernel says the peer is not the owner: 403 with the one-line error, token or not."""
    url = served(Owner(TOKEN, uid=os.geteuid() + 1))
    response = httpx.get(f"{url}/v1/status", headers=bearer(TOKEN))
    assert (403, {"error": OTHER_USER}) == (response.status_code, response.json())


def test_the_owners_connection_needs_no_token(served: Callable[[Owner], str]) -> None:
    """The kernel says the peer is the owner: answered without any token."""
    url = served(Owner(TOKEN))
    assert 200 == httpx.get(f"{url}/v1/status").status_code


def test_the_owner_check_has_no_token_in_its_repr() -> None:
    """An Owner printed (in a log, a traceback) shows the uid, never the token."""
    assert TOKEN not in repr(Owner(TOKEN))


# -- the token file ----------------------------------------------------------------------------


def test_the_token_file_is_made_private_and_random(tmp_path: Path) -> None:
    """The first call makes ``api-token``: 0600, 43 URL-safe characters (32 random bytes)."""
    token = api_token(tmp_path)
    mode = stat.S_IMODE(token_path(tmp_path).stat().st_mode)
    assert (0o600, 43, True) == (
        mode,
        len(token),
        all(c.isalnum() or c in "-_" for c in token),
    )


def test_the_token_stays_the_same(tmp_path: Path) -> None:
    """Later calls read the same token."""
    assert api_token(tmp_path) == api_token(tmp_path)


def test_a_cut_token_file_is_replaced(tmp_path: Path) -> None:
    """A token file emptied or cut short is not trusted: a new full token replaces it."""
    token_path(tmp_path).write_text("short\n")
    assert 43 == len(api_token(tmp_path))


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    """Making the token leaves only ``api-token`` in the folder."""
    api_token(tmp_path)
    assert ["api-token"] == sorted(p.name for p in tmp_path.iterdir())


def test_otm_up_shows_the_plain_address_where_the_uid_is_checked(tmp_path: Path) -> None:
    """With the uid check, ``otm up``'s dashboard address has no token (and none is made)."""
    assert ("http://127.0.0.1:8787/", False) == (
        dashboard_url(tmp_path, 8787, uid_check=True),
        token_path(tmp_path).exists(),
    )


def test_otm_up_puts_the_token_in_the_address_without_the_uid_check(tmp_path: Path) -> None:
    """Without the uid check, ``otm up``'s address carries the token once."""
    url = dashboard_url(tmp_path, 8787, uid_check=False)
    assert f"http://127.0.0.1:8787/?token={api_token(tmp_path)}" == url


@pytest.fixture
def tokened_metrics(state: Path) -> Iterator[str]:
    """The real ``/metrics`` route where only the token tells the owner (no database yet)."""
    from services.api.metrics import metrics_route
    from services.runtime.installation import load_runtime

    app = Litestar([metrics_route(load_runtime(), lambda: 0)])
    yield from serve(Owner(TOKEN, lookup=unknown_peer), app)


def test_metrics_need_the_token_where_the_uid_cannot_be_told(tokened_metrics: str) -> None:
    """A scrape without the token gets 401; with it, the metrics."""
    refused = httpx.get(f"{tokened_metrics}/metrics")
    scraped = httpx.get(f"{tokened_metrics}/metrics", headers=bearer(TOKEN))
    assert (401, 200, True) == (
        refused.status_code,
        scraped.status_code,
        "otm_database_readable 0.0" in scraped.text,
    )


def test_otm_up_always_puts_the_token_in_the_address_beyond_loopback(tmp_path: Path) -> None:
    """Beyond loopback the dashboard address carries [api] token, even with the uid check."""
    url = dashboard_url(tmp_path, 8787, uid_check=True, host="192.0.2.2", token=TOKEN)
    assert f"http://192.0.2.2:8787/?token={TOKEN}" == url


def test_effective_token_is_the_configured_one(tmp_path: Path) -> None:
    """[api] token, when set, is the api's token (no state-folder token is made)."""
    assert (TOKEN, False) == (effective_token(tmp_path, TOKEN), token_path(tmp_path).exists())
