"""Gemini CLI's live quota: the Google sign-in, renewing it in memory, Code Assist's answers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from services.collector.gemini.live import GeminiLiveSource, gemini_live_source
from services.collector.gemini.signin import OAUTH_CLIENT_ID, UNSUPPORTED_FIX, USER_AGENT
from services.collector.live.http import new_client
from services.collector.live.source import LiveResult, LiveSource
from services.runtime.config import Config, GeminiConfig, LimitsConfig
from tests.fake_endpoint import FakeEndpoint, Reply

ACCESS = "ya29.CANARY-ACCESS-7f3a91"
REFRESH = "1//CANARY-REFRESH-91bc44"
ID_TOKEN = "eyJCANARY-ID-55d0e2"
RENEWED = "ya29.CANARY-RENEWED-c0de77"
CANARIES = (ACCESS, REFRESH, ID_TOKEN, RENEWED)
NOW = 1_778_900_000.0
"""2026-05-16 02:53:20 UTC."""
LOAD = "/v1internal:loadCodeAssist"
QUOTA = "/v1internal:retrieveUserQuota"
TOKEN = "/token"
TIMEOUT = 0.5
SCOPE = "https://www.googleapis.com/auth/cloud-platform openid"
LOADED: dict[str, Any] = {
    "currentTier": {"id": "standard-tier", "name": "Standard"},
    "paidTier": {"id": "g1-standard", "name": "Gemini Code Assist Standard"},
    "cloudaicompanionProject": "proj-123",
    "allowedTiers": [{"id": "standard-tier", "isDefault": True}],
}
BUCKETS: list[dict[str, Any]] = [
    {
        "modelId": "gemini-2.5-pro",
        "tokenType": "REQUESTS",
        "remainingFraction": 0.87,
        "remainingAmount": "870",
        "resetTime": "2026-05-17T00:00:00Z",
    },
    {
        "modelId": "gemini-2.5-pro",
        "tokenType": "TOKENS",
        "remainingFraction": 0.5,
        "remainingAmount": "500000",
        "resetTime": "2026-05-16T12:00:00.123456789Z",
    },
    {
        "modelId": "gemini-2.5-flash",
        "tokenType": "REQUESTS",
        "remainingFraction": 1,
        "remainingAmount": "1500",
        "resetTime": "2026-05-17T00:00:00Z",
        "someNewField": {"x": 1},
    },
]


def creds(**changes: Any) -> dict[str, Any]:
    """An ``oauth_creds.json`` valid for half an hour after ``NOW``, with ``changes`` applied."""
    document: dict[str, Any] = {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "scope": SCOPE,
        "token_type": "Bearer",
        "id_token": ID_TOKEN,
        "expiry_date": int((NOW + 1800) * 1000),
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def write_creds(home: Path, document: dict[str, Any] | None = None) -> Path:
    """Write Gemini CLI's credentials under ``home`` and return their path."""
    path = home / ".gemini" / "oauth_creds.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(creds() if document is None else document))
    return path


def write_settings(home: Path, auth_type: str) -> None:
    """Write Gemini CLI's ``settings.json`` choosing the login ``auth_type``."""
    path = home / ".gemini" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"security": {"auth": {"selectedType": auth_type}}}))


def source_for(
    fake: FakeEndpoint, home: Path, env: dict[str, str] | None = None
) -> GeminiLiveSource:
    """A source whose endpoint and token URL are ``fake``, with a short timeout."""
    config = Config(
        gemini=GeminiConfig(code_assist_endpoint=fake.url),
        limits=LimitsConfig(timeout_seconds=TIMEOUT),
    )
    return gemini_live_source(config, env=env or {}, home=home, token_url=fake.url + TOKEN)


def serve(fake: FakeEndpoint, loaded: Any = None, quota: Any = None) -> None:
    """Answer both Code Assist calls (by default: a Standard account with ``BUCKETS``)."""
    fake.answer(LOAD, Reply(200, LOADED if loaded is None else loaded))
    fake.answer(QUOTA, Reply(200, {"buckets": BUCKETS} if quota is None else quota))


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """The HTTP client the poller would use."""
    with new_client() as http:
        yield http


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home directory holding a valid Gemini CLI sign-in."""
    write_creds(tmp_path)
    return tmp_path


def poll(fake: FakeEndpoint, home: Path, client: httpx.Client, **env: str) -> LiveResult:
    """One poll of a fresh source at ``NOW``."""
    return source_for(fake, home, env).poll(client, NOW)


# -- where things are ---------------------------------------------------------------------------


def test_source_satisfies_the_live_source_protocol(tmp_path: Path) -> None:
    """The source is a ``LiveSource`` for provider ``gemini``."""
    source: LiveSource = gemini_live_source(Config(), env={}, home=tmp_path)
    assert "gemini" == source.provider


def test_credentials_default_to_home_dot_gemini(tmp_path: Path) -> None:
    """Without ``GEMINI_CLI_HOME`` the sign-in is ``~/.gemini/oauth_creds.json``."""
    source = gemini_live_source(Config(), env={}, home=tmp_path)
    assert tmp_path / ".gemini" / "oauth_creds.json" == source.creds_path


def test_gemini_cli_home_replaces_the_home_directory(tmp_path: Path) -> None:
    """``GEMINI_CLI_HOME`` is the home holding ``.gemini``, as for the chat logs."""
    source = gemini_live_source(Config(), env={"GEMINI_CLI_HOME": "~/alt"}, home=tmp_path)
    assert tmp_path / "alt" / ".gemini" / "oauth_creds.json" == source.creds_path


def test_default_endpoint_is_googles(tmp_path: Path) -> None:
    """With no setting or variable the endpoint is cloudcode-pa, API version v1internal."""
    source = gemini_live_source(Config(), env={}, home=tmp_path)
    expected = "https://cloudcode-pa.googleapis.com/v1internal:retrieveUserQuota"
    assert expected == source.code_assist.quota_url


def test_endpoint_variables_are_used_without_a_setting(tmp_path: Path) -> None:
    """``CODE_ASSIST_ENDPOINT`` and ``CODE_ASSIST_API_VERSION`` shape the URLs."""
    env = {"CODE_ASSIST_ENDPOINT": "https://ca.example.com/", "CODE_ASSIST_API_VERSION": "v2"}
    source = gemini_live_source(Config(), env=env, home=tmp_path)
    assert "https://ca.example.com/v2:loadCodeAssist" == source.code_assist.load_url


def test_endpoint_setting_wins_over_the_variable(tmp_path: Path) -> None:
    """``[gemini] code_assist_endpoint`` wins over ``CODE_ASSIST_ENDPOINT``."""
    config = Config(gemini=GeminiConfig(code_assist_endpoint="https://set.example.com"))
    env = {"CODE_ASSIST_ENDPOINT": "https://env.example.com"}
    source = gemini_live_source(config, env=env, home=tmp_path)
    assert "https://set.example.com/v1internal:loadCodeAssist" == source.code_assist.load_url


def test_unsafe_endpoint_variable_is_unconfigured(home: Path, client: httpx.Client) -> None:
    """A plain-http remote ``CODE_ASSIST_ENDPOINT`` is refused, naming it, with no request."""
    env = {"CODE_ASSIST_ENDPOINT": "http://ca.example.com"}
    result = gemini_live_source(Config(), env=env, home=home).poll(client, NOW)
    assert result.failure is not None
    assert ("unconfigured", True) == (
        result.failure.kind,
        "CODE_ASSIST_ENDPOINT" in result.failure.reason,
    )


def test_odd_api_version_is_unconfigured(tmp_path: Path) -> None:
    """A ``CODE_ASSIST_API_VERSION`` that is not a version name is refused, naming it."""
    write_creds(tmp_path)
    env = {"CODE_ASSIST_API_VERSION": "../../x?y"}
    failure = gemini_live_source(Config(), env=env, home=tmp_path).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", True) == (failure.kind, "CODE_ASSIST_API_VERSION" in failure.reason)


def test_endpoint_that_is_not_a_url_is_unconfigured(tmp_path: Path) -> None:
    """A ``CODE_ASSIST_ENDPOINT`` that cannot be parsed is reported, not raised."""
    write_creds(tmp_path)
    env = {"CODE_ASSIST_ENDPOINT": "https://[not-a-host"}
    failure = gemini_live_source(Config(), env=env, home=tmp_path).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", True) == (failure.kind, "CODE_ASSIST_ENDPOINT" in failure.reason)


def test_unsafe_token_url_is_refused(tmp_path: Path) -> None:
    """Renewing a token over plain http to another machine is a programming error."""
    with pytest.raises(ValueError, match="token_url"):
        gemini_live_source(Config(), env={}, home=tmp_path, token_url="http://evil.example/t")


# -- the credentials file -----------------------------------------------------------------------


def test_missing_credentials_are_unconfigured(tmp_path: Path) -> None:
    """No ``oauth_creds.json``: unconfigured, naming the file and how to sign in."""
    failure = gemini_live_source(Config(), env={}, home=tmp_path).inspect(NOW).failure
    assert failure is not None
    path = str(tmp_path / ".gemini" / "oauth_creds.json")
    assert ("unconfigured", True, True) == (
        failure.kind,
        path in failure.reason,
        "Login with Google" in failure.fix,
    )


def test_missing_credentials_mention_an_api_key_login(tmp_path: Path) -> None:
    """When settings.json chose an API key, the message says so."""
    write_settings(tmp_path, "gemini-api-key")
    inspection = gemini_live_source(Config(), env={}, home=tmp_path).inspect(NOW)
    assert inspection.failure is not None
    assert "gemini-api-key" in inspection.failure.reason
    assert any("gemini-api-key" in line for line in inspection.found)


def test_credentials_that_are_not_json_are_unconfigured(tmp_path: Path) -> None:
    """A damaged file is unconfigured, naming the file."""
    path = tmp_path / ".gemini" / "oauth_creds.json"
    path.parent.mkdir()
    path.write_text('{"access_token": "ya29.')
    failure = gemini_live_source(Config(), env={}, home=tmp_path).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", f"{path} is not valid JSON") == (failure.kind, failure.reason)


def test_credentials_without_access_token_are_unconfigured(tmp_path: Path) -> None:
    """A file without ``access_token`` (another login's shape) is unconfigured."""
    path = write_creds(tmp_path, {"type": "external_account_authorized_user"})
    failure = gemini_live_source(Config(), env={}, home=tmp_path).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", True) == (failure.kind, str(path) in failure.reason)


def test_unreadable_credentials_are_unconfigured(tmp_path: Path) -> None:
    """A directory where the file should be is reported, not raised."""
    path = tmp_path / ".gemini" / "oauth_creds.json"
    path.mkdir(parents=True)
    failure = gemini_live_source(Config(), env={}, home=tmp_path).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", True) == (failure.kind, f"{path} cannot be read" in failure.reason)


def test_inspect_describes_the_sign_in(home: Path) -> None:
    """A valid sign-in: its path, OAuth, the expiry in seconds and the scopes."""
    inspection = gemini_live_source(Config(), env={}, home=home).inspect(NOW)
    auth = inspection.auth
    assert auth is not None
    expected = (
        str(home / ".gemini" / "oauth_creds.json"),
        "oauth",
        NOW + 1800,
        tuple(SCOPE.split()),
    )
    assert expected == (auth.source, auth.kind, auth.expires_at, auth.scopes)
    assert None is inspection.failure


def test_inspect_notes_a_non_oauth_login_beside_a_sign_in(home: Path) -> None:
    """A sign-in file with settings.json on Vertex AI is noted for ``otm doctor``."""
    write_settings(home, "vertex-ai")
    inspection = gemini_live_source(Config(), env={}, home=home).inspect(NOW)
    assert any("vertex-ai" in line and "may not be" in line for line in inspection.found)


def test_expired_token_without_refresh_token_fails_without_request(
    fake_endpoint: FakeEndpoint, tmp_path: Path, client: httpx.Client
) -> None:
    """An expired token that cannot be renewed: auth, saying when, and nothing is sent."""
    expiry = int((NOW - 600) * 1000)
    write_creds(tmp_path, creds(refresh_token=None, expiry_date=expiry))
    result = poll(fake_endpoint, tmp_path, client)
    assert result.failure is not None
    assert ("auth", True, "run `gemini` once, then `otm refresh`") == (
        result.failure.kind,
        "expired at 2026-05-16 02:43 UTC" in result.failure.reason,
        result.failure.fix,
    )
    assert [] == fake_endpoint.received


# -- a good answer ------------------------------------------------------------------------------


def test_one_window_per_model_from_its_scarcest_bucket(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """Two models, one with two buckets: the lower remaining fraction is the window."""
    serve(fake_endpoint)
    result = poll(fake_endpoint, home, client)
    got = [(w.window, w.used_percent, w.detail) for w in result.windows]
    expected = [
        ("gemini-2.5-pro", 50.0, "TOKENS: 500000 left"),
        ("gemini-2.5-flash", 0.0, "REQUESTS: 1500 left"),
    ]
    assert expected == got


def test_window_carries_reset_and_daily_length(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """``resetTime`` (nanosecond precision) becomes epoch seconds; windows are a day long."""
    serve(fake_endpoint)
    window = poll(fake_endpoint, home, client).windows[0]
    expected = ("gemini", "live", NOW, 1_778_932_800.123456, 86400)
    got = (window.provider, window.source, window.observed_at, window.resets_at)
    assert expected == (*got, window.window_seconds)


def test_used_percent_is_rounded_to_two_decimals(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """A fraction like 0.87 gives 13.0, not 12.999999999999998."""
    serve(fake_endpoint, quota={"buckets": [BUCKETS[0]]})
    assert 13.0 == poll(fake_endpoint, home, client).windows[0].used_percent


def test_load_code_assist_request(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """loadCodeAssist carries the token, Gemini CLI's metadata and no project by default."""
    serve(fake_endpoint)
    poll(fake_endpoint, home, client)
    request = fake_endpoint.requests_for(LOAD)[0]
    metadata = {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED"}
    metadata["pluginType"] = "GEMINI"
    expected = ("POST", f"Bearer {ACCESS}", USER_AGENT, {"metadata": metadata})
    headers = request.headers
    assert expected == (
        request.method,
        headers["Authorization"],
        headers["User-Agent"],
        request.json(),
    )


def test_quota_is_asked_for_the_answered_project(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """retrieveUserQuota is asked about the project loadCodeAssist named."""
    serve(fake_endpoint)
    poll(fake_endpoint, home, client)
    request = fake_endpoint.requests_for(QUOTA)[0]
    expected = ({"project": "proj-123"}, f"Bearer {ACCESS}", "application/json")
    assert expected == (
        request.json(),
        request.headers["Authorization"],
        request.headers["Content-Type"],
    )


def test_plan_is_the_paid_tier_name(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """After a poll the auth names the paid tier."""
    serve(fake_endpoint)
    auth = poll(fake_endpoint, home, client).auth
    assert auth is not None
    assert "Gemini Code Assist Standard" == auth.plan


def test_plan_falls_back_to_the_current_tier_id(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """Without a paid tier, the plan is the current tier's id, and inspect remembers it."""
    loaded = {"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": "managed-1"}
    serve(fake_endpoint, loaded=loaded)
    source = source_for(fake_endpoint, home)
    source.poll(client, NOW)
    auth = source.inspect(NOW).auth
    assert auth is not None
    assert "free-tier" == auth.plan


def test_google_cloud_project_is_passed_to_load_code_assist(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """``GOOGLE_CLOUD_PROJECT`` goes in as the project and the duet project, as Gemini CLI does."""
    serve(fake_endpoint)
    poll(fake_endpoint, home, client, GOOGLE_CLOUD_PROJECT="my-proj")
    body = fake_endpoint.requests_for(LOAD)[0].json()
    assert ("my-proj", "my-proj") == (
        body["cloudaicompanionProject"],
        body["metadata"]["duetProject"],
    )


def test_google_cloud_project_is_used_when_the_answer_names_none(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """A Standard account answered without a project: the variable's project is asked about."""
    serve(fake_endpoint, loaded={"currentTier": {"id": "standard-tier"}})
    poll(fake_endpoint, home, client, GOOGLE_CLOUD_PROJECT="my-proj")
    assert {"project": "my-proj"} == fake_endpoint.requests_for(QUOTA)[0].json()


def test_project_may_be_an_object_with_an_id(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """``cloudaicompanionProject: {"id": ...}`` is read for its id."""
    loaded = {**LOADED, "cloudaicompanionProject": {"id": "proj-obj", "name": "Project"}}
    serve(fake_endpoint, loaded=loaded)
    poll(fake_endpoint, home, client)
    assert {"project": "proj-obj"} == fake_endpoint.requests_for(QUOTA)[0].json()


def test_no_project_anywhere_is_unconfigured(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """No project in the answer nor in the environment: say to set GOOGLE_CLOUD_PROJECT."""
    serve(fake_endpoint, loaded={"currentTier": {"id": "standard-tier"}})
    result = poll(fake_endpoint, home, client)
    assert result.failure is not None
    assert ("unconfigured", True) == (
        result.failure.kind,
        "GOOGLE_CLOUD_PROJECT" in result.failure.fix,
    )
    assert [] == fake_endpoint.requests_for(QUOTA)


# -- accounts Google no longer serves -----------------------------------------------------------

INELIGIBLE: dict[str, Any] = {
    "ineligibleTiers": [
        {
            "reasonCode": "INELIGIBLE_ACCOUNT",
            "reasonMessage": f"not for you {ACCESS}",
            "tierId": "free-tier",
            "tierName": "Gemini Code Assist for individuals",
        }
    ],
    "allowedTiers": [{"id": "standard-tier"}],
}


def test_ineligible_tiers_in_a_good_answer_are_unsupported(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """No current tier and an ineligible one: unsupported, naming tier and code, no quota call."""
    serve(fake_endpoint, loaded=INELIGIBLE)
    result = poll(fake_endpoint, home, client)
    assert result.failure is not None
    expected = (
        "unsupported",
        "Google no longer serves Gemini CLI quota for this account type "
        "(free-tier: INELIGIBLE_ACCOUNT)",
        UNSUPPORTED_FIX,
    )
    assert expected == (result.failure.kind, result.failure.reason, result.failure.fix)
    assert [] == fake_endpoint.requests_for(QUOTA)


def test_unsupported_client_error_is_unsupported(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """A 403 whose body gives ``UNSUPPORTED_CLIENT``: unsupported, and no quota call."""
    body = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "details": [{"reason": "UNSUPPORTED_CLIENT"}],
        }
    }
    fake_endpoint.answer(LOAD, Reply(403, body))
    result = poll(fake_endpoint, home, client)
    assert result.failure is not None
    assert ("unsupported", 403, True) == (
        result.failure.kind,
        result.failure.http_status,
        "(UNSUPPORTED_CLIENT)" in result.failure.reason,
    )
    assert [] == fake_endpoint.requests_for(QUOTA)


def test_unsupported_account_is_not_asked_again(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """Once unsupported, later polls of the same sign-in send nothing."""
    serve(fake_endpoint, loaded=INELIGIBLE)
    source = source_for(fake_endpoint, home)
    source.poll(client, NOW)
    again = source.poll(client, NOW + 300)
    assert again.failure is not None
    assert ("unsupported", 1) == (again.failure.kind, len(fake_endpoint.received))


def test_a_new_sign_in_is_asked_again(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """After signing in again (a new refresh token), the account is checked anew."""
    serve(fake_endpoint, loaded=INELIGIBLE)
    source = source_for(fake_endpoint, home)
    source.poll(client, NOW)
    write_creds(home, creds(refresh_token="1//another-sign-in"))
    serve(fake_endpoint)
    assert 2 == len(source.poll(client, NOW + 300).windows)


def test_validation_required_asks_to_verify(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """An ineligible tier asking for verification is a sign-in problem, not the end."""
    tier = {
        "reasonCode": "VALIDATION_REQUIRED",
        "tierId": "free-tier",
        "validationUrl": "https://x",
    }
    serve(fake_endpoint, loaded={"ineligibleTiers": [tier]})
    result = poll(fake_endpoint, home, client)
    assert result.failure is not None
    assert ("auth", True) == (result.failure.kind, "verif" in result.failure.fix)


def test_forbidden_without_a_known_reason_is_auth(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """A plain 403 is auth, pointing at GOOGLE_CLOUD_PROJECT."""
    fake_endpoint.answer(LOAD, Reply(403, {"error": {"status": "PERMISSION_DENIED"}}))
    result = poll(fake_endpoint, home, client)
    assert result.failure is not None
    assert ("auth", True) == (result.failure.kind, "GOOGLE_CLOUD_PROJECT" in result.failure.fix)


# -- failures of either call --------------------------------------------------------------------

FAILURES = [
    (Reply(401, {"error": "unauthenticated"}), "auth"),
    (Reply(429, {}, headers={"Retry-After": "120"}), "rate_limited"),
    (Reply(500, {"error": "boom"}), "server"),
    (Reply(200, LOADED, delay=2.0), "timeout"),
    (Reply(200, b'{"buckets": [{"modelId": "gem'), "malformed"),
    (Reply(200, {}), "unexpected"),
    (Reply(hang_up=True), "network"),
]


@pytest.mark.parametrize("path", [LOAD, QUOTA])
@pytest.mark.parametrize(("reply", "kind"), FAILURES)
def test_each_call_fails_plainly(
    fake_endpoint: FakeEndpoint,
    home: Path,
    client: httpx.Client,
    path: str,
    reply: Reply,
    kind: str,
) -> None:
    """Every way either call can fail becomes a failure of the right kind, with no windows."""
    serve(fake_endpoint)
    fake_endpoint.answer(path, reply)
    result = poll(fake_endpoint, home, client)
    assert result.failure is not None
    assert (kind, ()) == (result.failure.kind, result.windows)


def test_rate_limit_keeps_retry_after(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """A 429's ``Retry-After`` reaches the failure."""
    serve(fake_endpoint)
    fake_endpoint.answer(QUOTA, Reply(429, {}, headers={"Retry-After": "120"}))
    failure = poll(fake_endpoint, home, client).failure
    assert failure is not None
    assert 120.0 == failure.retry_after


def test_a_failed_load_sends_no_quota_request(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """When loadCodeAssist fails, retrieveUserQuota is not asked."""
    serve(fake_endpoint)
    fake_endpoint.answer(LOAD, Reply(500, {}))
    poll(fake_endpoint, home, client)
    assert [] == fake_endpoint.requests_for(QUOTA)


# -- odd quota answers --------------------------------------------------------------------------


def test_empty_buckets_are_ok_with_a_note(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """No buckets at all: no failure, no windows, and a note saying so."""
    serve(fake_endpoint, quota={"buckets": []})
    result = poll(fake_endpoint, home, client)
    assert (None, (), 1) == (result.failure, result.windows, len(result.notes))


def test_buckets_that_are_not_a_list_are_unexpected(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """``buckets`` of the wrong type means the endpoint changed."""
    serve(fake_endpoint, quota={"buckets": {"gemini-2.5-pro": 0.5}})
    failure = poll(fake_endpoint, home, client).failure
    assert failure is not None
    assert ("unexpected", True) == (failure.kind, "may have changed" in failure.reason)


def test_unreadable_buckets_are_skipped_with_notes(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """Buckets without a model id or a numeric fraction are skipped and noted; others count."""
    odd = [
        {"remainingFraction": 0.2},
        {"modelId": "gemini-x", "remainingFraction": "0.2"},
        {"modelId": "gemini-y", "remainingFraction": 1.7},
        None,
        BUCKETS[2],
    ]
    serve(fake_endpoint, quota={"buckets": odd})
    result = poll(fake_endpoint, home, client)
    assert (["gemini-2.5-flash"], 4) == ([w.window for w in result.windows], len(result.notes))


def test_a_bucket_without_a_fraction_is_used_up(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """Protobuf JSON leaves a zero fraction out: such a bucket reads as 100% used."""
    bucket = {
        "modelId": "gemini-2.5-pro",
        "tokenType": "REQUESTS",
        "resetTime": "2026-05-02T00:00:00Z",
    }
    serve(fake_endpoint, quota={"buckets": [bucket]})
    assert [100.0] == [w.used_percent for w in poll(fake_endpoint, home, client).windows]


def test_unreadable_reset_time_is_noted(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """A bucket with a bad ``resetTime`` still counts, without a reset, and is noted."""
    bucket = {"modelId": "gemini-2.5-pro", "remainingFraction": 0.25, "resetTime": "tomorrow"}
    serve(fake_endpoint, quota={"buckets": [bucket]})
    result = poll(fake_endpoint, home, client)
    assert (75.0, None, "", 1) == (
        result.windows[0].used_percent,
        result.windows[0].resets_at,
        result.windows[0].detail,
        len(result.notes),
    )


# -- renewing an expired token in memory -------------------------------------------------------

EXPIRED = int((NOW - 600) * 1000)


@pytest.fixture
def expired_home(tmp_path: Path) -> Path:
    """A home whose sign-in token expired ten minutes before ``NOW``."""
    write_creds(tmp_path, creds(expiry_date=EXPIRED))
    return tmp_path


def renewing(fake: FakeEndpoint) -> None:
    """Serve a token endpoint that renews to ``RENEWED``, and both Code Assist calls."""
    answer = {
        "access_token": RENEWED,
        "expires_in": 3599,
        "token_type": "Bearer",
        "id_token": ID_TOKEN,
    }
    fake.answer(TOKEN, Reply(200, answer))
    serve(fake)


def test_expired_token_is_renewed_with_gemini_clis_client(
    fake_endpoint: FakeEndpoint, expired_home: Path, client: httpx.Client
) -> None:
    """The renewal posts the refresh token form-encoded with Gemini CLI's client id."""
    renewing(fake_endpoint)
    poll(fake_endpoint, expired_home, client)
    form = parse_qs(fake_endpoint.requests_for(TOKEN)[0].body.decode())
    assert (["refresh_token"], [REFRESH], [OAUTH_CLIENT_ID]) == (
        form["grant_type"],
        form["refresh_token"],
        form["client_id"],
    )


def test_renewed_token_is_used_for_both_calls(
    fake_endpoint: FakeEndpoint, expired_home: Path, client: httpx.Client
) -> None:
    """Both Code Assist calls carry the renewed token, and the windows come back."""
    renewing(fake_endpoint)
    result = poll(fake_endpoint, expired_home, client)
    sent = [r.headers["Authorization"] for r in fake_endpoint.received if r.path != TOKEN]
    assert ([f"Bearer {RENEWED}"] * 2, 2) == (sent, len(result.windows))


def test_renewed_token_is_kept_in_memory_until_it_expires(
    fake_endpoint: FakeEndpoint, expired_home: Path, client: httpx.Client
) -> None:
    """A second poll within the hour reuses the renewed token; the auth shows its expiry."""
    renewing(fake_endpoint)
    source = source_for(fake_endpoint, expired_home)
    source.poll(client, NOW)
    result = source.poll(client, NOW + 300)
    assert result.auth is not None
    assert (1, NOW + 3599) == (len(fake_endpoint.requests_for(TOKEN)), result.auth.expires_at)


def test_renewal_never_touches_the_credentials_file(
    fake_endpoint: FakeEndpoint, expired_home: Path, client: httpx.Client
) -> None:
    """After renewals and polls the file's bytes and mtime are unchanged."""
    path = expired_home / ".gemini" / "oauth_creds.json"
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    renewing(fake_endpoint)
    source = source_for(fake_endpoint, expired_home)
    for offset in (0, 300, 7200):
        source.poll(client, NOW + offset)
    assert before == (path.read_bytes(), path.stat().st_mtime_ns)


def test_revoked_refresh_token_is_auth(
    fake_endpoint: FakeEndpoint, expired_home: Path, client: httpx.Client
) -> None:
    """``invalid_grant``: the sign-in was revoked or expired; sign in again; nothing else sent."""
    body = {
        "error": "invalid_grant",
        "error_description": f"Token has been expired or revoked. {REFRESH}",
    }
    fake_endpoint.answer(TOKEN, Reply(400, body))
    result = poll(fake_endpoint, expired_home, client)
    assert result.failure is not None
    path = expired_home / ".gemini" / "oauth_creds.json"
    expected = (
        "auth",
        f"the Gemini CLI sign-in in {path} was revoked or expired",
        "run `gemini` and sign in again",
    )
    assert expected == (result.failure.kind, result.failure.reason, result.failure.fix)
    assert 1 == len(fake_endpoint.received)


def test_token_endpoint_outage_is_a_server_failure(
    fake_endpoint: FakeEndpoint, expired_home: Path, client: httpx.Client
) -> None:
    """A 503 from the token endpoint is retried later like any server failure."""
    fake_endpoint.answer(TOKEN, Reply(503, {}))
    failure = poll(fake_endpoint, expired_home, client).failure
    assert failure is not None
    assert ("server", 503) == (failure.kind, failure.http_status)


def test_renewal_without_access_token_is_unexpected(
    fake_endpoint: FakeEndpoint, expired_home: Path, client: httpx.Client
) -> None:
    """A token answer without ``access_token`` means the endpoint changed."""
    fake_endpoint.answer(TOKEN, Reply(200, {"token_type": "Bearer"}))
    failure = poll(fake_endpoint, expired_home, client).failure
    assert failure is not None
    assert "unexpected" == failure.kind


def test_refused_token_is_renewed_on_the_next_poll(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """A 401 for a token whose expiry looks fine: the next poll renews it first."""
    renewing(fake_endpoint)
    fake_endpoint.queue(LOAD, Reply(401, {}))
    source = source_for(fake_endpoint, home)
    source.poll(client, NOW)
    result = source.poll(client, NOW + 60)
    assert (1, 2) == (len(fake_endpoint.requests_for(TOKEN)), len(result.windows))


# -- secrets ------------------------------------------------------------------------------------

ECHO = {"error": {"message": f"bad Authorization: Bearer {ACCESS} {RENEWED} {REFRESH} {ID_TOKEN}"}}
SCENARIOS: dict[str, dict[str, Reply]] = {
    "good": {},
    "load echoes 401": {LOAD: Reply(401, ECHO)},
    "load echoes 403 unsupported": {LOAD: Reply(403, {**ECHO, "reason": "UNSUPPORTED_CLIENT"})},
    "load echoes 400": {LOAD: Reply(400, ECHO)},
    "load echoes in 200": {LOAD: Reply(200, {**ECHO, **INELIGIBLE})},
    "quota echoes 500": {QUOTA: Reply(500, ECHO)},
    "quota echoes in 200": {QUOTA: Reply(200, {**ECHO, "buckets": [{"modelId": 3}]})},
    "quota truncated echo": {QUOTA: Reply(200, json.dumps(ECHO).encode()[:-3])},
    "token echoes invalid_grant": {TOKEN: Reply(400, {**ECHO, "error": "invalid_grant"})},
    "token echoes 401": {TOKEN: Reply(401, ECHO)},
    "slow": {QUOTA: Reply(200, ECHO, delay=2.0)},
}


@pytest.mark.parametrize("expired", [False, True])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_secret_appears_in_any_result(
    fake_endpoint: FakeEndpoint,
    tmp_path: Path,
    client: httpx.Client,
    scenario: str,
    expired: bool,
) -> None:
    """No token (access, refresh, id or renewed) is in any result, even when echoed back."""
    write_creds(tmp_path, creds(expiry_date=EXPIRED) if expired else creds())
    renewing(fake_endpoint)
    for path, reply in SCENARIOS[scenario].items():
        fake_endpoint.answer(path, reply)
    source = source_for(fake_endpoint, tmp_path)
    shown = repr(source.poll(client, NOW)) + repr(source.inspect(NOW)) + repr(source.__dict__)
    assert [] == [canary for canary in CANARIES if canary in shown]
