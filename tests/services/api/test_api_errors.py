"""Every error of the api in its one shape, ``{"error": "..."}``: Litestar's own 404, 405 and
parameter errors from the real api process, and a bug's 500 from a real uvicorn serving the
same exception handlers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from litestar import Litestar, get

from services.api.errors import INTERNAL, exception_handlers
from tests.services.api.api_support import Api


@pytest.mark.e2e
def test_unknown_route_is_404_pointing_at_the_schema(start_api: Callable[[], Api]) -> None:
    """A path no route serves: 404 in the one shape, naming the path and where routes are."""
    api = start_api()
    response = httpx.get(f"{api.url}/v2/nothing")
    expected = (404, {"error": "no route /v2/nothing: the routes are listed at /schema"})
    assert expected == (response.status_code, response.json())


@pytest.mark.e2e
def test_wrong_method_is_405_with_allow(start_api: Callable[[], Api]) -> None:
    """A POST to a GET route: 405 in the one shape, with the methods it takes in ``Allow``."""
    api = start_api()
    response = httpx.post(f"{api.url}/healthz")
    expected = (405, "GET, OPTIONS", {"error": "POST is not allowed on /healthz: use GET, OPTIONS"})
    assert expected == (response.status_code, response.headers["allow"], response.json())


@pytest.mark.e2e
def test_bad_parameter_is_400_naming_it(start_api: Callable[[], Api]) -> None:
    """A parameter of the wrong type: 400 in the one shape, naming the parameter."""
    api = start_api()
    response = httpx.get(f"{api.url}/v1/alerts", params={"limit": "many"})
    expected = (400, ["error"], True)
    body = response.json()
    assert expected == (response.status_code, list(body), body["error"].startswith("bad request"))


@pytest.mark.e2e
def test_a_bad_parameters_error_does_not_repeat_the_query(start_api: Callable[[], Api]) -> None:
    """The 400 says what is wrong without echoing the query string (it may hold a token)."""
    api = start_api()
    response = httpx.get(f"{api.url}/v1/alerts", params={"limit": "0", "other": "s3cret-ish"})
    expected = (400, False, True)
    message = response.json()["error"]
    assert expected == (response.status_code, "s3cret" in message, "limit" in message)


@pytest.mark.e2e
def test_the_openapi_document_has_only_the_one_error_shape(start_api: Callable[[], Api]) -> None:
    """Every error answer the document lists is ``ErrorBody``, none Litestar's own shape."""
    api = start_api()
    document = httpx.get(f"{api.url}/schema/openapi.json").json()
    shapes = {
        str(answer["content"]["application/json"]["schema"])
        for operations in document["paths"].values()
        for operation in operations.values()
        for status, answer in operation["responses"].items()
        if int(status) >= 400
    }
    assert {"{'$ref': '#/components/schemas/ErrorBody'}"} == shapes


@get("/boom", sync_to_thread=False)
def boom() -> dict[str, str]:
    """A route with a bug."""
    raise RuntimeError("secret detail of a bug")


@pytest.fixture
def buggy(tmp_path: Path) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 serving ``boom`` with the api's exception handlers."""
    app = Litestar([boom], exception_handlers=exception_handlers(tmp_path / "otm.db"))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_a_bug_is_500_in_the_one_shape_without_its_details(buggy: str) -> None:
    """An unexpected exception: 500, ``{"error": ...}`` pointing at the log, nothing of the bug."""
    response = httpx.get(f"{buggy}/boom")
    assert (500, {"error": INTERNAL}) == (response.status_code, response.json())
