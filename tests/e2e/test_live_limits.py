"""Live limits end to end: the stack polls real HTTP servers standing in for the three providers.

The fake endpoints (tests/fake_endpoint.py) are real servers on 127.0.0.1, scripted to answer
well or to misbehave. Credentials carry canary tokens that must never leave their files.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bus.client import EventFollower
from bus.endpoints import endpoints
from bus.messages import LimitsCommitted
from tests.e2e.stack import Stack, wait_until
from tests.fake_endpoint import FakeEndpoint, Reply

pytestmark = pytest.mark.e2e

CLAUDE_TOKEN = "sk-ant-oat01-CANARY-claude-1c9e"
CODEX_SIGNATURE = "CANARY-codex-sig-77ab"
GEMINI_TOKEN = "ya29.CANARY-gemini-5d2f"
REFRESH_TOKEN = "CANARY-refresh-0b3e"
CLAUDE_PATH = "/api/oauth/usage"
CODEX_PATH = "/backend-api/wham/usage"
LOAD_PATH = "/v1internal:loadCodeAssist"
QUOTA_PATH = "/v1internal:retrieveUserQuota"
FUTURE_MS = int((time.time() + 30 * 86_400) * 1000)
RESETS = "2030-01-01T00:00:00Z"

CLAUDE_USAGE = {
    "five_hour": {"utilization": 37.0, "resets_at": "2030-01-01T00:00:00.123456+00:00"},
    "seven_day": {"utilization": 12.5, "resets_at": RESETS},
    "seven_day_opus": None,
    "extra_usage": {"is_enabled": True, "monthly_limit": 50, "used_credits": 12.5},
    "brand_new_field": {"whatever": 1},
}
CODEX_USAGE = {
    "plan_type": "pro",
    "rate_limit": {
        "primary_window": {
            "used_percent": 15,
            "reset_at": 1_893_456_000,
            "limit_window_seconds": 18000,
        },
        "secondary_window": {"used_percent": 5, "reset_at": 1_893_900_000},
    },
    "credits": {"has_credits": True, "unlimited": False, "balance": "150.0"},
}
GEMINI_LOAD = {"cloudaicompanionProject": "proj-1", "currentTier": {"id": "standard-tier"}}
GEMINI_QUOTA = {
    "buckets": [
        {
            "modelId": "gemini-2.5-pro",
            "tokenType": "REQUESTS",
            "remainingFraction": 0.87,
            "remainingAmount": "870",
            "resetTime": RESETS,
        },
    ]
}


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT whose signature part is the Codex canary."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.{CODEX_SIGNATURE}"


def plant_credentials(user: Path, claude_dir: Path) -> None:
    """Credential files of all three CLIs, each holding canary secrets."""
    claude_dir.mkdir(parents=True, exist_ok=True)
    (claude_dir / ".credentials.json").write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": CLAUDE_TOKEN,
                    "refreshToken": REFRESH_TOKEN,
                    "expiresAt": FUTURE_MS,
                    "scopes": ["user:inference", "user:profile"],
                    "subscriptionType": "max",
                }
            }
        )
    )
    codex = user / ".codex"
    codex.mkdir(parents=True)
    access = jwt({"exp": FUTURE_MS // 1000, "chatgpt_account_id": "acct-CANARY-9"})
    (codex / "auth.json").write_text(
        json.dumps(
            {
                "OPENAI_API_KEY": None,
                "tokens": {
                    "access_token": access,
                    "refresh_token": REFRESH_TOKEN,
                    "id_token": access,
                    "account_id": "acct-CANARY-9",
                },
            }
        )
    )
    gemini = user / ".gemini"
    gemini.mkdir(parents=True)
    (gemini / "oauth_creds.json").write_text(
        json.dumps(
            {
                "access_token": GEMINI_TOKEN,
                "refresh_token": REFRESH_TOKEN,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/cloud-platform",
                "expiry_date": FUTURE_MS,
            }
        )
    )


def write_config(home: Path, url: str, poll: float = 1.0, floor: float = 1.0) -> None:
    """Point every provider at the fake endpoint and poll fast enough for a test."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[claude]\nusage_url = "{url}{CLAUDE_PATH}"\n'
        f'[codex]\nusage_url = "{url}{CODEX_PATH}"\n'
        f'[gemini]\ncode_assist_endpoint = "{url}"\n'
        f"[limits]\npoll_seconds = {poll}\nmin_interval_seconds = {floor}\n"
        "jitter = 0.0\ntimeout_seconds = 1.0\nmax_backoff_seconds = 4.0\n"
    )


def serve_good(fake: FakeEndpoint) -> None:
    """Every endpoint answers well."""
    fake.answer(CLAUDE_PATH, Reply(200, CLAUDE_USAGE))
    fake.answer(CODEX_PATH, Reply(200, CODEX_USAGE))
    fake.answer(LOAD_PATH, Reply(200, GEMINI_LOAD))
    fake.answer(QUOTA_PATH, Reply(200, GEMINI_QUOTA))


@pytest.fixture
def live_stack(tmp_path: Path, fake_endpoint: FakeEndpoint) -> Iterator[Stack]:
    """A stack (not started) whose three providers are served by ``fake_endpoint``."""
    claude_dir = tmp_path / "claude"
    stack = Stack(tmp_path / "home", claude_dir)
    plant_credentials(Path(stack.env["HOME"]), claude_dir)
    write_config(stack.home, fake_endpoint.url)
    serve_good(fake_endpoint)
    yield stack
    stack.stop_all()


def limits(stack: Stack) -> dict[str, Any]:
    """``GET /v1/limits``."""
    return httpx.get(f"{stack.api_url}/v1/limits", timeout=5).json()


def window(stack: Stack, provider: str, name: str) -> dict[str, Any] | None:
    """One window of ``GET /v1/limits``, if present."""
    try:
        found = limits(stack)["limits"]
    except (httpx.HTTPError, KeyError, json.JSONDecodeError):
        return None
    return next((w for w in found if (w["provider"], w["window"]) == (provider, name)), None)


def test_every_provider_live_window_reaches_the_api(live_stack: Stack) -> None:
    """Claude's, Codex's and Gemini's live windows are committed and served with their source."""
    live_stack.start()
    wanted = [("claude", "five_hour"), ("codex", "primary"), ("gemini", "gemini-2.5-pro")]
    wait_until(lambda: all(window(live_stack, *w) for w in wanted), 30, "three live windows")
    got = [(window(live_stack, *w) or {}).get("usedPercent") for w in wanted]
    assert [37.0, 15.0, 13.0] == got


def test_provider_status_is_available_with_auth_source(live_stack: Stack) -> None:
    """``GET /v1/status`` says available and where the credentials came from."""
    live_stack.start()
    claude_file = str(Path(live_stack.env["CLAUDE_CONFIG_DIR"]) / ".credentials.json")

    def claude_state() -> dict[str, Any] | None:
        providers = httpx.get(f"{live_stack.api_url}/v1/status", timeout=10).json()["providers"]
        return providers["claude"] if providers["claude"]["state"] == "available" else None

    claude = wait_until(claude_state, 30, "claude available")
    assert claude_file == claude["live"]["auth"]["source"]


@pytest.mark.slow
def test_a_failing_endpoint_keeps_the_last_numbers_marked_stale(
    live_stack: Stack, fake_endpoint: FakeEndpoint
) -> None:
    """After a 500 the last good window stays, stale, with the reason."""
    live_stack.start()
    wait_until(lambda: window(live_stack, "claude", "five_hour"), 30, "first live window")
    fake_endpoint.answer(CLAUDE_PATH, Reply(500, {"error": "boom"}))
    stale = wait_until(
        lambda: (w := window(live_stack, "claude", "five_hour")) and w["stale"] and w,
        30,
        "the window marked stale",
    )
    assert (37.0, True) == (stale["usedPercent"], "HTTP 500" in stale["staleReason"])


@pytest.mark.slow
def test_retry_after_is_honoured_whoever_asks(
    live_stack: Stack, fake_endpoint: FakeEndpoint
) -> None:
    """A 429 with Retry-After: 30 silences the provider, even under a flood of refreshes."""
    fake_endpoint.answer(CLAUDE_PATH, Reply(429, {}, headers={"Retry-After": "30"}))
    live_stack.start()
    wait_until(lambda: fake_endpoint.requests_for(CLAUDE_PATH), 30, "the first claude request")
    for _ in range(20):
        httpx.post(f"{live_stack.api_url}/v1/refresh", timeout=5)
        time.sleep(0.2)
    assert 1 == len(fake_endpoint.requests_for(CLAUDE_PATH))


@pytest.mark.slow
def test_a_refresh_flood_never_exceeds_the_configured_rate(
    live_stack: Stack, fake_endpoint: FakeEndpoint
) -> None:
    """Forty manual refreshes in four seconds reach the provider at most once per floor."""
    write_config(live_stack.home, fake_endpoint.url, poll=2.0, floor=2.0)
    live_stack.start()
    wait_until(lambda: fake_endpoint.requests_for(CODEX_PATH), 30, "the first codex request")
    began = time.monotonic()
    for _ in range(40):
        httpx.post(f"{live_stack.api_url}/v1/refresh?provider=codex", timeout=5)
        time.sleep(0.1)
    elapsed = time.monotonic() - began
    times = [r for r in fake_endpoint.requests_for(CODEX_PATH)]
    assert len(times) <= 2 + int(elapsed / 2.0)


@pytest.mark.slow
def test_status_counts_each_poll_once(live_stack: Stack, fake_endpoint: FakeEndpoint) -> None:
    """The collector's counters in `otm status` equal the requests the provider received."""
    live_stack.start()
    wait_until(lambda: len(fake_endpoint.requests_for(CODEX_PATH)) >= 3, 30, "three polls")
    live_stack.stop("scheduler")
    time.sleep(1.5)  # the last poll completes and a heartbeat carries it

    def counted() -> int:
        status = json.loads(live_stack.otm("status", "--json").stdout)
        collector = next(p for p in status["processes"] if p["process"] == "collector")
        return int(collector["counters"].get("codex_live_ok", 0))

    requests = len(fake_endpoint.requests_for(CODEX_PATH))
    assert requests == wait_until(lambda: counted() == requests and requests, 10, "counters")


@pytest.mark.slow
def test_limit_changes_arrive_on_the_stream(live_stack: Stack, fake_endpoint: FakeEndpoint) -> None:
    """A new utilisation reported by the endpoint is committed and streamed as evt.limits."""
    live_stack.start()
    wait_until(lambda: window(live_stack, "claude", "five_hour"), 30, "first live window")
    where = endpoints(live_stack.home)
    with EventFollower(("evt.limits.claude",), after=live_stack.head(), where=where) as follower:
        changed = dict(CLAUDE_USAGE, five_hour={"utilization": 81.0, "resets_at": RESETS})
        fake_endpoint.answer(CLAUDE_PATH, Reply(200, changed))
        seen: list[float] = []

        def arrived() -> bool:
            for _, event in follower.poll(100):
                if isinstance(event, LimitsCommitted):
                    seen.extend(w.used_percent for w in event.windows if w.window == "five_hour")
            return 81.0 in seen

        wait_until(arrived, 30, "the changed window on the stream")


@pytest.mark.slow
def test_no_secret_leaves_the_credential_files(
    live_stack: Stack, fake_endpoint: FakeEndpoint
) -> None:
    """No canary token reaches an event, log, database, API answer or output, even if echoed."""
    # The fake server echoes the Authorization header back in its error answers.
    live_stack.start()
    wait_until(lambda: window(live_stack, "gemini", "gemini-2.5-pro"), 30, "live windows")

    def echo(path: str, status: int) -> None:
        received = fake_endpoint.requests_for(path)
        fake_endpoint.answer(path, Reply(status, {"error": received[-1].headers}))

    echo(CLAUDE_PATH, 401)
    echo(CODEX_PATH, 500)
    echo(LOAD_PATH, 403)
    wait_until(
        lambda: (
            limits(live_stack)["live"]["claude"]["httpStatus"] == 401
            and limits(live_stack)["live"]["codex"]["httpStatus"] == 500
        ),
        30,
        "the echoing errors to be polled and committed",
    )
    outputs = [
        httpx.get(f"{live_stack.api_url}{path}", timeout=10).text
        for path in ("/v1/limits", "/v1/status", "/healthz", "/v1/usage/daily")
    ]
    outputs.append(_stream_backlog(live_stack))
    for command in (
        ["limits", "--json"],
        ["status", "--json"],
        ["doctor", "--json"],
        ["doctor"],
        ["tail", "--from", "0"],
        ["tail", "--json", "--from", "0"],
    ):
        outputs.append(_run(live_stack, command))
    live_stack.stop_all()
    outputs.extend(p.read_text(errors="replace") for p in live_stack.logs.iterdir())
    stored = b"".join(p.read_bytes() for p in live_stack.home.glob("otm.db*"))
    canaries = (CLAUDE_TOKEN, CODEX_SIGNATURE, GEMINI_TOKEN, REFRESH_TOKEN, "acct-CANARY-9")
    found = [c for c in canaries if any(c in text for text in outputs) or c.encode() in stored]
    assert [] == found


def _stream_backlog(stack: Stack) -> str:
    """Every event ``/v1/stream`` replays from the start (it then idles, which ends the read)."""
    lines: list[str] = []
    try:
        with httpx.stream("GET", f"{stack.api_url}/v1/stream?after=0", timeout=2) as events:
            lines.extend(events.iter_lines())
    except httpx.ReadTimeout:
        pass
    assert any("evt.limits" in line for line in lines)
    return "\n".join(lines)


def _run(stack: Stack, args: list[str]) -> str:
    """A one-shot command's stdout and stderr (``tail`` is stopped after a moment)."""
    if args[0] != "tail":
        done = stack.otm(*args)
        return done.stdout + done.stderr
    proc = subprocess.Popen(
        [*stack.otm_argv(), *args],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(3)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    return out


def statusline_payload(used: float, spend: float | None = None) -> bytes:
    """What Claude Code pipes to its statusline command, with its rate limits (and, when
    ``spend`` is given, a ``spend_limit`` at that percentage)."""
    limits: dict[str, Any] = {
        "five_hour": {"used_percentage": used, "resets_at": int(time.time()) + 7200},
        "seven_day": {"used_percentage": 41, "resets_at": "2030-01-01T00:00:00Z"},
    }
    if spend is not None:
        limits["spend_limit"] = {"used_percentage": spend, "resets_at": "2030-01-01T00:00:00Z"}
    body = {"model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"}, "rate_limits": limits}
    return json.dumps(body).encode()


def test_statusline_limits_reach_the_running_stack(stack: Stack) -> None:
    """``otm statusline`` run by Claude Code lands in the store as a local-official window."""
    stack.start()
    done = subprocess.run(
        [*stack.otm_argv(), "statusline"],
        input=statusline_payload(23.5),
        env=stack.env,
        capture_output=True,
        timeout=30,
    )
    assert b"5h 23%" in done.stdout
    got = wait_until(lambda: window(stack, "claude", "five_hour"), 30, "the statusline window")
    assert (23.5, "local-official") == (got["usedPercent"], got["source"])


def test_statusline_limits_reach_a_one_shot_command(stack: Stack) -> None:
    """Without the stack, the next ``otm limits`` applies what the statusline recorded."""
    subprocess.run(
        [*stack.otm_argv(), "statusline"],
        input=statusline_payload(61.0),
        env=stack.env,
        capture_output=True,
        timeout=30,
        check=True,
    )
    report = json.loads(stack.otm("limits", "--json", "--provider", "claude").stdout)
    used = {w["window"]: w["usedPercent"] for w in report["limits"]}
    assert {"five_hour": 61.0, "seven_day": 41.0} == used


def test_spend_limit_over_100_reaches_the_limits_report_unclamped(stack: Stack) -> None:
    """A statusline spend_limit at 130 % is 130 % in `otm limits --json` and its table."""
    subprocess.run(
        [*stack.otm_argv(), "statusline"],
        input=statusline_payload(10.0, spend=130.0),
        env=stack.env,
        capture_output=True,
        timeout=30,
        check=True,
    )
    report = json.loads(stack.otm("limits", "--json", "--provider", "claude").stdout)
    used = {w["window"]: w["usedPercent"] for w in report["limits"]}
    table = stack.otm("limits", "--provider", "claude").stdout
    assert (130.0, True) == (used["spend_limit"], "130%" in table)


def test_spend_limit_over_100_reaches_the_running_api(stack: Stack) -> None:
    """With the stack up, GET /v1/limits serves the statusline's spend_limit at 130 %."""
    stack.start()
    subprocess.run(
        [*stack.otm_argv(), "statusline"],
        input=statusline_payload(10.0, spend=130.0),
        env=stack.env,
        capture_output=True,
        timeout=30,
        check=True,
    )
    got = wait_until(lambda: window(stack, "claude", "spend_limit"), 30, "the spend window")
    assert (130.0, None) == (got["usedPercent"], got["windowSeconds"])


@pytest.mark.slow
def test_otm_refresh_asks_through_the_running_stack(
    live_stack: Stack, fake_endpoint: FakeEndpoint
) -> None:
    """`otm refresh --provider codex` gets a fresh poll committed and says so."""
    live_stack.start()
    wait_until(lambda: fake_endpoint.requests_for(CODEX_PATH), 30, "the first codex request")
    time.sleep(1.2)  # past the 1 s floor
    before = len(fake_endpoint.requests_for(CODEX_PATH))
    done = live_stack.otm("refresh", "--provider", "codex", "--json")
    report = json.loads(done.stdout)
    assert ("codex: checked", True, True) == (
        done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "",
        len(fake_endpoint.requests_for(CODEX_PATH)) > before,
        any(w["window"] == "primary" for w in report["limits"]),
    )


def test_otm_refresh_says_when_the_collector_is_down(live_stack: Stack) -> None:
    """With the store up but no collector, `otm refresh` says so instead of waiting."""
    live_stack.start("bus", "store")
    wait_until(lambda: live_stack.db_path.exists(), 10, "the database")
    began = time.monotonic()
    done = live_stack.otm("refresh", "--provider", "claude")
    assert (True, True) == (
        "collector is not running" in done.stderr,
        time.monotonic() - began < 15,
    )
