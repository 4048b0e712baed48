"""Live limits in the reports: staleness reasons, the live status block, credits, and each
provider's overall state (available, partial, unavailable)."""

from __future__ import annotations

import sqlite3
from typing import Any

from bus.messages import AuthInfo, CreditBalance, LimitsObserved, LimitWindow, LiveStatus
from services.queries.providers import NOT_CHECKED_FIX, provider_states
from services.queries.reports.limits import (
    STALE_AFTER_SECONDS,
    credits,
    limits_report,
    live_statuses,
    stale_after,
    stale_reason,
    status_json,
)
from services.store.writer import Store

NOW = 1_778_900_000.0
DOWN = "HTTP 500 from api.anthropic.com: the provider's server failed"
RETRY = "nothing to do: it is retried later"


def window(provider: str = "claude", **fields: object) -> LimitWindow:
    """A live window observed a minute before NOW, resetting an hour after it."""
    values: dict[str, object] = {
        "provider": provider,
        "window": "five_hour",
        "used_percent": 37.0,
        "observed_at": NOW - 60,
        "source": "live",
        "resets_at": NOW + 3600,
        "window_seconds": 18_000,
    }
    values.update(fields)
    return LimitWindow(**values)  # type: ignore[arg-type]


def status(provider: str = "claude", **fields: object) -> LiveStatus:
    """A live status checked at NOW (``fields`` override any field)."""
    values: dict[str, object] = {"provider": provider, "state": "ok", "checked_at": NOW}
    values.update(fields)
    return LiveStatus(**values)  # type: ignore[arg-type]


def failed(provider: str = "claude", **fields: object) -> LiveStatus:
    """A failed live check at NOW: the server answered 500."""
    values: dict[str, object] = {"kind": "server", "reason": DOWN, "fix": RETRY, "http_status": 500}
    values.update(fields)
    return status(provider, state="failed", **values)


def credit(provider: str = "claude", **fields: object) -> CreditBalance:
    """Claude's extra usage: $12.50 of $50 used."""
    values: dict[str, object] = {
        "provider": provider,
        "name": "extra_usage",
        "used": "12.50",
        "limit": "50.00",
        "currency": "USD",
        "used_percent": 25.0,
    }
    values.update(fields)
    return CreditBalance(**values)  # type: ignore[arg-type]


def observe(
    db: sqlite3.Connection,
    provider: str = "claude",
    at: float = NOW - 60,
    windows: tuple[LimitWindow, ...] = (),
    credits: tuple[CreditBalance, ...] = (),
    live: LiveStatus | None = None,
) -> None:
    """Commit one live observation, as the collector's poller sends it."""
    observation = LimitsObserved(
        observation_id=f"live:{provider}:{at}",
        provider=provider,
        source="live",
        observed_at=at,
        windows=windows,
        credits=credits,
        status=live,
    )
    Store(db).apply([observation])


def roots(provider: str, *files: int) -> list[dict[str, Any]]:
    """``otm status`` root rows of ``provider`` holding these numbers of log files."""
    return [{"provider": provider, "path": f"/r{i}", "files": n} for i, n in enumerate(files)]


# -- stale_reason -----------------------------------------------------------------------------


def test_fresh_window_is_not_stale() -> None:
    """A recent window with no later failed check has no stale reason."""
    assert None is stale_reason(window(), NOW, None)


def test_window_after_a_successful_check_is_not_stale() -> None:
    """An ok live check never makes a window stale."""
    assert None is stale_reason(window(), NOW, status())


def test_failed_check_after_the_window_makes_it_stale() -> None:
    """A live check that failed after the window was observed says why it may be stale."""
    assert f"the last live check failed: {DOWN}" == stale_reason(window(), NOW, failed())


def test_failed_check_leaves_windows_from_the_logs_alone() -> None:
    """A failed live check says nothing about a local-official window (e.g. Codex's logs)."""
    local = window(source="local-official")
    assert None is stale_reason(local, NOW, failed())


def test_slower_polling_stretches_the_freshness_limit() -> None:
    """With a 30-minute cadence, a 20-minute-old window is not stale yet."""
    old = window(observed_at=NOW - 20 * 60, resets_at=NOW + 99_999)
    assert None is stale_reason(old, NOW, None, stale_after(1800))


def test_failed_check_without_a_reason_still_says_so() -> None:
    """A failed check with no reason text is reported as "check failed"."""
    assert "check failed" == stale_reason(window(), NOW, failed(reason=""))


def test_failed_check_before_the_window_does_not_make_it_stale() -> None:
    """A window observed after the failed check (e.g. from the logs) is current."""
    newer = window(observed_at=NOW + 10)
    assert None is stale_reason(newer, NOW + 20, failed())


def test_reset_passed_wins_over_a_failed_check() -> None:
    """A window whose reset has passed says so, whatever the live check did."""
    gone = window(resets_at=NOW - 1)
    assert "the window has reset since this was observed" == stale_reason(gone, NOW, failed())


def test_old_window_says_how_old() -> None:
    """A window older than STALE_AFTER_SECONDS says its age in minutes."""
    old = window(observed_at=NOW - 20 * 60, resets_at=NOW + 99_999)
    assert "observed 20 min ago" == stale_reason(old, NOW, None)


def test_window_just_inside_the_freshness_limit_is_not_stale() -> None:
    """A window exactly STALE_AFTER_SECONDS old is still current."""
    edge = window(observed_at=NOW - STALE_AFTER_SECONDS)
    assert None is stale_reason(edge, NOW, None)


# -- status_json ------------------------------------------------------------------------------


def test_status_json_carries_every_field() -> None:
    """status_json gives the outcome, its age, the HTTP details and the gate's schedule."""
    live = failed(
        checked_at=NOW - 30,
        retry_after=120.0,
        next_poll_at=NOW + 90,
        last_success_at=NOW - 900,
        consecutive_failures=2,
    )
    expected = {
        "state": "failed",
        "kind": "server",
        "reason": DOWN,
        "fix": RETRY,
        "checkedAt": NOW - 30,
        "ageSeconds": 30,
        "httpStatus": 500,
        "retryAfter": 120.0,
        "nextPollAt": NOW + 90,
        "lastSuccessAt": NOW - 900,
        "consecutiveFailures": 2,
        "auth": None,
    }
    assert expected == status_json(live, NOW)


def test_status_json_describes_the_auth() -> None:
    """The auth block names the source, kind, plan, scopes and expiry, never a token."""
    auth = AuthInfo(
        source="/home/u/.claude/.credentials.json",
        kind="oauth",
        expires_at=NOW + 600,
        plan="max",
        scopes=("user:inference", "user:profile"),
    )
    expected = {
        "source": "/home/u/.claude/.credentials.json",
        "kind": "oauth",
        "expiresAt": NOW + 600,
        "expired": False,
        "plan": "max",
        "scopes": ["user:inference", "user:profile"],
    }
    assert expected == status_json(status(auth=auth), NOW)["auth"]


def test_status_json_flags_expired_auth() -> None:
    """An auth whose expiry has passed is marked expired."""
    auth = AuthInfo(source="/x/auth.json", kind="oauth", expires_at=NOW - 1)
    assert True is status_json(status(auth=auth), NOW)["auth"]["expired"]


def test_status_json_age_is_never_negative() -> None:
    """A check stamped a little in the future (clock skew) has age 0, not negative."""
    assert 0 == status_json(status(checked_at=NOW + 5), NOW)["ageSeconds"]


# -- the report: live block, credits, staleness -----------------------------------------------


def test_report_has_the_live_block(db: sqlite3.Connection) -> None:
    """limits_report gives each provider's last live status under "live"."""
    observe(db, "claude", live=status(checked_at=NOW - 60))
    observe(db, "codex", live=failed("codex", checked_at=NOW - 60))
    live = limits_report(db, now=NOW)["live"]
    assert {"claude": "ok", "codex": "failed"} == {p: s["state"] for p, s in live.items()}


def test_live_block_follows_the_provider_filter(db: sqlite3.Connection) -> None:
    """provider=codex shows only codex's live status."""
    observe(db, "claude", live=status(checked_at=NOW - 60))
    observe(db, "codex", live=failed("codex", checked_at=NOW - 60))
    assert ["codex"] == list(limits_report(db, "codex", now=NOW)["live"])


def test_report_window_is_stale_after_a_failed_poll(db: sqlite3.Connection) -> None:
    """A window kept from an earlier poll is stale once a later poll failed, with its reason."""
    observe(db, windows=(window(),), live=status(checked_at=NOW - 60))
    observe(db, at=NOW - 5, live=failed(checked_at=NOW - 5))
    (w,) = limits_report(db, now=NOW)["limits"]
    assert (37.0, True, f"the last live check failed: {DOWN}") == (
        w["usedPercent"],
        w["stale"],
        w["staleReason"],
    )


def test_failed_poll_without_windows_keeps_the_earlier_ones(db: sqlite3.Connection) -> None:
    """A failed poll (no windows) leaves the last good window in the report."""
    observe(db, windows=(window(),), live=status(checked_at=NOW - 60))
    observe(db, at=NOW - 5, live=failed(checked_at=NOW - 5))
    assert [("claude", "five_hour")] == [
        (w["provider"], w["window"]) for w in limits_report(db, now=NOW)["limits"]
    ]


def test_report_has_the_credits(db: sqlite3.Connection) -> None:
    """Credits come out with their amounts as the decimal strings the provider sent."""
    observe(db, credits=(credit(),), live=status())
    expected = {
        "provider": "claude",
        "name": "extra_usage",
        "balance": None,
        "used": "12.50",
        "limit": "50.00",
        "currency": "USD",
        "usedPercent": 25.0,
        "unlimited": False,
        "enabled": True,
    }
    assert [expected] == limits_report(db, now=NOW)["credits"]


def test_credits_follow_the_provider_filter(db: sqlite3.Connection) -> None:
    """provider=codex lists only codex's credits."""
    observe(db, "claude", credits=(credit(),))
    observe(db, "codex", credits=(credit("codex", name="credits", balance="150.0"),))
    assert [("codex", "150.0")] == [
        (c["provider"], c["balance"]) for c in limits_report(db, "codex", now=NOW)["credits"]
    ]


def test_newer_credit_replaces_the_older(db: sqlite3.Connection) -> None:
    """The latest observation of a credit wins."""
    observe(db, at=NOW - 60, credits=(credit(used="12.50"),))
    observe(db, at=NOW - 10, credits=(credit(used="20.00"),))
    assert ["20.00"] == [c.used for c in credits(db)]


def test_older_credit_read_late_does_not_win(db: sqlite3.Connection) -> None:
    """A credit observed earlier but committed later leaves the newer one."""
    observe(db, at=NOW - 10, credits=(credit(used="20.00"),))
    observe(db, at=NOW - 60, credits=(credit(used="12.50"),))
    assert ["20.00"] == [c.used for c in credits(db)]


def test_older_status_read_late_does_not_win(db: sqlite3.Connection) -> None:
    """A live status checked earlier but committed later leaves the newer one."""
    observe(db, at=NOW - 10, live=status(checked_at=NOW - 10))
    observe(db, at=NOW - 60, live=failed(checked_at=NOW - 60))
    assert "ok" == live_statuses(db)["claude"].state


def test_database_without_live_tables_reads_empty() -> None:
    """A database from before the live tables gives no statuses and no credits, not an error."""
    conn = sqlite3.connect(":memory:")
    try:
        assert ({}, []) == (live_statuses(conn), credits(conn))
    finally:
        conn.close()


# -- provider_states --------------------------------------------------------------------------


def test_every_provider_has_a_state() -> None:
    """provider_states always describes claude, codex and gemini."""
    assert ["claude", "codex", "gemini"] == sorted(provider_states([], {}, [], NOW))


def test_recent_ok_check_is_available() -> None:
    """A live check that succeeded recently makes the provider available."""
    states = provider_states([], {"claude": status(checked_at=NOW - 60)}, [], NOW)
    assert ("available", "", "") == (
        states["claude"]["state"],
        states["claude"]["reason"],
        states["claude"]["fix"],
    )


def test_old_ok_check_with_logs_is_partial() -> None:
    """An ok check older than STALE_AFTER_SECONDS no longer makes it available."""
    old = status(checked_at=NOW - STALE_AFTER_SECONDS - 1)
    state = provider_states(roots("claude", 3), {"claude": old}, [], NOW)["claude"]
    expected = (
        "partial",
        "usage counted from 3 log files; live limits last checked a while ago",
        NOT_CHECKED_FIX,
    )
    assert expected == (state["state"], state["reason"], state["fix"])


def test_logs_without_a_check_are_partial() -> None:
    """Log files but no live check yet is partial, saying the limits were not checked."""
    state = provider_states(roots("codex", 2, 3), {}, [], NOW)["codex"]
    expected = ("partial", "usage counted from 5 log files; live limits not checked yet")
    assert expected == (state["state"], state["reason"])


def test_logs_with_a_failed_check_are_partial_with_its_fix() -> None:
    """Log files and a failed live check is partial, with the check's reason and fix."""
    state = provider_states(roots("claude", 4), {"claude": failed()}, [], NOW)["claude"]
    expected = ("partial", f"usage counted from 4 log files; {DOWN}", RETRY)
    assert expected == (state["state"], state["reason"], state["fix"])


def test_official_windows_from_logs_are_partial() -> None:
    """No log files but official windows from the logs is partial."""
    official = window("codex", window="primary", source="local-official")
    state = provider_states([], {"codex": failed("codex")}, [official], NOW)["codex"]
    assert ("partial", f"last known limits kept; {DOWN}") == (state["state"], state["reason"])


def test_last_good_live_windows_make_a_failed_provider_partial() -> None:
    """Live numbers kept from before the failure still show something: partial, not gone."""
    state = provider_states([], {"claude": failed()}, [window()], NOW)["claude"]
    assert "partial" == state["state"]


def test_no_logs_and_a_failed_check_is_unavailable() -> None:
    """Neither logs nor a working live check is unavailable, with the check's reason and fix."""
    state = provider_states([], {"gemini": failed("gemini")}, [], NOW)["gemini"]
    expected = ("unavailable", f"no gemini logs found; {DOWN}", RETRY)
    assert expected == (state["state"], state["reason"], state["fix"])


def test_nothing_at_all_is_unavailable_with_the_not_checked_fix() -> None:
    """No logs and no check is unavailable, pointing at `otm up` / `otm refresh`."""
    state = provider_states([], {}, [], NOW)["claude"]
    expected = ("unavailable", "no claude logs found; live limits not checked yet", NOT_CHECKED_FIX)
    assert expected == (state["state"], state["reason"], state["fix"])


def test_state_lists_log_files_and_the_live_status() -> None:
    """Each provider's entry gives its log file count and its live status as status_json."""
    live = failed(checked_at=NOW - 30)
    state = provider_states(roots("claude", 2), {"claude": live}, [], NOW)["claude"]
    assert (2, status_json(live, NOW)) == (state["logFiles"], state["live"])


def test_other_providers_roots_do_not_count() -> None:
    """Log files under another provider's roots do not make this one partial."""
    state = provider_states(roots("codex", 9), {}, [], NOW)["claude"]
    assert ("unavailable", 0) == (state["state"], state["logFiles"])
