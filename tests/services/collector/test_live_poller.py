"""LivePoller: one poll per provider at a time, the gate, observations, quiet failures, re-sends,
the spool and restoring the gate from the store."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bus.messages import LimitsObserved, LimitWindow, LiveStatus
from services.collector.claude.live import claude_live_source
from services.collector.live.poller import (
    MAX_SENDS,
    QUIET_STATUS_SECONDS,
    RESEND_SECONDS,
    LivePoller,
)
from services.collector.live.source import Inspection, LiveFailure, LiveResult, LiveSource
from services.runtime.config import ClaudeConfig, Config, LimitsConfig
from services.runtime.spool import write_observation
from services.store.writer import Store
from tests.fake_endpoint import FakeEndpoint, Reply

NOW = 1_778_900_000.0
"""2026-05-16 02:53:20 UTC."""
FLOOR = 60.0
CANARY = "sk-ant-oat01-CANARY-POLLER-77e1"
WINDOW = LimitWindow(
    provider="claude",
    window="five_hour",
    used_percent=37.0,
    observed_at=NOW,
    source="live",
    resets_at=NOW + 3600,
    window_seconds=5 * 3600,
)
MakePoller = Callable[..., LivePoller]
"""Builds a poller over the given sources (``config=`` for other limits)."""
NO_SIGN_IN = LiveFailure("unconfigured", "no sign-in found", "sign in")
SERVER_DOWN = LiveFailure(
    "server", "HTTP 500 from api.example: the provider's server failed", "nothing to do", 500
)


class ScriptedSource:
    """A live source answering from a script (the last entry repeats); it can be held back."""

    def __init__(
        self, *script: LiveResult | Exception, provider: str = "claude", hold: bool = False
    ) -> None:
        self.provider = provider
        self.script = list(script) or [LiveResult(windows=(WINDOW,))]
        self.calls = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def inspect(self, now: float) -> Inspection:
        """Nothing to read: always looks usable."""
        return Inspection(auth=None)

    def poll(self, client: httpx.Client, now: float) -> LiveResult:
        """The next scripted answer, once released."""
        self.release.wait(5)
        item = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(item, Exception):
            raise item
        return item


def limits(**changes: object) -> LimitsConfig:
    """A 60 s floor (``changes`` override any setting)."""
    values: dict[str, object] = {"min_interval_seconds": FLOOR, **changes}
    return LimitsConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_poller(tmp_path: Path) -> Iterator[MakePoller]:
    """Build pollers over given sources; their HTTP clients are closed afterwards."""
    made: list[LivePoller] = []

    def make(*sources: LiveSource, config: LimitsConfig | None = None) -> LivePoller:
        poller = LivePoller({s.provider: s for s in sources}, config or limits(), tmp_path)
        made.append(poller)
        return poller

    yield make
    for poller in made:
        collect(poller, NOW)
        poller.close()


def collect(poller: LivePoller, now: float) -> list[LimitsObserved]:
    """Every observation of the polls in flight, once they have all finished."""
    out: list[LimitsObserved] = []
    deadline = time.monotonic() + 5
    while True:
        out.extend(poller.completed(now))
        if not poller.busy:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"polls still running: {poller.running}")
        time.sleep(0.005)


def poll_once(poller: LivePoller, now: float, manual: bool = False) -> list[LimitsObserved]:
    """Ask for a poll of claude at ``now`` and collect what it gave."""
    poller.request("claude", manual, now)
    return collect(poller, now)


def observed(provider: str = "claude", **status: object) -> LimitsObserved:
    """An observation with a live status checked at ``NOW`` (``status`` overrides fields)."""
    values: dict[str, object] = {"provider": provider, "state": "ok", "checked_at": NOW, **status}
    return LimitsObserved(
        observation_id=f"live:{provider}:test",
        provider=provider,
        source="live",
        observed_at=NOW,
        windows=(WINDOW,) if provider == "claude" else (),
        status=LiveStatus(**values),  # type: ignore[arg-type]
    )


# -- one poll at a time -----------------------------------------------------------------------


def test_burst_of_requests_starts_one_poll(make_poller: MakePoller) -> None:
    """Twenty requests while a poll runs start exactly one poll."""
    source = ScriptedSource(hold=True)
    poller = make_poller(source)
    for _ in range(20):
        poller.request("claude", True, NOW)
    source.release.set()
    collect(poller, NOW)
    assert 1 == source.calls


def test_first_request_reports_the_provider_started(make_poller: MakePoller) -> None:
    """request() returns the providers it started."""
    poller = make_poller(ScriptedSource())
    assert ["claude"] == poller.request("claude", False, NOW)


def test_request_for_all_starts_every_provider(make_poller: MakePoller) -> None:
    """request(None) starts a poll of every provider the gate allows."""
    poller = make_poller(ScriptedSource(), ScriptedSource(LiveResult(), provider="codex"))
    assert ["claude", "codex"] == sorted(poller.request(None, False, NOW))


def test_unknown_provider_starts_nothing(make_poller: MakePoller) -> None:
    """A request for a provider without a source is ignored."""
    poller = make_poller(ScriptedSource())
    assert [] == poller.request("mistral", True, NOW)


def test_gate_blocks_a_second_poll_within_the_floor(make_poller: MakePoller) -> None:
    """A manual request less than min_interval after a poll is refused."""
    source = ScriptedSource()
    poller = make_poller(source)
    poll_once(poller, NOW)
    started = poller.request("claude", True, NOW + FLOOR - 1)
    assert ([], 1, 1) == (started, source.calls, poller.counters["polls_refused_by_gate"])


def test_poll_allowed_again_after_the_floor(make_poller: MakePoller) -> None:
    """A request min_interval after a successful poll starts a new one."""
    poller = make_poller(ScriptedSource())
    poll_once(poller, NOW)
    assert ["claude"] == poller.request("claude", False, NOW + FLOOR)


def test_disabled_limits_start_nothing(make_poller: MakePoller) -> None:
    """With [limits] enabled = false, request() starts no poll."""
    source = ScriptedSource()
    poller = make_poller(source, config=limits(enabled=False))
    assert ([], 0) == (poller.request(None, True, NOW), source.calls)


# -- observations -----------------------------------------------------------------------------


def test_success_gives_ok_status_with_windows(make_poller: MakePoller) -> None:
    """A successful poll becomes a live observation with its windows and status ok."""
    poller = make_poller(ScriptedSource())
    (observation,) = poll_once(poller, NOW)
    assert ("claude", "live", NOW, (WINDOW,), "ok") == (
        observation.provider,
        observation.source,
        observation.observed_at,
        observation.windows,
        observation.status.state if observation.status else None,
    )


def test_success_status_carries_the_gate(make_poller: MakePoller) -> None:
    """An ok status says when the next poll may go and when the last success was."""
    poller = make_poller(ScriptedSource())
    (observation,) = poll_once(poller, NOW)
    status = observation.status
    assert status is not None
    assert (NOW + FLOOR, NOW, 0) == (
        status.next_poll_at,
        status.last_success_at,
        status.consecutive_failures,
    )


def test_failure_gives_failed_status_without_windows(make_poller: MakePoller) -> None:
    """A failed poll is published with its kind, reason, fix and HTTP status, and no windows."""
    poller = make_poller(ScriptedSource(LiveResult(failure=SERVER_DOWN)))
    (observation,) = poll_once(poller, NOW)
    status = observation.status
    assert status is not None
    expected = ((), "failed", "server", SERVER_DOWN.reason, SERVER_DOWN.fix, 500, 1)
    assert expected == (
        observation.windows,
        status.state,
        status.kind,
        status.reason,
        status.fix,
        status.http_status,
        status.consecutive_failures,
    )


@pytest.mark.parametrize(
    ("kind", "state"), [("unconfigured", "unconfigured"), ("unsupported", "unsupported")]
)
def test_failure_kinds_with_their_own_state(kind: str, state: str, make_poller: MakePoller) -> None:
    """ "unconfigured" and "unsupported" failures get states of their own, not "failed"."""
    failure = LiveFailure(kind, "why", "fix")
    poller = make_poller(ScriptedSource(LiveResult(failure=failure)))
    (observation,) = poll_once(poller, NOW)
    assert state == (observation.status.state if observation.status else None)


def test_exception_in_a_source_becomes_an_unexpected_failure(
    make_poller: MakePoller,
) -> None:
    """A source that raises gives status failed, kind "unexpected", and the poller survives."""
    poller = make_poller(ScriptedSource(RuntimeError("boom")))
    (observation,) = poll_once(poller, NOW)
    status = observation.status
    assert ("failed", "unexpected", True) == (
        status.state if status else None,
        status.kind if status else None,
        "RuntimeError" in (status.reason if status else ""),
    )


def test_exception_message_is_not_published(make_poller: MakePoller) -> None:
    """An exception's text (which might quote a token) never reaches the observation."""
    poller = make_poller(ScriptedSource(ValueError(f"bad token {CANARY}")))
    (observation,) = poll_once(poller, NOW)
    assert False is (CANARY in repr(observation))


def test_same_standing_condition_on_schedule_is_published_once(make_poller: MakePoller) -> None:
    """No sign-in here, seen again on schedule, gives no new observation."""
    poller = make_poller(ScriptedSource(LiveResult(failure=NO_SIGN_IN)))
    first = poll_once(poller, NOW)
    second = poll_once(poller, poller.gates["claude"].next_allowed)
    assert (1, 0) == (len(first), len(second))


def test_same_real_failure_on_schedule_is_published_again(make_poller: MakePoller) -> None:
    """A server failure is logged every time: its back-off must survive a restart."""
    poller = make_poller(ScriptedSource(LiveResult(failure=SERVER_DOWN)))
    first = poll_once(poller, NOW)
    second = poll_once(poller, poller.gates["claude"].next_allowed)
    assert (1, 1) == (len(first), len(second))


def test_same_manual_failure_is_always_published(make_poller: MakePoller) -> None:
    """A manual poll publishes its outcome even when it is the same failure again."""
    poller = make_poller(ScriptedSource(LiveResult(failure=SERVER_DOWN)))
    poll_once(poller, NOW)
    again = poll_once(poller, poller.gates["claude"].next_allowed, manual=True)
    assert 1 == len(again)


def test_changed_scheduled_failure_is_published(make_poller: MakePoller) -> None:
    """A scheduled failure with a different reason than the last one is published."""
    timeout = LiveFailure("timeout", "no answer within 10 s", "nothing to do")
    source = ScriptedSource(LiveResult(failure=SERVER_DOWN), LiveResult(failure=timeout))
    poller = make_poller(source)
    poll_once(poller, NOW)
    again = poll_once(poller, poller.gates["claude"].next_allowed)
    assert ["timeout"] == [o.status.kind for o in again if o.status]


def test_unchanged_failure_is_republished_after_an_hour(make_poller: MakePoller) -> None:
    """The same scheduled failure is published again once QUIET_STATUS_SECONDS have passed."""
    poller = make_poller(ScriptedSource(LiveResult(failure=SERVER_DOWN)))
    poll_once(poller, NOW)
    again = poll_once(poller, NOW + QUIET_STATUS_SECONDS)
    assert 1 == len(again)


def test_success_after_failure_is_published(make_poller: MakePoller) -> None:
    """Recovery is always published, scheduled or not."""
    source = ScriptedSource(LiveResult(failure=SERVER_DOWN), LiveResult(windows=(WINDOW,)))
    poller = make_poller(source)
    poll_once(poller, NOW)
    again = poll_once(poller, poller.gates["claude"].next_allowed)
    assert ["ok"] == [o.status.state for o in again if o.status]


# -- re-sending until committed ---------------------------------------------------------------


def test_not_resent_before_resend_seconds(make_poller: MakePoller) -> None:
    """An observation is not re-sent while its commit may still be on its way."""
    poller = make_poller(ScriptedSource())
    poll_once(poller, NOW)
    assert [] == poller.resends(NOW + RESEND_SECONDS - 0.01)


def test_resent_after_resend_seconds(make_poller: MakePoller) -> None:
    """An uncommitted observation is re-sent RESEND_SECONDS after it was sent."""
    poller = make_poller(ScriptedSource())
    (observation,) = poll_once(poller, NOW)
    assert [observation] == poller.resends(NOW + RESEND_SECONDS)


def test_resending_gives_up_after_max_sends(make_poller: MakePoller) -> None:
    """An observation never committed is sent MAX_SENDS times in all, then dropped."""
    poller = make_poller(ScriptedSource())
    poll_once(poller, NOW)
    resent = 0
    for step in range(1, 200):
        resent += len(poller.resends(NOW + step * RESEND_SECONDS))
    assert (MAX_SENDS, {}, 1) == (
        1 + resent,
        poller.pending,
        poller.counters["limits_given_up"],
    )


def test_committed_stops_resends(make_poller: MakePoller) -> None:
    """Once the store has committed an observation it is not sent again."""
    poller = make_poller(ScriptedSource())
    (observation,) = poll_once(poller, NOW)
    poller.committed(observation.observation_id)
    assert [] == poller.resends(NOW + 100 * RESEND_SECONDS)


def test_resend_all_returns_everything_in_flight(make_poller: MakePoller) -> None:
    """resend_all() gives every uncommitted observation at once (for a new store)."""
    poller = make_poller(ScriptedSource())
    (observation,) = poll_once(poller, NOW)
    assert [observation] == poller.resend_all()


# -- the spool --------------------------------------------------------------------------------


def test_spooled_returns_a_spooled_observation(tmp_path: Path, make_poller: MakePoller) -> None:
    """An observation a short-lived command left in the spool is returned for publishing."""
    spooled = observed()
    write_observation(tmp_path, "statusline", spooled)
    poller = make_poller(ScriptedSource())
    assert [spooled] == poller.spooled(NOW)


def test_spooled_returns_it_once_only(tmp_path: Path, make_poller: MakePoller) -> None:
    """The same spooled observation is not returned a second time."""
    write_observation(tmp_path, "statusline", observed())
    poller = make_poller(ScriptedSource())
    poller.spooled(NOW)
    assert [] == poller.spooled(NOW + 1)


def test_spooled_observation_is_resent_until_committed(
    tmp_path: Path, make_poller: MakePoller
) -> None:
    """A spooled observation joins the re-send queue like a polled one."""
    spooled = observed()
    write_observation(tmp_path, "statusline", spooled)
    poller = make_poller(ScriptedSource())
    poller.spooled(NOW)
    assert [spooled] == poller.resends(NOW + RESEND_SECONDS)


# -- restoring the gate from the store --------------------------------------------------------


def stored(db: sqlite3.Connection, observation: LimitsObserved) -> sqlite3.Connection:
    """Commit ``observation`` into the test database as the store would."""
    Store(db).apply([observation])
    return db


def test_restore_blocks_polls_until_next_poll_at(
    db: sqlite3.Connection, make_poller: MakePoller
) -> None:
    """After restore(), a manual request before the committed next_poll_at is refused."""
    poller = make_poller(ScriptedSource())
    poller.restore(stored(db, observed(state="failed", kind="server", next_poll_at=NOW + 600)))
    assert [] == poller.request("claude", True, NOW + 599)


def test_restore_allows_polls_at_next_poll_at(
    db: sqlite3.Connection, make_poller: MakePoller
) -> None:
    """After restore(), a request at the committed next_poll_at starts a poll."""
    poller = make_poller(ScriptedSource())
    poller.restore(stored(db, observed(state="failed", kind="server", next_poll_at=NOW + 600)))
    assert ["claude"] == poller.request("claude", False, NOW + 600)


def test_restore_continues_the_failure_count(
    db: sqlite3.Connection, make_poller: MakePoller
) -> None:
    """The next failure after a restart counts on from the committed consecutive failures."""
    poller = make_poller(ScriptedSource(LiveResult(failure=SERVER_DOWN)))
    poller.restore(stored(db, observed(state="failed", kind="timeout", consecutive_failures=3)))
    (observation,) = poll_once(poller, NOW + 3600, manual=True)
    assert 4 == (observation.status.consecutive_failures if observation.status else None)


def test_restore_keeps_a_committed_failure_quiet(
    db: sqlite3.Connection, make_poller: MakePoller
) -> None:
    """The committed standing condition, seen again on schedule after a restart, is not re-sent."""
    poller = make_poller(ScriptedSource(LiveResult(failure=NO_SIGN_IN)))
    failed = observed(state="unconfigured", kind="unconfigured", reason=NO_SIGN_IN.reason)
    poller.restore(stored(db, failed))
    assert [] == poll_once(poller, NOW + FLOOR)


def test_restore_without_a_database_changes_nothing(make_poller: MakePoller) -> None:
    """restore(None) (no database yet) leaves every gate open."""
    poller = make_poller(ScriptedSource())
    poller.restore(None)
    assert ["claude"] == poller.request("claude", False, NOW)


# -- a real source against a real server ------------------------------------------------------


def test_real_claude_source_through_the_poller(
    tmp_path: Path, fake_endpoint: FakeEndpoint, make_poller: MakePoller
) -> None:
    """The poller polls the Claude source against a live server and publishes its windows."""
    claude_dir = tmp_path / "claude"
    claude_dir.mkdir()
    oauth = {
        "accessToken": CANARY,
        "expiresAt": int((NOW + 3600) * 1000),
        "scopes": ["user:inference", "user:profile"],
    }
    (claude_dir / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))
    answer = {"five_hour": {"utilization": 37.0, "resets_at": "2026-05-16T05:00:00+00:00"}}
    fake_endpoint.answer("/api/oauth/usage", Reply(200, answer))
    config = Config(
        claude=ClaudeConfig(usage_url=f"{fake_endpoint.url}/api/oauth/usage"),
        limits=limits(timeout_seconds=0.5),
    )
    source = claude_live_source(
        config, env={"CLAUDE_CONFIG_DIR": str(claude_dir)}, home=tmp_path, platform="linux"
    )
    poller = make_poller(source, config=config.limits)
    (observation,) = poll_once(poller, NOW, manual=True)
    assert ([("five_hour", 37.0)], "ok", False) == (
        [(w.window, w.used_percent) for w in observation.windows],
        observation.status.state if observation.status else None,
        CANARY in repr(observation),
    )
