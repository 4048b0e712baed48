"""Claude Code's live limits: finding the sign-in, asking the usage endpoint, reading its answer."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.stack import free_port
from bus.messages import AuthInfo, CreditBalance, LimitWindow
from services.collector.claude.credentials import (
    KEYCHAIN_SOURCE,
    SIGN_IN_AGAIN_FIX,
    SIGN_IN_FIX,
    credential_paths,
)
from services.collector.claude.live import (
    USER_AGENT,
    ClaudeLiveSource,
    claude_live_source,
    read_usage,
)
from services.collector.live.http import new_client
from services.collector.live.source import LiveResult, LiveSource
from services.runtime.config import ClaudeConfig, Config, LimitsConfig
from tests.fake_endpoint import FakeEndpoint, Reply

CANARY = "sk-ant-oat01-CANARY-5e1f0c9d7b"
REFRESH_CANARY = "sk-ant-ort01-CANARY-REFRESH-a4b2"
NOW = 1_778_900_000.0
"""2026-05-16 02:53:20 UTC."""
USAGE = "/api/oauth/usage"
TIMEOUT = 0.4
FULL_ANSWER: dict[str, Any] = {
    "five_hour": {"utilization": 37.0, "resets_at": "2026-05-16T05:00:00.123456+00:00"},
    "seven_day": {"utilization": 12, "resets_at": "2026-05-20T09:00:00+00:00"},
    "seven_day_opus": None,
    "seven_day_sonnet": {"utilization": 4.5, "resets_at": None},
    "seven_day_oauth_apps": None,
    "seven_day_routines": {"utilization": 0.0, "resets_at": "2026-05-20T09:00:00Z"},
    "seven_day_cowork": {"utilization": 1.0, "resets_at": "2026-05-20T09:00:00.5+00:00"},
    "extra_usage": {
        "is_enabled": True,
        "monthly_limit": 5000,
        "used_credits": 12.5,
        "utilization": 0.25,
        "currency": "USD",
    },
    "limits": [
        {
            "kind": "weekly_scoped",
            "group": "weekly",
            "percent": 22.0,
            "resets_at": "2026-05-20T09:00:00+00:00",
            "is_active": True,
            "scope": {"model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"}},
        },
        {
            "kind": "session",
            "group": "five_hour",
            "percent": 8,
            "resets_at": None,
            "is_active": False,
        },
    ],
}


def oauth(**changes: Any) -> dict[str, Any]:
    """A ``claudeAiOauth`` block valid at ``NOW``, with ``changes`` applied."""
    block: dict[str, Any] = {
        "accessToken": CANARY,
        "refreshToken": REFRESH_CANARY,
        "expiresAt": int((NOW + 3600) * 1000),
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
        "rateLimitTier": "default_claude_max_20x",
    }
    block.update(changes)
    return block


def write_credentials(directory: Path, document: Any = None) -> Path:
    """Write ``.credentials.json`` in ``directory`` (a valid sign-in unless told otherwise)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".credentials.json"
    content = {"claudeAiOauth": oauth()} if document is None else document
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return path


def config(url: str, timeout: float = TIMEOUT, keychain: bool = True) -> Config:
    """A config pointing the Claude usage endpoint at ``url``."""
    return Config(
        claude=ClaudeConfig(usage_url=url, keychain=keychain),
        limits=LimitsConfig(timeout_seconds=timeout),
    )


def fake_security(tmp_path: Path, output: str, exit_code: int = 0) -> list[str]:
    """A real executable standing in for macOS ``security``: it prints ``output``."""
    payload = tmp_path / "keychain-output"
    payload.write_text(output)
    script = tmp_path / "security"
    script.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/security-args"\n'
        f'cat "{payload}"\nexit {exit_code}\n'
    )
    script.chmod(0o755)
    return [str(script)]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """The collector's HTTP client, closed afterwards."""
    with new_client() as http:
        yield http


@pytest.fixture
def source(fake_endpoint: FakeEndpoint, home: Path) -> ClaudeLiveSource:
    """A source with a valid sign-in in ``~/.claude`` and the fake endpoint as its URL."""
    write_credentials(home / ".claude")
    return claude_live_source(
        config(fake_endpoint.url + USAGE), env={}, home=home, platform="linux"
    )


def poll_answer(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client, reply: Reply
) -> LiveResult:
    """Script one reply and poll once."""
    fake_endpoint.answer(USAGE, reply)
    return source.poll(client, NOW)


def window(result: LiveResult, name: str) -> LimitWindow:
    """The window called ``name``."""
    return next(w for w in result.windows if w.window == name)


# -- the protocol and the factory -------------------------------------------------------------


def test_source_is_a_live_source(source: ClaudeLiveSource) -> None:
    """The source satisfies the ``LiveSource`` protocol with provider ``claude``."""
    live: LiveSource = source
    assert "claude" == live.provider


def test_factory_defaults_to_this_machine() -> None:
    """Without arguments the factory uses the real environment, home and platform."""
    made = claude_live_source(Config())
    assert (os.environ, Path.home()) == (made.env, made.home)


# -- finding the sign-in ----------------------------------------------------------------------


def test_credential_paths_order(home: Path) -> None:
    """Secure storage dir, then each ``CLAUDE_CONFIG_DIR`` entry, then ``~/.claude``."""
    env = {"CLAUDE_SECURESTORAGE_CONFIG_DIR": "/secure", "CLAUDE_CONFIG_DIR": " /a , ,~/b "}
    expected = [
        Path("/secure/.credentials.json"),
        Path("/a/.credentials.json"),
        home / "b/.credentials.json",
        home / ".claude/.credentials.json",
    ]
    assert expected == credential_paths(env, home)


def test_valid_sign_in_is_described(source: ClaudeLiveSource, home: Path) -> None:
    """A valid file gives OAuth auth info with plan, tier, scopes and expiry in seconds."""
    expected = AuthInfo(
        source=str(home / ".claude/.credentials.json"),
        kind="oauth",
        expires_at=NOW + 3600,
        plan="max (default_claude_max_20x)",
        scopes=("user:inference", "user:profile"),
    )
    inspection = source.inspect(NOW)
    assert (expected, None) == (inspection.auth, inspection.failure)


def test_config_dir_list_first_existing_wins(home: Path, tmp_path: Path) -> None:
    """The first ``CLAUDE_CONFIG_DIR`` entry holding a file wins over later ones and ``~``."""
    write_credentials(home / ".claude")
    second = write_credentials(home / "b")
    write_credentials(tmp_path / "c")
    env = {"CLAUDE_CONFIG_DIR": f"{tmp_path / 'a'}, ~/b ,{tmp_path / 'c'}"}
    made = claude_live_source(config("https://x.test"), env=env, home=home, platform="linux")
    inspection = made.inspect(NOW)
    assert inspection.auth is not None
    assert str(second) == inspection.auth.source
    expected = (f"{tmp_path / 'a' / '.credentials.json'}: missing", f"{second}: found")
    assert expected == inspection.found


def test_securestorage_dir_wins(home: Path, tmp_path: Path) -> None:
    """``CLAUDE_SECURESTORAGE_CONFIG_DIR`` is tried before ``CLAUDE_CONFIG_DIR``."""
    write_credentials(tmp_path / "config")
    secure = write_credentials(tmp_path / "secure")
    env = {
        "CLAUDE_SECURESTORAGE_CONFIG_DIR": str(tmp_path / "secure"),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "config"),
    }
    made = claude_live_source(config("https://x.test"), env=env, home=home, platform="linux")
    auth = made.inspect(NOW).auth
    assert auth is not None
    assert str(secure) == auth.source


def test_no_sign_in_anywhere(home: Path) -> None:
    """No file: ``unconfigured`` listing every place looked at, with the sign-in fix."""
    env = {"CLAUDE_CONFIG_DIR": "/nowhere"}
    made = claude_live_source(config("https://x.test"), env=env, home=home, platform="linux")
    inspection = made.inspect(NOW)
    assert inspection.failure is not None
    assert ("unconfigured", SIGN_IN_FIX) == (inspection.failure.kind, inspection.failure.fix)
    assert "/nowhere/.credentials.json" in inspection.failure.reason
    assert str(home / ".claude/.credentials.json") in inspection.failure.reason
    assert inspection.auth is None


def test_file_that_is_not_json(home: Path) -> None:
    """A garbled file is ``unconfigured`` and named; later places are not used."""
    path = write_credentials(home / ".claude", b"{not json")
    made = claude_live_source(config("https://x.test"), env={}, home=home, platform="linux")
    failure = made.inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", f"{path} is not valid JSON") == (failure.kind, failure.reason)


def test_file_without_access_token(home: Path) -> None:
    """A file without ``claudeAiOauth.accessToken`` is ``unconfigured``, naming the file."""
    path = write_credentials(home / ".claude", {"claudeAiOauth": {"expiresAt": 1}})
    made = claude_live_source(config("https://x.test"), env={}, home=home, platform="linux")
    failure = made.inspect(NOW).failure
    assert failure is not None
    assert "unconfigured" == failure.kind
    assert f"{path} holds no Claude subscription sign-in" in failure.reason


def test_token_that_cannot_be_sent(home: Path) -> None:
    """A token with characters no HTTP header can carry is ``unconfigured``, not a crash."""
    path = write_credentials(home / ".claude", {"claudeAiOauth": oauth(accessToken="tök\nen")})
    made = claude_live_source(config("https://x.test"), env={}, home=home, platform="linux")
    failure = made.inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", f"{path} holds an access token that is not plain text") == (
        failure.kind,
        failure.reason,
    )


def test_unreadable_file(home: Path) -> None:
    """A path that cannot be read is reported as unreadable and names the file."""
    path = home / ".claude/.credentials.json"
    path.mkdir(parents=True)
    made = claude_live_source(config("https://x.test"), env={}, home=home, platform="linux")
    inspection = made.inspect(NOW)
    assert inspection.failure is not None
    assert "unconfigured" == inspection.failure.kind
    assert str(path) in inspection.failure.reason
    assert (f"{path}: unreadable: it is a directory",) == inspection.found


def test_expired_sign_in(home: Path) -> None:
    """An expired token is an ``auth`` failure with the UTC time and the renew fix."""
    path = write_credentials(
        home / ".claude", {"claudeAiOauth": oauth(expiresAt=1_778_889_600_000)}
    )
    made = claude_live_source(config("https://x.test"), env={}, home=home, platform="linux")
    failure = made.inspect(NOW).failure
    assert failure is not None
    expected = f"the Claude Code sign-in in {path} expired at 2026-05-16 00:00:00 UTC"
    assert ("auth", expected, SIGN_IN_AGAIN_FIX) == (failure.kind, failure.reason, failure.fix)


def test_wrong_scope(home: Path) -> None:
    """A sign-in without ``user:profile`` is an ``auth`` failure asking for /login."""
    write_credentials(home / ".claude", {"claudeAiOauth": oauth(scopes=["user:inference"])})
    made = claude_live_source(config("https://x.test"), env={}, home=home, platform="linux")
    failure = made.inspect(NOW).failure
    assert failure is not None
    assert "auth" == failure.kind
    assert "user:profile" in failure.reason
    assert "/login" in failure.fix


def test_unsafe_usage_url_refused(home: Path, client: httpx.Client) -> None:
    """A plain-http usage URL to another host is refused before any token is sent."""
    write_credentials(home / ".claude")
    made = claude_live_source(config("http://example.com/u"), env={}, home=home, platform="linux")
    failure = made.poll(client, NOW).failure
    assert failure is not None
    assert "unconfigured" == failure.kind
    assert "usage_url" in failure.reason


# -- the macOS keychain -----------------------------------------------------------------------


def test_keychain_sign_in(home: Path, tmp_path: Path) -> None:
    """On macOS with no file, the keychain item is read through ``security``."""
    command = fake_security(tmp_path, json.dumps({"claudeAiOauth": oauth()}))
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="darwin", security_command=command
    )
    inspection = made.inspect(NOW)
    assert inspection.auth is not None
    assert (KEYCHAIN_SOURCE, None) == (inspection.auth.source, inspection.failure)
    assert f"{KEYCHAIN_SOURCE}: found" == inspection.found[-1]


def test_keychain_asked_for_the_right_item(home: Path, tmp_path: Path) -> None:
    """``security find-generic-password -s "Claude Code-credentials" -w`` is what runs."""
    command = fake_security(tmp_path, json.dumps({"claudeAiOauth": oauth()}))
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="darwin", security_command=command
    )
    made.inspect(NOW)
    expected = "find-generic-password\n-s\nClaude Code-credentials\n-w\n"
    assert expected == (tmp_path / "security-args").read_text()


def test_keychain_with_only_mcp_sign_ins(home: Path, tmp_path: Path) -> None:
    """A keychain item holding only ``mcpOAuth`` is no usable sign-in."""
    command = fake_security(tmp_path, json.dumps({"mcpOAuth": {"srv": {"accessToken": "x"}}}))
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="darwin", security_command=command
    )
    failure = made.inspect(NOW).failure
    assert failure is not None
    assert "unconfigured" == failure.kind
    assert "only MCP server sign-ins" in failure.reason


def test_keychain_failing_exit_code(home: Path, tmp_path: Path) -> None:
    """``security`` failing is ``unconfigured`` naming the keychain item, not its output."""
    command = fake_security(tmp_path, CANARY, exit_code=36)
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="darwin", security_command=command
    )
    inspection = made.inspect(NOW)
    assert inspection.failure is not None
    assert "unconfigured" == inspection.failure.kind
    assert f"cannot read the {KEYCHAIN_SOURCE}" in inspection.failure.reason
    assert CANARY not in repr(inspection)


def test_keychain_item_missing(home: Path, tmp_path: Path) -> None:
    """Exit code 44 (no such item) counts as missing, like an absent file."""
    command = fake_security(tmp_path, "", exit_code=44)
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="darwin", security_command=command
    )
    inspection = made.inspect(NOW)
    assert inspection.failure is not None
    assert (SIGN_IN_FIX, f"{KEYCHAIN_SOURCE}: missing") == (
        inspection.failure.fix,
        inspection.found[-1],
    )


def test_keychain_garbage_output(home: Path, tmp_path: Path) -> None:
    """Output that is not JSON is ``unconfigured`` and never quoted."""
    command = fake_security(tmp_path, f"garbage {CANARY}")
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="darwin", security_command=command
    )
    inspection = made.inspect(NOW)
    assert inspection.failure is not None
    assert "unconfigured" == inspection.failure.kind
    assert CANARY not in repr(inspection)


def test_missing_security_binary(home: Path, tmp_path: Path) -> None:
    """Without a ``security`` command the keychain is skipped, not an error."""
    made = ClaudeLiveSource(
        config("https://x.test"),
        env={},
        home=home,
        platform="darwin",
        security_command=[str(tmp_path / "no-such-command")],
    )
    failure = made.inspect(NOW).failure
    assert failure is not None
    assert ("unconfigured", SIGN_IN_FIX) == (failure.kind, failure.fix)


def test_keychain_disabled_in_config(home: Path, tmp_path: Path) -> None:
    """With ``[claude] keychain = false`` the keychain is not asked."""
    command = fake_security(tmp_path, json.dumps({"claudeAiOauth": oauth()}))
    made = ClaudeLiveSource(
        config("https://x.test", keychain=False),
        env={},
        home=home,
        platform="darwin",
        security_command=command,
    )
    inspection = made.inspect(NOW)
    assert inspection.failure is not None
    assert not (tmp_path / "security-args").exists()


def test_keychain_not_asked_off_macos(home: Path, tmp_path: Path) -> None:
    """On Linux the keychain is never asked."""
    command = fake_security(tmp_path, json.dumps({"claudeAiOauth": oauth()}))
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="linux", security_command=command
    )
    made.inspect(NOW)
    assert not (tmp_path / "security-args").exists()


def test_file_wins_over_keychain(home: Path, tmp_path: Path) -> None:
    """On macOS an existing file is used and the keychain is not asked."""
    path = write_credentials(home / ".claude")
    command = fake_security(tmp_path, json.dumps({"claudeAiOauth": oauth()}))
    made = ClaudeLiveSource(
        config("https://x.test"), env={}, home=home, platform="darwin", security_command=command
    )
    auth = made.inspect(NOW).auth
    assert auth is not None
    assert str(path) == auth.source
    assert not (tmp_path / "security-args").exists()


# -- asking the endpoint ----------------------------------------------------------------------


def test_headers_sent_exactly(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """One GET with the bearer token, the beta header, JSON accept and the user agent."""
    poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    [request] = fake_endpoint.requests_for(USAGE)
    headers = {name.lower(): value for name, value in request.headers.items()}
    expected = {
        "authorization": f"Bearer {CANARY}",
        "anthropic-beta": "oauth-2025-04-20",
        "accept": "application/json",
        "user-agent": USER_AGENT,
    }
    assert ("GET", b"") == (request.method, request.body)
    assert expected == {name: headers.get(name) for name in expected}


def test_full_answer_windows(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """Every window-shaped field and every ``limits`` item becomes a window; nulls are absent."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    expected = [
        "five_hour",
        "seven_day",
        "seven_day_sonnet",
        "seven_day_routines",
        "seven_day_cowork",
        "weekly_scoped:claude-opus-4-1",
        "session:five_hour",
    ]
    assert (None, ()) == (result.failure, result.notes)
    assert expected == [w.window for w in result.windows]


def test_five_hour_window(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """``five_hour`` keeps its percent, fractional reset time and 5-hour length."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    expected = LimitWindow(
        provider="claude",
        window="five_hour",
        used_percent=37.0,
        observed_at=NOW,
        source="live",
        resets_at=1_778_907_600.123456,
        window_seconds=18000,
    )
    assert expected == window(result, "five_hour")


def test_reset_time_without_fraction(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """An ISO time without fractional seconds reads too, and weekly windows last 7 days."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    seven_day = window(result, "seven_day")
    assert (1_779_267_600.0, 604800) == (seven_day.resets_at, seven_day.window_seconds)


def test_null_reset_time(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A null ``resets_at`` leaves the reset time unknown, without a note."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    assert (None, ()) == (window(result, "seven_day_sonnet").resets_at, result.notes)


def test_extra_usage_credit(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """``extra_usage`` becomes a credit with amounts as decimal strings."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    expected = CreditBalance(
        provider="claude",
        name="extra_usage",
        used="12.5",
        limit="5000",
        currency="USD",
        used_percent=0.25,
        enabled=True,
    )
    assert (expected,) == result.credits


def test_limits_item_detail(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A scoped limit names the model and shows its display name; weekly means 7 days."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    opus = window(result, "weekly_scoped:claude-opus-4-1")
    assert (22.0, "Opus 4.1", 604800) == (opus.used_percent, opus.detail, opus.window_seconds)


def test_inactive_limit_is_said(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A limit with ``is_active`` false says so in its detail and is named by its group."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    assert "not active" == window(result, "session:five_hour").detail


def test_auth_info_on_success(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A successful poll carries the auth info it used."""
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER))
    assert result.auth is not None
    assert ("oauth", NOW + 3600) == (result.auth.kind, result.auth.expires_at)


def test_unknown_fields_tolerated(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """New keys of window shape become windows; other new fields are ignored."""
    answer = {
        "five_hour": {"utilization": 5, "resets_at": None, "new_field": [1, 2]},
        "seven_day_haiku": {"utilization": 3, "resets_at": "2026-05-20T09:00:00+00:00"},
        "hourly_burst": {"utilization": 9, "resets_at": None},
        "account": {"tier": "max"},
        "flags": [1, "x"],
    }
    result = poll_answer(fake_endpoint, source, client, Reply(body=answer))
    names = {w.window: w.window_seconds for w in result.windows}
    expected = {"five_hour": 18000, "seven_day_haiku": 604800, "hourly_burst": None}
    assert (expected, None, ()) == (names, result.failure, result.notes)


def test_unreadable_utilization_skipped_with_note(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A window whose utilization is not a number is skipped and mentioned in the notes."""
    answer = {"five_hour": {"utilization": "abc"}, "seven_day": {"utilization": 2}}
    result = poll_answer(fake_endpoint, source, client, Reply(body=answer))
    expected = ("five_hour.utilization is a string, not a number; skipped",)
    assert (["seven_day"], expected) == ([w.window for w in result.windows], result.notes)


def test_unreadable_reset_time_noted(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A ``resets_at`` that is not a date keeps the window with an unknown reset and a note."""
    answer = {"five_hour": {"utilization": 2, "resets_at": "soon"}}
    result = poll_answer(fake_endpoint, source, client, Reply(body=answer))
    assert (None, 1) == (window(result, "five_hour").resets_at, len(result.notes))


def test_all_windows_null_is_not_a_failure(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """Known keys that are all null mean no windows, not a changed endpoint."""
    answer = {"five_hour": None, "seven_day": None, "extra_usage": None}
    result = poll_answer(fake_endpoint, source, client, Reply(body=answer))
    assert ((), (), None) == (result.windows, result.credits, result.failure)


def test_money_string_kept_exactly() -> None:
    """An amount sent as a string is kept digit for digit."""
    answer = {"extra_usage": {"is_enabled": False, "used_credits": "0.10", "monthly_limit": None}}
    result = read_usage(answer, NOW, "h")
    assert [("0.10", None, False)] == [(c.used, c.limit, c.enabled) for c in result.credits]


def test_money_in_odd_notation_skipped_with_note() -> None:
    """An amount string that is not plain decimal digits is left out and mentioned."""
    answer = {"extra_usage": {"used_credits": "1e400000", "monthly_limit": 20}}
    result = read_usage(answer, NOW, "h")
    expected = ("extra_usage.used_credits is not an amount; skipped",)
    assert ([(None, "20")], expected) == ([(c.used, c.limit) for c in result.credits], result.notes)


def test_limit_with_odd_names_noted() -> None:
    """A ``limits`` item whose kind is not a plain name keeps its group and gets a note."""
    answer = {"limits": [{"kind": "a b", "group": "weekly", "percent": 1}]}
    result = read_usage(answer, NOW, "h")
    expected = ("limits[0]: kind not a plain name; left out",)
    assert (["limit:weekly"], expected) == ([w.window for w in result.windows], result.notes)


def test_empty_object_is_unexpected(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """``{}`` is ``unexpected``: the endpoint may have changed."""
    failure = poll_answer(fake_endpoint, source, client, Reply(body={})).failure
    assert failure is not None
    assert "unexpected" == failure.kind
    assert "may have changed" in failure.reason


def test_list_answer_is_malformed(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """``[]`` is ``malformed``."""
    failure = poll_answer(fake_endpoint, source, client, Reply(body=[])).failure
    assert failure is not None
    assert "malformed" == failure.kind


def test_truncated_json_is_malformed(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A body cut off mid-JSON is ``malformed``."""
    reply = Reply(body=b'{"five_hour": {"utilization": 3')
    failure = poll_answer(fake_endpoint, source, client, reply).failure
    assert failure is not None
    assert "malformed" == failure.kind


def test_401_asks_to_sign_in(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """HTTP 401 is ``auth`` with the Claude sign-in fix."""
    failure = poll_answer(fake_endpoint, source, client, Reply(401, {"error": "x"})).failure
    assert failure is not None
    assert ("auth", 401, SIGN_IN_FIX) == (failure.kind, failure.http_status, failure.fix)


def test_403_is_auth(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """HTTP 403 is ``auth`` with a fix to sign in again with /login."""
    failure = poll_answer(fake_endpoint, source, client, Reply(403, {"error": "x"})).failure
    assert failure is not None
    assert ("auth", 403) == (failure.kind, failure.http_status)
    assert "/login" in failure.fix


def test_429_honours_retry_after(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """HTTP 429 is ``rate_limited`` carrying the server's ``Retry-After``."""
    reply = Reply(429, {"error": "slow down"}, headers={"Retry-After": "120"})
    failure = poll_answer(fake_endpoint, source, client, reply).failure
    assert failure is not None
    assert ("rate_limited", 120.0) == (failure.kind, failure.retry_after)


def test_500_is_server(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """HTTP 500 is ``server``."""
    failure = poll_answer(fake_endpoint, source, client, Reply(500, {"error": "x"})).failure
    assert failure is not None
    assert ("server", 500) == (failure.kind, failure.http_status)


def test_slow_server_times_out(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A server slower than the timeout gives ``timeout`` in about the timeout."""
    started = time.monotonic()
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER, delay=5))
    elapsed = time.monotonic() - started
    assert result.failure is not None
    assert "timeout" == result.failure.kind
    assert elapsed < TIMEOUT + 0.6


def test_trickling_body_times_out(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A body sent a byte at a time cannot stretch the exchange past the timeout."""
    started = time.monotonic()
    result = poll_answer(fake_endpoint, source, client, Reply(body=FULL_ANSWER, trickle=0.05))
    elapsed = time.monotonic() - started
    assert result.failure is not None
    assert "timeout" == result.failure.kind
    assert elapsed < TIMEOUT + 0.6


def test_hang_up_is_network(
    fake_endpoint: FakeEndpoint, source: ClaudeLiveSource, client: httpx.Client
) -> None:
    """A server that drops the connection gives ``network``."""
    failure = poll_answer(fake_endpoint, source, client, Reply(hang_up=True)).failure
    assert failure is not None
    assert "network" == failure.kind


def test_unreachable_port_is_network(home: Path, client: httpx.Client) -> None:
    """Nothing listening gives ``network``."""
    write_credentials(home / ".claude")
    url = f"http://127.0.0.1:{free_port()}{USAGE}"
    made = claude_live_source(config(url), env={}, home=home, platform="linux")
    failure = made.poll(client, NOW).failure
    assert failure is not None
    assert "network" == failure.kind


def test_expired_token_sends_nothing(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """With an expired sign-in the endpoint is not asked at all."""
    write_credentials(home / ".claude", {"claudeAiOauth": oauth(expiresAt=1000)})
    made = claude_live_source(config(fake_endpoint.url + USAGE), env={}, home=home, platform="x")
    result = poll_answer(fake_endpoint, made, client, Reply(body=FULL_ANSWER))
    assert result.failure is not None
    assert ("auth", 0) == (result.failure.kind, len(fake_endpoint.received))


def test_wrong_scope_sends_nothing(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """With a sign-in lacking ``user:profile`` the endpoint is not asked."""
    write_credentials(home / ".claude", {"claudeAiOauth": oauth(scopes=["user:inference"])})
    made = claude_live_source(config(fake_endpoint.url + USAGE), env={}, home=home, platform="x")
    result = poll_answer(fake_endpoint, made, client, Reply(body=FULL_ANSWER))
    assert result.failure is not None
    assert ("auth", 0) == (result.failure.kind, len(fake_endpoint.received))


def test_credential_file_unchanged_by_polls(
    fake_endpoint: FakeEndpoint, home: Path, client: httpx.Client
) -> None:
    """Polls, refused ones included, leave the credential file's bytes and mtime alone."""
    path = write_credentials(home / ".claude")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    made = claude_live_source(config(fake_endpoint.url + USAGE), env={}, home=home, platform="x")
    fake_endpoint.queue(USAGE, Reply(body=FULL_ANSWER), Reply(401, {}), Reply(500, {}))
    results = [made.poll(client, NOW) for _ in range(3)]
    assert [None, "auth", "server"] == [r.failure and r.failure.kind for r in results]
    assert before == (path.read_bytes(), path.stat().st_mtime_ns)


# -- the secret stays secret ------------------------------------------------------------------

ECHO = {"error": {"message": f"invalid token Authorization: Bearer {CANARY}"}}
SECRET_MODES = {
    "ok": Reply(body=FULL_ANSWER),
    "401 echo": Reply(401, ECHO),
    "403 echo": Reply(403, ECHO),
    "429 echo": Reply(429, ECHO, headers={"Retry-After": "5"}),
    "500 echo": Reply(500, ECHO),
    "200 echo": Reply(body=ECHO),
    "echo in names": Reply(
        body={
            CANARY: {"utilization": 1},
            "five_hour": {"utilization": CANARY, "resets_at": CANARY},
            "extra_usage": {"currency": CANARY, "used_credits": CANARY, "monthly_limit": 1},
            "limits": [
                {
                    "kind": CANARY,
                    "percent": 3,
                    "group": f"Bearer {CANARY}",
                    "scope": {"model": {"id": CANARY, "display_name": CANARY}},
                }
            ],
        }
    ),
    "truncated": Reply(body=f'{{"five_hour": "{CANARY}'.encode()),
    "list": Reply(body=[CANARY]),
    "empty": Reply(body={}),
    "slow": Reply(body=ECHO, delay=5),
    "trickle": Reply(body=ECHO, trickle=0.05),
    "hang up": Reply(hang_up=True),
}


@pytest.mark.parametrize("mode", list(SECRET_MODES))
def test_secret_never_returned_by_the_endpoint(
    fake_endpoint: FakeEndpoint,
    source: ClaudeLiveSource,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    """Whatever the server answers, even echoing the token, no result or log holds a secret."""
    caplog.set_level(logging.DEBUG)
    result = poll_answer(fake_endpoint, source, client, SECRET_MODES[mode])
    text = repr(result) + repr(source.inspect(NOW)) + caplog.text
    assert (False, False) == (CANARY in text, REFRESH_CANARY in text)


@pytest.mark.parametrize(
    "block",
    [
        oauth(expiresAt=1000),
        oauth(scopes=["user:inference"]),
        {"refreshToken": REFRESH_CANARY, "expiresAt": CANARY},
    ],
    ids=["expired", "scope", "no access token"],
)
def test_secret_never_returned_by_inspection(
    home: Path, client: httpx.Client, block: dict[str, Any]
) -> None:
    """Refusals found without the network never quote the tokens either."""
    write_credentials(home / ".claude", {"claudeAiOauth": block})
    made = claude_live_source(config("https://x.test"), env={}, home=home, platform="linux")
    text = repr(made.poll(client, NOW)) + repr(made.inspect(NOW))
    assert (False, False) == (CANARY in text, REFRESH_CANARY in text)


def test_secret_never_returned_when_unreachable(home: Path, client: httpx.Client) -> None:
    """A connection failure does not quote the token."""
    write_credentials(home / ".claude")
    url = f"http://127.0.0.1:{free_port()}{USAGE}"
    made = claude_live_source(config(url), env={}, home=home, platform="linux")
    assert CANARY not in repr(made.poll(client, NOW))


def test_secret_never_returned_from_keychain(
    fake_endpoint: FakeEndpoint, home: Path, tmp_path: Path, client: httpx.Client
) -> None:
    """A keychain sign-in answered with an echo keeps its token out of the result."""
    command = fake_security(tmp_path, json.dumps({"claudeAiOauth": oauth()}))
    made = ClaudeLiveSource(
        config(fake_endpoint.url + USAGE),
        env={},
        home=home,
        platform="darwin",
        security_command=command,
    )
    result = poll_answer(fake_endpoint, made, client, Reply(401, ECHO))
    assert result.failure is not None
    assert ("auth", False) == (result.failure.kind, CANARY in repr(result))
