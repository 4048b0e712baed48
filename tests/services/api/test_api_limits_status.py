"""The api's live limits surfaces over real HTTP: GET /v1/status, GET /v1/limits and
POST /v1/refresh (its origin check, and the request it puts on the bus).

``check_origin`` itself is tested without a process in test_api_origin.py."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from bus.client import Publisher, Subscriber
from bus.forwarder import Forwarder
from bus.messages import (
    CreditBalance,
    LimitsObserved,
    LimitWindow,
    LiveStatus,
    Message,
    RefreshRequested,
)
from services.runtime.installation import Runtime
from tests.helpers import await_subscription
from tests.services.api.api_support import Api

WriteDirect = Callable[[Iterable[Message]], None]
DOWN = "HTTP 500 from chatgpt.com: the provider's server failed"
RETRY = "nothing to do: it is retried later"
BUS_SECONDS = 10.0

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The api tests' environment, with every CLI's home inside the test's own directory."""
    for key, folder in (("HOME", "user"), ("CODEX_HOME", "codex"), ("GEMINI_CLI_HOME", "gemini")):
        monkeypatch.setenv(key, str(tmp_path / folder))
    return dict(os.environ)


def live(provider: str, at: float, status: LiveStatus, **fields: object) -> LimitsObserved:
    """A live observation of ``provider`` made at ``at``."""
    values: dict[str, object] = {
        "observation_id": f"live:{provider}:{at}",
        "provider": provider,
        "source": "live",
        "observed_at": at,
        "status": status,
    }
    values.update(fields)
    return LimitsObserved(**values)  # type: ignore[arg-type]


def claude_ok(at: float) -> LimitsObserved:
    """Claude answered at ``at``: one window and its extra-usage credit."""
    window = LimitWindow(
        provider="claude",
        window="five_hour",
        used_percent=37.0,
        observed_at=at,
        source="live",
        resets_at=at + 3600,
        window_seconds=18_000,
    )
    extra = CreditBalance(
        provider="claude", name="extra_usage", used="12.50", limit="50.00", currency="USD"
    )
    status = LiveStatus(provider="claude", state="ok", checked_at=at, next_poll_at=at + 60)
    return live("claude", at, status, windows=(window,), credits=(extra,))


def claude_failed(at: float) -> LimitsObserved:
    """Claude's endpoint failed at ``at``."""
    status = LiveStatus(
        provider="claude", state="failed", checked_at=at, kind="server", reason=DOWN, fix=RETRY
    )
    return live("claude", at, status)


def codex_failed(at: float) -> LimitsObserved:
    """Codex's endpoint failed at ``at``."""
    status = LiveStatus(
        provider="codex",
        state="failed",
        checked_at=at,
        kind="server",
        reason=DOWN,
        fix=RETRY,
        http_status=500,
    )
    return live("codex", at, status)


# -- GET /v1/status ---------------------------------------------------------------------------


def test_status_gives_every_provider_a_state(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """/v1/status says claude is available (fresh ok check) and codex is not (failed, no logs)."""
    now = time.time()
    write_direct([claude_ok(now - 30), codex_failed(now - 30)])
    api = start_api()
    providers = httpx.get(f"{api.url}/v1/status").json()["providers"]
    expected = {
        "claude": "available",
        "codex": "unavailable",
        "gemini": "unavailable",
    }
    assert expected == {name: p["state"] for name, p in providers.items()}


def test_status_gives_the_failed_checks_reason_and_fix(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """A provider whose live check failed carries that check's reason and fix."""
    write_direct([codex_failed(time.time() - 30)])
    api = start_api()
    codex = httpx.get(f"{api.url}/v1/status").json()["providers"]["codex"]
    assert (f"no codex logs found; {DOWN}", RETRY, "failed") == (
        codex["reason"],
        codex["fix"],
        codex["live"]["state"],
    )


# -- GET /v1/limits ---------------------------------------------------------------------------


def test_limits_include_live_statuses(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """/v1/limits has each provider's last live check under "live"."""
    now = time.time()
    write_direct([claude_ok(now - 30), codex_failed(now - 30)])
    api = start_api()
    body = httpx.get(f"{api.url}/v1/limits").json()
    expected = {"claude": ("ok", None), "codex": ("failed", 500)}
    assert expected == {p: (s["state"], s["httpStatus"]) for p, s in body["live"].items()}


def test_limits_include_credits(write_direct: WriteDirect, start_api: Callable[[], Api]) -> None:
    """/v1/limits lists credits with the provider's decimal strings."""
    write_direct([claude_ok(time.time() - 30)])
    api = start_api()
    body = httpx.get(f"{api.url}/v1/limits").json()
    assert [("extra_usage", "12.50", "50.00", "USD")] == [
        (c["name"], c["used"], c["limit"], c["currency"]) for c in body["credits"]
    ]


def test_limits_mark_windows_stale_after_a_failed_check(
    write_direct: WriteDirect, start_api: Callable[[], Api]
) -> None:
    """A window kept from an earlier poll is stale with the later failure's reason."""
    now = time.time()
    write_direct([claude_ok(now - 60), claude_failed(now - 10)])
    api = start_api()
    (window,) = httpx.get(f"{api.url}/v1/limits", params={"provider": "claude"}).json()["limits"]
    assert (37.0, True, f"the last live check failed: {DOWN}") == (
        window["usedPercent"],
        window["stale"],
        window["staleReason"],
    )


# -- POST /v1/refresh -------------------------------------------------------------------------


def test_refresh_is_accepted_for_every_provider(start_api: Callable[[], Api]) -> None:
    """POST /v1/refresh answers 202 naming every provider and the polling floor."""
    api = start_api()
    response = httpx.post(f"{api.url}/v1/refresh")
    expected = (
        HTTPStatus.ACCEPTED,
        {"requested": ["claude", "codex", "gemini"], "minIntervalSeconds": 60.0},
    )
    assert expected == (response.status_code, response.json())


def test_refresh_of_one_provider(start_api: Callable[[], Api]) -> None:
    """POST /v1/refresh?provider=codex requests codex only."""
    api = start_api()
    response = httpx.post(f"{api.url}/v1/refresh", params={"provider": "codex"})
    assert (HTTPStatus.ACCEPTED, ["codex"]) == (response.status_code, response.json()["requested"])


def test_refresh_of_an_unknown_provider_is_400(start_api: Callable[[], Api]) -> None:
    """An unknown provider is a 400 whose error lists the valid ones."""
    api = start_api()
    response = httpx.post(f"{api.url}/v1/refresh", params={"provider": "mistral"})
    assert (HTTPStatus.BAD_REQUEST, True) == (
        response.status_code,
        "claude, codex, gemini, all" in response.json()["error"],
    )


def test_limits_of_an_unknown_provider_is_400(start_api: Callable[[], Api]) -> None:
    """``GET /v1/limits?provider=mistral`` is a 400 listing the valid providers."""
    api = start_api()
    response = httpx.get(f"{api.url}/v1/limits", params={"provider": "mistral"})
    assert (HTTPStatus.BAD_REQUEST, True) == (
        response.status_code,
        "claude|codex|gemini|all" in response.json()["error"],
    )


def test_refresh_from_a_foreign_origin_is_403(start_api: Callable[[], Api]) -> None:
    """A browser POST from another site's page is refused."""
    api = start_api()
    response = httpx.post(f"{api.url}/v1/refresh", headers={"Origin": "https://evil.example"})
    assert (HTTPStatus.FORBIDDEN, True) == (
        response.status_code,
        "https://evil.example" in response.json()["error"],
    )


def test_refresh_from_the_same_origin_is_allowed(start_api: Callable[[], Api]) -> None:
    """A POST whose Origin is the api's own address is accepted."""
    api = start_api()
    response = httpx.post(f"{api.url}/v1/refresh", headers={"Origin": api.url})
    assert HTTPStatus.ACCEPTED == response.status_code


def test_refresh_puts_a_manual_live_request_on_the_bus(
    runtime: Runtime, bus: Forwarder, start_api: Callable[[], Api]
) -> None:
    """After POST /v1/refresh a subscriber receives RefreshRequested(live=True, "manual")."""
    api = start_api()
    subscriber = Subscriber(("cmd.refresh.",), runtime.endpoints)
    probe = Publisher(runtime.endpoints)
    try:
        await_subscription(lambda body: probe.publish_raw("cmd.refresh.probe", body), subscriber)
        received = None
        deadline = time.monotonic() + BUS_SECONDS
        while received is None and time.monotonic() < deadline:
            httpx.post(f"{api.url}/v1/refresh", params={"provider": "claude"})
            # The api's socket may still be learning of the subscription: ask again if needed.
            item = subscriber.recv(timeout_ms=1000)
            if item is not None and isinstance(item[1], RefreshRequested):
                received = item[1]
    finally:
        probe.close()
        subscriber.close()
    assert received is not None
    assert ("claude", "manual", True) == (received.provider, received.reason, received.live)
