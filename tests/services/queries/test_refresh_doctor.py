"""`otm refresh` and `otm doctor` without the stack: real credential files, a real endpoint
server, the in-process poller and the polling gate between runs."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from otm.health import show_doctor
from services.collector.claude.credentials import SIGN_IN_FIX
from services.queries.doctor import diagnose
from services.queries.refresh import refresh
from services.queries.reports.limits import limits_report
from services.runtime.installation import Runtime, load_runtime
from services.store.database import connect_reader
from tests.fake_endpoint import FakeEndpoint, Reply

# Every provider's source is built together: without a working Gemini module none can run.
pytest.importorskip(
    "services.collector.gemini.live", reason="the Gemini live source is not importable yet"
)

CLAUDE_USAGE = "/api/oauth/usage"
CODEX_USAGE = "/backend-api/wham/usage"
GEMINI_LOAD = "/v1internal:loadCodeAssist"
GEMINI_QUOTA = "/v1internal:retrieveUserQuota"
ALL_PATHS = (CLAUDE_USAGE, CODEX_USAGE, GEMINI_LOAD, GEMINI_QUOTA)
CLAUDE_TOKEN = "sk-ant-oat01-CANARY-DOCTOR-3b9e"
CLAUDE_REFRESH = "sk-ant-ort01-CANARY-DOCTOR-REFRESH-77aa"
CODEX_SIGNATURE = "CANARY-CODEX-SIGNATURE-c41d"
CODEX_REFRESH = "CANARY-CODEX-REFRESH-19fe"
GEMINI_TOKEN = "ya29.CANARY-GEMINI-ACCESS-6d02"
GEMINI_REFRESH = "1//CANARY-GEMINI-REFRESH-e5a7"
CANARIES = (
    CLAUDE_TOKEN,
    CLAUDE_REFRESH,
    CODEX_SIGNATURE,
    CODEX_REFRESH,
    GEMINI_TOKEN,
    GEMINI_REFRESH,
)
NOT_ASKED = "not asked (asked recently or backing off)"
NOT_ASKED_OFF = "not asked: live limits are off ([limits] enabled = false)"
CHECKED = {"claude": "checked", "codex": "checked", "gemini": "checked"}


def iso(epoch: float) -> str:
    """An ISO-8601 UTC time, as the endpoints write them."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token carrying ``claims`` (the signature part is a canary)."""
    parts = [{"alg": "RS256", "typ": "JWT"}, claims]
    encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=") for p in parts]
    return f"{encoded[0].decode()}.{encoded[1].decode()}.{CODEX_SIGNATURE}"


def write_json(path: Path, document: Any) -> Path:
    """Write ``document`` as JSON at ``path`` (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


@dataclass(frozen=True)
class Machine:
    """A machine with all three CLIs signed in, and the endpoint server they point at."""

    state: Path
    fake: FakeEndpoint
    claude_creds: Path
    codex_auth: Path
    gemini_creds: Path

    def runtime(self, limits: str = "timeout_seconds = 0.5") -> Runtime:
        """Write config.toml (endpoints on the fake server, ``limits`` under [limits]) and load
        the runtime as `otm` would."""
        url = self.fake.url
        (self.state / "config.toml").write_text(
            f'[claude]\nusage_url = "{url}{CLAUDE_USAGE}"\n'
            f'[codex]\nusage_url = "{url}{CODEX_USAGE}"\n'
            f'[gemini]\ncode_assist_endpoint = "{url}"\n'
            f"[limits]\n{limits}\n"
        )
        return load_runtime()

    def requests(self) -> dict[str, int]:
        """How many requests each endpoint path has received."""
        return {path: len(self.fake.requests_for(path)) for path in ALL_PATHS}


@pytest.fixture
def machine(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_endpoint: FakeEndpoint
) -> Machine:
    """Private homes for every CLI holding valid sign-ins, and endpoints that answer well."""
    homes = {
        "HOME": tmp_path / "user",
        "CLAUDE_CONFIG_DIR": tmp_path / "claude",
        "CODEX_HOME": tmp_path / "codex",
        "GEMINI_CLI_HOME": tmp_path / "gemini",
    }
    for key, folder in homes.items():
        folder.mkdir()
        monkeypatch.setenv(key, str(folder))
    for name in (
        "CLAUDE_SECURESTORAGE_CONFIG_DIR",
        "CODE_ASSIST_ENDPOINT",
        "CODE_ASSIST_API_VERSION",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_PROJECT_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    now = time.time()
    claude = write_json(
        homes["CLAUDE_CONFIG_DIR"] / ".credentials.json",
        {
            "claudeAiOauth": {
                "accessToken": CLAUDE_TOKEN,
                "refreshToken": CLAUDE_REFRESH,
                "expiresAt": int((now + 3600) * 1000),
                "scopes": ["user:inference", "user:profile"],
                "subscriptionType": "max",
            }
        },
    )
    codex = write_json(
        homes["CODEX_HOME"] / "auth.json",
        {
            "OPENAI_API_KEY": None,
            "tokens": {
                "access_token": jwt({"exp": now + 86400}),
                "refresh_token": CODEX_REFRESH,
                "account_id": "acct-1234",
            },
        },
    )
    gemini = write_json(
        homes["GEMINI_CLI_HOME"] / ".gemini" / "oauth_creds.json",
        {
            "access_token": GEMINI_TOKEN,
            "refresh_token": GEMINI_REFRESH,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "token_type": "Bearer",
            # Fresh for an hour: no renewal, so nothing is sent to Google's real token URL.
            "expiry_date": int((now + 3600) * 1000),
        },
    )
    fake_endpoint.answer(
        CLAUDE_USAGE,
        Reply(200, {"five_hour": {"utilization": 37.0, "resets_at": iso(now + 3600)}}),
    )
    primary = {"used_percent": 15, "reset_at": int(now + 3600), "limit_window_seconds": 18000}
    fake_endpoint.answer(CODEX_USAGE, Reply(200, {"rate_limit": {"primary_window": primary}}))
    fake_endpoint.answer(
        GEMINI_LOAD,
        Reply(200, {"currentTier": {"id": "standard-tier"}, "cloudaicompanionProject": "p-1"}),
    )
    bucket = {
        "modelId": "gemini-2.5-pro",
        "tokenType": "REQUESTS",
        "remainingFraction": 0.75,
        "resetTime": iso(now + 86400).replace("+00:00", "Z"),
    }
    fake_endpoint.answer(GEMINI_QUOTA, Reply(200, {"buckets": [bucket]}))
    return Machine(state, fake_endpoint, claude, codex, gemini)


@pytest.fixture
def runtime(machine: Machine) -> Runtime:
    """The runtime with the default polling floor (60 s)."""
    return machine.runtime()


def report(runtime: Runtime) -> dict[str, Any]:
    """`otm limits --json` on the database the refresh wrote."""
    conn = connect_reader(str(runtime.db_path))
    try:
        return limits_report(conn)
    finally:
        conn.close()


# -- otm refresh ------------------------------------------------------------------------------


def test_refresh_checks_every_provider(runtime: Runtime) -> None:
    """A first refresh asks every provider's endpoint."""
    assert CHECKED == refresh(runtime, "all")


def test_refresh_returns_once_the_polls_are_done(runtime: Runtime) -> None:
    """A refresh whose endpoints answer at once returns before its time-out allowance."""
    # It used to sleep through all of it: 3 x timeout_seconds + 5 s = 6.5 s here.
    started = time.monotonic()
    refresh(runtime, "all")
    assert True is (time.monotonic() - started < 3 * 0.5 + 5)


def test_refresh_of_one_provider_asks_only_that_provider(
    machine: Machine, runtime: Runtime
) -> None:
    """`otm refresh claude` asks Claude's endpoint and no other."""
    refresh(runtime, "claude")
    expected = {CLAUDE_USAGE: 1, CODEX_USAGE: 0, GEMINI_LOAD: 0, GEMINI_QUOTA: 0}
    assert expected == machine.requests()


def test_refresh_commits_live_windows(runtime: Runtime) -> None:
    """After a refresh the limits report holds each provider's windows from source "live"."""
    refresh(runtime, "all")
    windows = report(runtime)["limits"]
    expected = {
        ("claude", "five_hour", "live"),
        ("codex", "primary", "live"),
        ("gemini", "gemini-2.5-pro", "live"),
    }
    assert expected == {(w["provider"], w["window"], w["source"]) for w in windows}


def test_refresh_commits_ok_statuses(runtime: Runtime) -> None:
    """After a successful refresh every provider's live status is ok."""
    refresh(runtime, "all")
    live = report(runtime)["live"]
    assert {"claude": "ok", "codex": "ok", "gemini": "ok"} == {
        p: s["state"] for p, s in live.items()
    }


def test_second_refresh_is_not_asked(runtime: Runtime) -> None:
    """A refresh right after another is refused by the gate, and says so."""
    refresh(runtime, "all")
    expected = {"claude": NOT_ASKED, "codex": NOT_ASKED, "gemini": NOT_ASKED}
    assert expected == refresh(runtime, "all")


def test_second_refresh_sends_no_request(machine: Machine, runtime: Runtime) -> None:
    """The endpoints receive nothing from a refresh the gate refused."""
    refresh(runtime, "all")
    refresh(runtime, "all")
    assert dict.fromkeys(ALL_PATHS, 1) == machine.requests()


def test_refresh_with_limits_off_asks_nothing(machine: Machine) -> None:
    """With [limits] enabled = false no endpoint is asked, and the answer says why."""
    runtime = machine.runtime("enabled = false")
    outcome = refresh(runtime, "all")
    assert (dict.fromkeys(("claude", "codex", "gemini"), NOT_ASKED_OFF), 0) == (
        outcome,
        sum(machine.requests().values()),
    )


def test_server_error_keeps_windows_and_marks_them_stale(machine: Machine) -> None:
    """A 500 after a good poll keeps the earlier window, stale with the failure's reason."""
    runtime = machine.runtime("timeout_seconds = 0.5\nmin_interval_seconds = 1\npoll_seconds = 1")
    refresh(runtime, "claude")
    machine.fake.queue(CLAUDE_USAGE, Reply(500, {"error": "overloaded"}))
    time.sleep(1.1)  # the polling floor (1 s here) applies to `otm refresh` as well
    refresh(runtime, "claude")
    body = report(runtime)
    (window,) = [w for w in body["limits"] if w["provider"] == "claude"]
    status = body["live"]["claude"]
    assert (37.0, True, f"the last live check failed: {status['reason']}", "failed", 500) == (
        window["usedPercent"],
        window["stale"],
        window["staleReason"],
        status["state"],
        status["httpStatus"],
    )


def test_echoed_token_is_not_stored(machine: Machine, runtime: Runtime) -> None:
    """A server echoing the Authorization header in its error leaves no token in the report."""
    machine.fake.answer(
        CLAUDE_USAGE, Reply(401, {"error": f"invalid Authorization: Bearer {CLAUDE_TOKEN}"})
    )
    refresh(runtime, "all")
    text = json.dumps(report(runtime))
    assert [] == [c for c in CANARIES if c in text]


# -- otm doctor -------------------------------------------------------------------------------


def test_doctor_names_the_claude_credentials_file(machine: Machine, runtime: Runtime) -> None:
    """Doctor says which Claude sign-in file it found and uses it as the auth source."""
    claude = diagnose(runtime)["providers"]["claude"]["credentials"]
    assert (True, str(machine.claude_creds), "oauth") == (
        f"{machine.claude_creds}: found" in claude["lookedAt"],
        claude["auth"]["source"],
        claude["auth"]["kind"],
    )


def test_doctor_names_the_codex_auth_file(machine: Machine, runtime: Runtime) -> None:
    """Doctor gives Codex's auth.json as the auth source."""
    codex = diagnose(runtime)["providers"]["codex"]["credentials"]
    assert (str(machine.codex_auth), None) == (codex["auth"]["source"], codex["problem"])


def test_doctor_names_the_gemini_credentials_file(machine: Machine, runtime: Runtime) -> None:
    """Doctor gives Gemini CLI's oauth_creds.json as the auth source."""
    gemini = diagnose(runtime)["providers"]["gemini"]["credentials"]
    assert (str(machine.gemini_creds), None) == (gemini["auth"]["source"], gemini["problem"])


def test_doctor_without_claude_sign_in_says_where_it_looked(
    machine: Machine, runtime: Runtime
) -> None:
    """With no Claude sign-in, doctor's reason lists the places looked at, with the fix."""
    machine.claude_creds.unlink()
    claude = diagnose(runtime)["providers"]["claude"]
    assert (True, True, SIGN_IN_FIX) == (
        claude["reason"].startswith("no Claude Code sign-in found (looked at: "),
        str(machine.claude_creds) in claude["reason"],
        claude["fix"],
    )


def test_doctor_shows_the_last_live_check(runtime: Runtime) -> None:
    """After a refresh, doctor shows each provider available with its ok live check."""
    refresh(runtime, "all")
    providers = diagnose(runtime)["providers"]
    assert {p: ("available", "ok") for p in CHECKED} == {
        p: (v["state"], v["live"]["state"]) for p, v in providers.items()
    }


def test_doctor_live_refreshes_first(runtime: Runtime) -> None:
    """doctor --live asks the endpoints first and says so per provider."""
    providers = diagnose(runtime, live=True)["providers"]
    assert CHECKED == {p: v["refreshed"] for p, v in providers.items()}


def test_doctor_json_never_contains_a_token(machine: Machine, runtime: Runtime) -> None:
    """No token appears in doctor's findings, even after a server echoed one back."""
    machine.fake.answer(
        CLAUDE_USAGE, Reply(401, {"error": f"invalid Authorization: Bearer {CLAUDE_TOKEN}"})
    )
    text = json.dumps(diagnose(runtime, live=True))
    assert [] == [c for c in CANARIES if c in text]


def test_doctor_text_never_prints_a_token(
    machine: Machine, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    """The readable doctor output names the providers and prints no token."""
    machine.fake.answer(
        CLAUDE_USAGE, Reply(401, {"error": f"invalid Authorization: Bearer {CLAUDE_TOKEN}"})
    )
    show_doctor(runtime, "all", live=True, as_json=False)
    out = capsys.readouterr().out
    assert ([], True) == ([c for c in CANARIES if c in out], "claude" in out)


def test_doctor_leaves_the_credential_files_unchanged(machine: Machine, runtime: Runtime) -> None:
    """Doctor and refresh only read the CLIs' sign-in files: bytes and mtimes stay the same."""
    files = (machine.claude_creds, machine.codex_auth, machine.gemini_creds)
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]
    diagnose(runtime, live=True)
    assert before == [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]


def test_refresh_in_the_demo_asks_nothing_and_says_why(machine: Machine, runtime: Runtime) -> None:
    """Demo data has no live limits: no endpoint is asked and the answer says so."""
    import dataclasses

    outcome = refresh(dataclasses.replace(runtime, demo=True), "claude")
    assert (
        {"claude": "not asked: demo data has no live limits (no CLI is used on this machine yet)"},
        0,
    ) == (outcome, sum(machine.requests().values()))
