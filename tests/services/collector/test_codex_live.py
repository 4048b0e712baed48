"""The Codex live source: its sign-in, its endpoint, and every way the answer can go wrong."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bus.messages import AuthInfo, CreditBalance
from services.collector.codex.auth import jwt_claims
from services.collector.codex.limits import WINDOWS as LOG_WINDOWS
from services.collector.codex.live import (
    DEFAULT_USAGE_URL,
    CodexLiveSource,
    codex_live_source,
    url_from_base,
)
from services.collector.live.http import new_client
from services.collector.live.source import LiveResult
from services.runtime.config import CodexConfig, Config, LimitsConfig
from tests.fake_endpoint import FakeEndpoint, Reply

NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC
LATER = NOW + 8 * 86400
WHAM = "/backend-api/wham/usage"
CODEX_API = "/api/codex/usage"
ACCOUNT = "acct-PERSONAL-1234"
CANARY_SIGNATURE = "CANARY-ACCESS-SIGNATURE-7f3a"
REFRESH = "CANARY-REFRESH-TOKEN-91b2"
API_KEY = "sk-CANARY-API-KEY-55c0"
ID_SIGNATURE = "CANARY-ID-SIGNATURE-0d4e"

FULL: dict[str, Any] = {
    "plan_type": "pro",
    "rate_limit": {
        "primary_window": {
            "used_percent": 15,
            "reset_at": 1735401600,
            "limit_window_seconds": 18000,
        },
        "secondary_window": {
            "used_percent": 5.5,
            "reset_at": 1735920000,
            "limit_window_seconds": 604800,
        },
    },
    "credits": {"has_credits": True, "unlimited": False, "balance": "150.0"},
    "additional_rate_limits": [
        {
            "limit_name": "GPT-5.3-Codex-Spark",
            "metered_feature": "codex_spark",
            "rate_limit": {
                "primary_window": {"used_percent": 40, "reset_at": 1735401000},
                "secondary_window": {"used_percent": 2, "reset_at": 1735900000},
            },
        }
    ],
}


def b64(data: bytes) -> str:
    """Base64url without padding, as in a JWT."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, Any], signature: str = CANARY_SIGNATURE) -> str:
    """An unsigned-looking JWT carrying ``claims``."""
    header = b64(b'{"alg":"RS256","typ":"JWT"}')
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


ACCESS = jwt({"exp": LATER, "https://api.openai.com/auth": {"chatgpt_plan_type": "plus"}})
ID_TOKEN = jwt({"email": "someone@example.com"}, ID_SIGNATURE)
SECRETS = (ACCESS, CANARY_SIGNATURE, REFRESH, API_KEY, ID_TOKEN, ID_SIGNATURE)


def auth_document(
    access: str | None = ACCESS,
    account_id: str | None = ACCOUNT,
    api_key: str | None = None,
    id_token: str = ID_TOKEN,
) -> dict[str, Any]:
    """An ``auth.json`` as Codex writes it."""
    tokens: dict[str, Any] = {"id_token": id_token, "refresh_token": REFRESH}
    if access is not None:
        tokens["access_token"] = access
    if account_id is not None:
        tokens["account_id"] = account_id
    return {"OPENAI_API_KEY": api_key, "tokens": tokens, "last_refresh": "2025-12-28T12:34:56Z"}


@pytest.fixture
def codex_dir(tmp_path: Path) -> Path:
    """A Codex home with a ChatGPT sign-in."""
    home = tmp_path / "codex"
    home.mkdir()
    write_auth(home, auth_document())
    return home


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """The live client (no redirects), closed afterwards."""
    with new_client() as c:
        yield c


def write_auth(home: Path, document: Any) -> Path:
    """Write ``auth.json`` under ``home``."""
    path = home / "auth.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def source_for(codex_dir: Path, usage_url: str = "", timeout: float = 0.5) -> CodexLiveSource:
    """A source reading ``codex_dir`` (as ``CODEX_HOME``) and asking ``usage_url``."""
    config = Config(
        codex=CodexConfig(usage_url=usage_url), limits=LimitsConfig(timeout_seconds=timeout)
    )
    return codex_live_source(config, env={"CODEX_HOME": str(codex_dir)}, home=codex_dir.parent)


def poll_with(
    fake_endpoint: FakeEndpoint,
    codex_dir: Path,
    client: httpx.Client,
    reply: Reply,
    timeout: float = 0.5,
) -> LiveResult:
    """Script ``reply`` at the wham path and poll once."""
    fake_endpoint.answer(WHAM, reply)
    return source_for(codex_dir, fake_endpoint.url + WHAM, timeout).poll(client, NOW)


def window(result: LiveResult, name: str) -> Any:
    """The window called ``name``."""
    return next(w for w in result.windows if w.window == name)


# -- a good answer ----------------------------------------------------------------------------


def test_full_answer_windows(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """Every window of a full answer, named as the log adapter names them, plus the extras."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    expected = [
        "primary",
        "secondary",
        "GPT-5.3-Codex-Spark:primary",
        "GPT-5.3-Codex-Spark:secondary",
    ]
    assert expected == [w.window for w in result.windows]
    assert None is result.failure


def test_primary_window_values(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """The primary window's percent, reset time, length, source and detail."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    primary = window(result, "primary")
    assert (15.0, 1735401600.0, 18000, "live", NOW, "codex", "plan pro") == (
        primary.used_percent,
        primary.resets_at,
        primary.window_seconds,
        primary.source,
        primary.observed_at,
        primary.provider,
        primary.detail,
    )


def test_window_names_match_the_log_adapter() -> None:
    """The live windows and the session-log windows share their names."""
    assert ("primary", "secondary") == LOG_WINDOWS


def test_float_percent(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """A float ``used_percent`` is kept as it is."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    assert 5.5 == window(result, "secondary").used_percent


def test_additional_limit_detail_is_its_feature(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """An additional limit's windows say which metered feature they count."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    assert "codex_spark" == window(result, "GPT-5.3-Codex-Spark:primary").detail


def test_additional_limit_without_name(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """An additional limit with no ``limit_name`` is named by its position."""
    body = {"additional_rate_limits": [{"rate_limit": {"primary_window": {"used_percent": 1}}}]}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert ["additional-0:primary"] == [w.window for w in result.windows]


def test_request_headers(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """The request carries the token, the account id, Codex's user agent and Accept."""
    poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    headers = fake_endpoint.requests_for(WHAM)[0].headers
    assert (f"Bearer {ACCESS}", ACCOUNT, "codex-cli (opentokenmonitor)", "application/json") == (
        headers["Authorization"],
        headers["ChatGPT-Account-Id"],
        headers["User-Agent"],
        headers["Accept"],
    )


def test_plan_from_answer(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """The answer's ``plan_type`` becomes the result's plan; the source is the file's path."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    expected = AuthInfo(
        source=str(codex_dir / "auth.json"), kind="oauth", expires_at=LATER, plan="pro"
    )
    assert expected == result.auth


def test_only_primary(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """An answer with only the primary window gives just that window."""
    body = {"rate_limit": {"primary_window": {"used_percent": 3, "reset_at": 1735401600}}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert (["primary"], (), ()) == (
        [w.window for w in result.windows],
        result.credits,
        result.notes,
    )


def test_weekly_primary_window_is_named_weekly(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A ``primary_window`` a week long is the ``secondary`` (weekly) window, as in the logs."""
    weekly = {"used_percent": 41, "reset_at": 1735920000, "limit_window_seconds": 604800}
    body = {"rate_limit": {"primary_window": weekly, "secondary_window": None}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert [("secondary", 41.0)] == [(w.window, w.used_percent) for w in result.windows]


def test_credits_balance_as_string(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A string balance is kept exactly as sent."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    expected = CreditBalance(
        provider="codex", name="credits", balance="150.0", unlimited=False, enabled=True
    )
    assert (expected,) == result.credits


def test_credits_balance_as_number(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A numeric balance becomes its decimal text."""
    body = {"credits": {"has_credits": False, "unlimited": True, "balance": 150.5}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    expected = CreditBalance(
        provider="codex", name="credits", balance="150.5", unlimited=True, enabled=False
    )
    assert (expected,) == result.credits


def test_credits_null_balance(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A null balance stays unknown, without a note."""
    body = {"credits": {"has_credits": False, "unlimited": False, "balance": None}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert (None, ()) == (result.credits[0].balance, result.notes)


def test_spend_control_with_numbers(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A ``spend_control`` object with numeric used/limit becomes a credit line."""
    body = {"credits": None, "spend_control": {"used": 25, "limit": 100, "currency": "USD"}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    expected = CreditBalance(
        provider="codex",
        name="spend_control",
        used="25",
        limit="100",
        currency="USD",
        used_percent=25.0,
    )
    assert (expected,) == result.credits


def test_individual_limit_without_numbers_is_ignored(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """An ``individual_limit`` without numeric used/limit is left out, without a note."""
    body = {"rate_limit": None, "individual_limit": {"used": "a lot", "limit": None}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert ((), (), None) == (result.credits, result.notes, result.failure)


def test_reset_at_missing(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A window without ``reset_at`` has an unknown reset time and no note."""
    body = {"rate_limit": {"primary_window": {"used_percent": 3}}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert (None, None, ()) == (
        window(result, "primary").resets_at,
        window(result, "primary").window_seconds,
        result.notes,
    )


def test_reset_after_seconds(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """Without ``reset_at``, ``reset_after_seconds`` counts from the poll."""
    body = {"rate_limit": {"primary_window": {"used_percent": 3, "reset_after_seconds": 600}}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert NOW + 600 == window(result, "primary").resets_at


def test_reset_at_iso_string(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """An ISO ``reset_at`` is read as a time."""
    body = {
        "rate_limit": {"primary_window": {"used_percent": 3, "reset_at": "2026-01-01T05:00:00Z"}}
    }
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert NOW + 5 * 3600 == window(result, "primary").resets_at


def test_unreadable_reset_at_is_noted(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A ``reset_at`` that is not a time keeps the window, with an unknown reset and a note."""
    body = {"rate_limit": {"primary_window": {"used_percent": 3, "reset_at": "soon"}}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert (None, ("rate_limit.primary_window.reset_at is not a time; reset time unknown",)) == (
        window(result, "primary").resets_at,
        result.notes,
    )


def test_unknown_fields_are_ignored(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """New fields anywhere in the answer change nothing."""
    body = json.loads(json.dumps(FULL))
    body["brand_new"] = {"x": [1, 2]}
    body["rate_limit"]["tertiary_window"] = {"used_percent": 99}
    body["rate_limit"]["primary_window"]["colour"] = "blue"
    plain = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    extended = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert (plain.windows, plain.credits, ()) == (
        extended.windows,
        extended.credits,
        extended.notes,
    )


def test_bad_percent_skips_the_window(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A ``used_percent`` of "abc" skips that window and says so; the others stay."""
    body = {
        "rate_limit": {
            "primary_window": {"used_percent": "abc"},
            "secondary_window": {"used_percent": 9},
        }
    }
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    note = "rate_limit.primary_window.used_percent is missing or not a number; window skipped"
    assert (["secondary"], (note,)) == ([w.window for w in result.windows], result.notes)


def test_wrong_types_are_noted(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """Fields of the wrong type are skipped with a note each; nothing crashes."""
    body = {"rate_limit": [1], "credits": "lots", "additional_rate_limits": {"a": 1}}
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    expected = (
        "rate_limit is not an object; skipped",
        "additional_rate_limits is not a list; skipped",
        "credits is not an object; skipped",
    )
    assert ((), expected, None) == (result.windows, result.notes, result.failure)


# -- where the endpoint is ---------------------------------------------------------------------


def test_base_url_with_backend_api(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A ``chatgpt_base_url`` with ``/backend-api`` is asked at ``/wham/usage``."""
    (codex_dir / "config.toml").write_text(
        f'chatgpt_base_url = "{fake_endpoint.url}/backend-api/"\n'
    )
    fake_endpoint.answer(WHAM, Reply(200, FULL))
    result = source_for(codex_dir).poll(client, NOW)
    assert (1, 4) == (len(fake_endpoint.requests_for(WHAM)), len(result.windows))


def test_base_url_without_backend_api(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """Any other ``chatgpt_base_url`` is asked at ``/api/codex/usage``."""
    (codex_dir / "config.toml").write_text(f'chatgpt_base_url = "{fake_endpoint.url}"\n')
    fake_endpoint.answer(CODEX_API, Reply(200, FULL))
    result = source_for(codex_dir).poll(client, NOW)
    assert (1, 4) == (len(fake_endpoint.requests_for(CODEX_API)), len(result.windows))


def test_bare_chatgpt_base_gets_backend_api() -> None:
    """A chatgpt.com base without ``/backend-api`` gets it added, as Codex does."""
    assert "https://chatgpt.com/backend-api/wham/usage" == url_from_base("https://chatgpt.com/")


def test_config_usage_url_wins(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """``[codex] usage_url`` beats Codex's ``chatgpt_base_url``."""
    (codex_dir / "config.toml").write_text(f'chatgpt_base_url = "{fake_endpoint.url}"\n')
    fake_endpoint.answer("/mine", Reply(200, FULL))
    source_for(codex_dir, fake_endpoint.url + "/mine").poll(client, NOW)
    assert (1, 0) == (
        len(fake_endpoint.requests_for("/mine")),
        len(fake_endpoint.requests_for(CODEX_API)),
    )


def test_default_url(codex_dir: Path) -> None:
    """Without any setting the endpoint is chatgpt.com's, and doctor says so."""
    found = source_for(codex_dir).inspect(NOW).found
    assert f"usage URL: {DEFAULT_USAGE_URL}" in found


def test_invalid_config_toml_is_noted(codex_dir: Path) -> None:
    """A broken ``config.toml`` is ignored, with a line for doctor, and the default used."""
    (codex_dir / "config.toml").write_text("chatgpt_base_url = [unclosed\n")
    inspection = source_for(codex_dir).inspect(NOW)
    expected = (
        f"{codex_dir / 'config.toml'}: unreadable or not valid TOML; ignored, "
        "the default endpoint is used"
    )
    assert (None, True, True) == (
        inspection.failure,
        expected in inspection.found,
        f"usage URL: {DEFAULT_USAGE_URL}" in inspection.found,
    )


def test_unsafe_usage_url_refused(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """An http URL to another machine is refused, naming the setting, without a request."""
    result = source_for(codex_dir, "http://example.com/usage").poll(client, NOW)
    assert result.failure is not None
    assert ("unconfigured", True, []) == (
        result.failure.kind,
        "[codex] usage_url" in result.failure.reason,
        fake_endpoint.received,
    )


def test_unsafe_base_url_refused(codex_dir: Path) -> None:
    """An unsafe ``chatgpt_base_url`` is refused, naming the file."""
    (codex_dir / "config.toml").write_text('chatgpt_base_url = "http://example.com/backend-api"\n')
    failure = source_for(codex_dir).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", True) == (
        failure.kind,
        f"chatgpt_base_url in {codex_dir / 'config.toml'}" in failure.reason,
    )


# -- the sign-in --------------------------------------------------------------------------------


def test_inspect_ok(codex_dir: Path) -> None:
    """A live ChatGPT sign-in: oauth, its expiry, the plan claim, and no account id anywhere."""
    inspection = source_for(codex_dir).inspect(NOW)
    expected = AuthInfo(
        source=str(codex_dir / "auth.json"), kind="oauth", expires_at=LATER, plan="plus"
    )
    assert (expected, None, False) == (
        inspection.auth,
        inspection.failure,
        ACCOUNT in repr(inspection),
    )


def test_account_id_from_nested_claim(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """Without ``tokens.account_id`` the access token's nested claim gives the account id."""
    claims = {"exp": LATER, "https://api.openai.com/auth": {"chatgpt_account_id": "acct-from-jwt"}}
    write_auth(codex_dir, auth_document(access=jwt(claims), account_id=None))
    poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    assert "acct-from-jwt" == fake_endpoint.requests_for(WHAM)[0].headers["ChatGPT-Account-Id"]


def test_account_id_from_id_token(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """Failing that, the id token's top-level claim gives it."""
    id_token = jwt({"chatgpt_account_id": "acct-from-id"}, ID_SIGNATURE)
    write_auth(codex_dir, auth_document(account_id=None, id_token=id_token))
    poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    assert "acct-from-id" == fake_endpoint.requests_for(WHAM)[0].headers["ChatGPT-Account-Id"]


def test_garbage_jwt(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """An access token that is no JWT is still sent; expiry and account id stay unknown."""
    write_auth(
        codex_dir,
        auth_document(
            access="not.a-jwt!!.CANARY-ACCESS-SIGNATURE-7f3a", account_id=None, id_token="x.%%%.y"
        ),
    )
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    headers = fake_endpoint.requests_for(WHAM)[0].headers
    assert (None, False, 4) == (
        result.auth and result.auth.expires_at,
        "ChatGPT-Account-Id" in headers,
        len(result.windows),
    )


@pytest.mark.parametrize(
    "token",
    ["", "a", "a.b", "a..b", "a.!!!!.b", "a.bm90IGpzb24.b", "a.WzEsMl0.b", "a.w4k.b", "é.é.é"],
)
def test_jwt_claims_garbage(token: str) -> None:
    """Undecodable JWT payloads (bad base64, not JSON, not an object) give no claims."""
    assert {} == jwt_claims(token)


def test_jwt_claims_without_padding() -> None:
    """A payload whose length needs padding decodes."""
    assert {"a": 1} == jwt_claims(jwt({"a": 1}))


def test_api_key_login(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """An API-key login is unconfigured for plan limits, and nothing is asked."""
    write_auth(codex_dir, auth_document(access=None, api_key=API_KEY))
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    assert result.failure is not None
    assert (
        "unconfigured",
        "Codex is signed in with an API key, which has no ChatGPT plan limits to read",
        "sign in with ChatGPT (`codex login`) to see plan limits; "
        "usage from the logs is still counted",
        [],
    ) == (result.failure.kind, result.failure.reason, result.failure.fix, fake_endpoint.received)


def test_expired_sign_in(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """An expired access token fails as ``auth`` with the time, and nothing is asked."""
    write_auth(codex_dir, auth_document(access=jwt({"exp": NOW - 60})))
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, FULL))
    assert result.failure is not None
    assert (
        "auth",
        f"the Codex sign-in in {codex_dir / 'auth.json'} expired at 2025-12-31 23:59 UTC",
        "run `codex` (it renews its sign-in) or `codex login`",
        [],
    ) == (result.failure.kind, result.failure.reason, result.failure.fix, fake_endpoint.received)


def test_no_auth_file(tmp_path: Path, fake_endpoint: FakeEndpoint, client: httpx.Client) -> None:
    """No ``auth.json``: unconfigured, naming the path, and nothing is asked."""
    result = poll_with(fake_endpoint, tmp_path, client, Reply(200, FULL))
    assert result.failure is not None
    assert (
        "unconfigured",
        f"no Codex sign-in found: {tmp_path / 'auth.json'} does not exist",
        "sign in to Codex (`codex login`)",
        [],
    ) == (result.failure.kind, result.failure.reason, result.failure.fix, fake_endpoint.received)


def test_auth_file_not_json(codex_dir: Path) -> None:
    """An ``auth.json`` that is not JSON is unconfigured, naming the file."""
    write_auth(codex_dir, '{"tokens": {')
    failure = source_for(codex_dir).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", f"{codex_dir / 'auth.json'} is not valid JSON") == (
        failure.kind,
        failure.reason,
    )


def test_auth_file_not_an_object(codex_dir: Path) -> None:
    """An ``auth.json`` holding a list is unconfigured, naming the file."""
    write_auth(codex_dir, [1, 2])
    failure = source_for(codex_dir).inspect(NOW).failure
    assert failure is not None
    assert f"{codex_dir / 'auth.json'} is not a JSON object" == failure.reason


def test_auth_file_is_a_directory(tmp_path: Path) -> None:
    """An ``auth.json`` that cannot be read is unconfigured, naming it."""
    (tmp_path / "auth.json").mkdir()
    failure = source_for(tmp_path).inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", True) == (failure.kind, str(tmp_path / "auth.json") in failure.reason)


def test_missing_access_token(codex_dir: Path) -> None:
    """Tokens without an access token: unconfigured, naming the file."""
    write_auth(codex_dir, auth_document(access=None))
    failure = source_for(codex_dir).inspect(NOW).failure
    assert failure is not None
    assert (
        "unconfigured",
        f"{codex_dir / 'auth.json'} holds no ChatGPT sign-in (no usable tokens.access_token)",
    ) == (failure.kind, failure.reason)


def test_codex_home_list_picks_the_one_with_auth(tmp_path: Path) -> None:
    """In a ``CODEX_HOME`` list, the first entry holding ``auth.json`` is used."""
    empty, signed_in = tmp_path / "a", tmp_path / "b"
    empty.mkdir()
    signed_in.mkdir()
    write_auth(signed_in, auth_document())
    env = {"CODEX_HOME": f"{empty}, {signed_in}"}
    inspection = CodexLiveSource(Config(), env=env, home=tmp_path).inspect(NOW)
    assert (str(signed_in / "auth.json"), None) == (
        inspection.auth and inspection.auth.source,
        inspection.failure,
    )


def test_codex_home_list_without_auth_names_the_first(tmp_path: Path) -> None:
    """If no entry holds ``auth.json``, the failure names the first entry's."""
    env = {"CODEX_HOME": f"{tmp_path / 'a'},{tmp_path / 'b'}"}
    failure = CodexLiveSource(Config(), env=env, home=tmp_path).inspect(NOW).failure
    assert failure is not None
    assert (
        f"no Codex sign-in found: {tmp_path / 'a' / 'auth.json'} does not exist" == failure.reason
    )


def test_default_codex_home(tmp_path: Path) -> None:
    """Without ``CODEX_HOME`` the sign-in is ``~/.codex/auth.json``."""
    (tmp_path / ".codex").mkdir()
    write_auth(tmp_path / ".codex", auth_document())
    inspection = CodexLiveSource(Config(), env={}, home=tmp_path).inspect(NOW)
    assert str(tmp_path / ".codex" / "auth.json") == (inspection.auth and inspection.auth.source)


def test_found_lines_for_doctor(codex_dir: Path) -> None:
    """Doctor sees the home, the sign-in (not the account id) and the endpoint."""
    found = source_for(codex_dir).inspect(NOW).found
    assert [
        f"Codex home: {codex_dir} (from CODEX_HOME)",
        f"{codex_dir / 'auth.json'}: ChatGPT sign-in, plan plus, "
        "token expires 2026-01-09 00:00 UTC, account id known",
        f"{codex_dir / 'config.toml'}: not found; the default endpoint is used",
        f"usage URL: {DEFAULT_USAGE_URL}",
    ] == list(found)


def test_auth_file_unchanged(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """Polls, good and failed, leave ``auth.json``'s bytes and mtime as they were."""
    path = codex_dir / "auth.json"
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    fake_endpoint.queue(WHAM, Reply(200, FULL), Reply(401, {"error": "expired"}))
    source = source_for(codex_dir, fake_endpoint.url + WHAM)
    source.poll(client, NOW)
    source.poll(client, NOW)
    source.inspect(NOW)
    assert before == (path.read_bytes(), path.stat().st_mtime_ns)


# -- failures from the server -------------------------------------------------------------------


def test_unauthorized(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """401: an auth failure telling to sign in to Codex again."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(401, {"error": "nope"}))
    assert result.failure is not None
    assert ("auth", 401, "sign in to Codex again: run `codex login`") == (
        result.failure.kind,
        result.failure.http_status,
        result.failure.fix,
    )


def test_forbidden(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """403: an auth failure."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(403, {"error": "nope"}))
    assert result.failure is not None
    assert ("auth", 403) == (result.failure.kind, result.failure.http_status)


def test_rate_limited(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """429 with ``Retry-After``: rate limited, with the wait."""
    reply = Reply(429, {"error": "slow down"}, headers={"Retry-After": "120"})
    result = poll_with(fake_endpoint, codex_dir, client, reply)
    assert result.failure is not None
    assert ("rate_limited", 120.0) == (result.failure.kind, result.failure.retry_after)


def test_server_error(fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client) -> None:
    """500: a server failure."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(500, {"error": "boom"}))
    assert result.failure is not None
    assert ("server", 500) == (result.failure.kind, result.failure.http_status)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(200, FULL, delay=1.5), "timeout"),
        (Reply(200, FULL, trickle=0.05), "timeout"),
        (Reply(200, FULL, hang_up=True), "network"),
        (Reply(200, b'{"rate_limit": {"primary_wi'), "malformed"),
        (Reply(200, []), "malformed"),
        (Reply(200, {}), "unexpected"),
        (Reply(200, {"error": "who knows"}), "unexpected"),
    ],
    ids=["slow", "trickle", "hang-up", "truncated", "list", "empty", "other-object"],
)
def test_bad_answers(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client, reply: Reply, kind: str
) -> None:
    """Slow, trickling, dropped, truncated or strange answers fail with their own kind."""
    result = poll_with(fake_endpoint, codex_dir, client, reply, timeout=0.3)
    assert result.failure is not None
    assert (kind, ()) == (result.failure.kind, result.windows)


def test_unexpected_says_the_endpoint_may_have_changed(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """An object without any expected field says the endpoint may have changed."""
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, {}))
    assert result.failure is not None
    assert "the endpoint may have changed" in result.failure.reason


# -- secrets ----------------------------------------------------------------------------------

ECHO = {"error": f"bad header Authorization: Bearer {ACCESS}", "refresh": REFRESH, "key": API_KEY}


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, FULL),
        Reply(401, ECHO),
        Reply(403, ECHO),
        Reply(429, ECHO, headers={"Retry-After": "5"}),
        Reply(500, ECHO),
        Reply(400, ECHO),
        Reply(200, json.dumps(ECHO)[:-5].encode()),
        Reply(200, ECHO),
        Reply(200, [ACCESS]),
        Reply(200, FULL, hang_up=True),
        Reply(200, FULL, delay=1.5),
        Reply(
            200,
            {
                "plan_type": f"Bearer {ACCESS}",
                "credits": {"balance": ACCESS},
                "spend_control": {"used": 1, "limit": 2, "currency": REFRESH},
                "additional_rate_limits": [
                    {
                        "limit_name": ACCESS,
                        "metered_feature": ID_TOKEN,
                        "rate_limit": {"primary_window": {"used_percent": ACCESS}},
                    },
                    {
                        "limit_name": f"x{API_KEY}",
                        "metered_feature": ACCOUNT,
                        "rate_limit": {"primary_window": {"used_percent": 1}},
                    },
                ],
            },
        ),
    ],
    ids=[
        "ok",
        "401",
        "403",
        "429",
        "500",
        "400",
        "truncated",
        "echo-200",
        "list",
        "hang-up",
        "slow",
        "echo-fields",
    ],
)
def test_no_secret_in_results(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client, reply: Reply
) -> None:
    """No token, key or account id appears in a result or inspection, whatever the server does."""
    write_auth(codex_dir, auth_document(api_key=API_KEY))
    source = source_for(codex_dir, fake_endpoint.url + WHAM, timeout=0.3)
    fake_endpoint.answer(WHAM, reply)
    text = repr(source.poll(client, NOW)) + repr(source.inspect(NOW))
    assert [] == [s for s in (*SECRETS, ACCOUNT) if s in text]


@pytest.mark.parametrize(
    "document",
    [
        auth_document(access=None, api_key=API_KEY),
        auth_document(access=jwt({"exp": NOW - 1})),
        auth_document(access="garbage-" + CANARY_SIGNATURE, id_token="garbage-" + ID_SIGNATURE),
        auth_document(access="has space " + CANARY_SIGNATURE),
    ],
    ids=["api-key", "expired", "garbage", "unusable"],
)
def test_no_secret_in_credential_failures(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client, document: dict[str, Any]
) -> None:
    """Credential problems never quote the file's tokens or key."""
    write_auth(codex_dir, document)
    source = source_for(codex_dir, fake_endpoint.url + WHAM)
    fake_endpoint.answer(WHAM, Reply(401, ECHO))
    text = repr(source.poll(client, NOW)) + repr(source.inspect(NOW))
    assert [] == [s for s in (*SECRETS, ACCOUNT) if s in text]


def test_echoed_text_is_redacted(
    fake_endpoint: FakeEndpoint, codex_dir: Path, client: httpx.Client
) -> None:
    """A limit name that echoes the token is shown as redacted, not dropped."""
    body = {
        "additional_rate_limits": [
            {"limit_name": ACCESS, "rate_limit": {"primary_window": {"used_percent": 1}}}
        ]
    }
    result = poll_with(fake_endpoint, codex_dir, client, Reply(200, body))
    assert ["[redacted]:primary"] == [w.window for w in result.windows]
