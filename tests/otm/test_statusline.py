"""``otm statusline``: input parsing, recording to the spool, today's cost and the line."""

from __future__ import annotations

import io
import json
import os
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from bus.endpoints import state_dir
from bus.messages import LimitsObserved, LimitWindow, LiveStatus, ModelPrice
from otm import statusline
from otm.statusline import TodayCost, Window
from services.queries import msgpack_lite
from services.queries.costs import price_table
from services.queries.reports import limits as limits_report
from services.queries.reports import periods
from services.queries.reports.timezones import local_timezone_name
from services.runtime.spool import read_observations
from services.store.database import connect_reader, connect_writer
from services.store.schema import SLOT_MS
from services.store.writer import Store
from tests.helpers import SONNET_4_5
from tests.services.queries.reports_support import (
    GEMINI_2_5_PRO,
    GPT_5_4,
    PRICES,
    claude,
    codex,
    seed,
)

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC).timestamp()
"""A fixed clock: noon UTC, so "today" is 2026-05-20 in UTC and in every nearby zone."""
FIVE_HOUR_RESET = NOW + 2 * 3600 + 13 * 60 + 30
WEEK_RESET = NOW + 3 * 86400 + 4 * 3600 + 30
OPUS = {"id": "claude-opus-4-1", "display_name": "Opus 4.1"}


def status_input(**fields: Any) -> dict[str, Any]:
    """A Claude Code status JSON with both windows (``fields`` replace or add keys)."""
    data: dict[str, Any] = {
        "session_id": "6f1c2d3e",
        "transcript_path": "/nowhere/6f1c2d3e.jsonl",
        "cwd": "/home/u/proj",
        "model": OPUS,
        "workspace": {"current_dir": "/home/u/proj"},
        "version": "2.1.30",
        "cost": {"total_cost_usd": 0.42, "total_duration_ms": 1000},
        "rate_limits": {
            "five_hour": {"used_percentage": 23.5, "resets_at": FIVE_HOUR_RESET},
            "seven_day": {"used_percentage": 41, "resets_at": WEEK_RESET},
        },
    }
    data.update(fields)
    return data


def line_for(data: object | bytes, now: float = NOW) -> str:
    """What ``otm statusline`` prints for ``data`` (JSON-encoded unless already bytes)."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    out = io.BytesIO()
    assert 0 == statusline.run(io.BytesIO(raw), out, now)
    text = out.getvalue().decode()
    assert text.endswith("\n") and text.count("\n") == 1
    return text[:-1]


def spool_file(state: Path) -> Path:
    """Where the statusline drops its observation."""
    return state / "spool" / "claude-statusline.json"


@pytest.fixture
def env(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir with Claude data configured (so the database is ``otm.db``) and an empty
    home; returns the state dir."""
    claude_dir = tmp_path / "claude"
    (claude_dir / "projects").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_dir))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return state


def today_db(state: Path) -> sqlite3.Connection:
    """The state dir's database with Sonnet usage on 2026-05-19 and 20 (UTC) and Codex usage.

    In UTC the 20th costs $0.60 (200k input, not over the long-context threshold) + $15 (1M
    output); in Tokyo it also holds the 19th's 23:59 record ($30) but not the 20th's ($15).
    """
    conn = connect_writer(str(state / "otm.db"))
    return seed(
        conn,
        claude("today", "2026-05-20T09:00:00+00:00", input=200_000),
        claude("today-2", "2026-05-20T23:59:00+00:00", input=0, output=1_000_000),
        claude("yesterday", "2026-05-19T23:59:00+00:00", input=0, output=2_000_000),
        codex("codex-today", "2026-05-20T10:00:00+00:00"),
    )


def cost_of(state: Path, now: float, tz: str) -> TodayCost:
    """``today_cost`` on the state dir's database, read-only."""
    conn = connect_reader(str(state / "otm.db"))
    try:
        return statusline.today_cost(conn, now, tz)
    finally:
        conn.close()


# -- parsing ----------------------------------------------------------------------------------


def test_resets_at_epoch_seconds() -> None:
    """An integer resets_at is epoch seconds."""
    assert 1738425600.0 == statusline.parse_resets_at(1738425600)


def test_resets_at_epoch_milliseconds() -> None:
    """A resets_at above 1e11 is epoch milliseconds."""
    assert 1738425600.5 == statusline.parse_resets_at(1738425600500)


def test_resets_at_iso_with_z() -> None:
    """An ISO string with Z is UTC."""
    expected = datetime(2026, 11, 27, 10, tzinfo=UTC).timestamp()
    assert expected == statusline.parse_resets_at("2026-11-27T10:00:00Z")


def test_resets_at_iso_with_offset_and_fraction() -> None:
    """An ISO string's offset and fractional seconds are kept."""
    expected = datetime(2026, 5, 16, 14, 0, 0, 123456, tzinfo=UTC).timestamp()
    assert expected == statusline.parse_resets_at("2026-05-16T16:00:00.123456+02:00")


def test_resets_at_iso_without_offset_is_utc() -> None:
    """An ISO string naming no offset is taken as UTC."""
    expected = datetime(2026, 11, 27, 10, tzinfo=UTC).timestamp()
    assert expected == statusline.parse_resets_at("2026-11-27T10:00:00")


def test_resets_at_numeric_string() -> None:
    """A number sent as a string is read as the number."""
    assert 1738425600.0 == statusline.parse_resets_at(" 1738425600 ")


GARBAGE_RESETS: list[object] = [None, True, "soon", "", [], {}, -5, 0, float("nan")]
GARBAGE_RESETS += [float("inf"), "nan", "1e400", "0001-01-01T00:00:00+14:00", "2026-13-01T0Z"]


@pytest.mark.parametrize("value", GARBAGE_RESETS)
def test_resets_at_garbage_is_none(value: object) -> None:
    """Anything that is not a positive time gives no reset time."""
    assert statusline.parse_resets_at(value) is None


@pytest.mark.parametrize("value", [None, True, "23", -1, float("nan"), [23]])
def test_used_percentage_garbage_is_none(value: object) -> None:
    """A used_percentage must be a finite, non-negative number."""
    assert statusline.parse_used(value) is None


def test_windows_without_used_percentage_are_skipped() -> None:
    """A window with no numeric used_percentage is not a window."""
    limits = {"five_hour": {"resets_at": 1}, "seven_day": {"used_percentage": 41}}
    found = statusline.input_windows({"rate_limits": limits}, NOW)
    assert {"seven_day": Window("seven_day", 41.0, None, NOW)} == found


SPEND_RESET = NOW + 12 * 86400 + 3 * 3600 + 30


def with_spend(used: float = 130.0) -> dict[str, Any]:
    """The status input with a ``spend_limit`` window at ``used`` % beside the other two."""
    data = status_input()
    data["rate_limits"]["spend_limit"] = {"used_percentage": used, "resets_at": SPEND_RESET}
    return data


def test_spend_limit_over_100_is_read_as_sent() -> None:
    """rate_limits.spend_limit at 130 % is a window at 130 %, not clamped to 100."""
    found = statusline.input_windows(with_spend(130.0), NOW)
    assert Window("spend_limit", 130.0, SPEND_RESET, NOW) == found["spend_limit"]


@pytest.mark.parametrize("limits", [None, [], "x", 3, {"five_hour": []}, {"other": {}}])
def test_garbage_rate_limits_give_no_windows(limits: object) -> None:
    """rate_limits of the wrong shape, or naming unknown windows, give none."""
    assert {} == statusline.input_windows({"rate_limits": limits}, NOW)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "otm: no status input"),
        (b"  \n", "otm: no status input"),
        (b"{not json", "otm: no status input (not JSON)"),
        (b"[1, 2]", "otm: no status input (not a JSON object)"),
        (b"\xff\xfe\x00", "otm: no status input (not JSON)"),
        (b"[" * 100_000, "otm: no status input (not JSON)"),
        (b" " * (1024 * 1024 + 1), "otm: no status input (over 1 MB)"),
    ],
)
def test_unusable_input_says_why(raw: bytes, reason: str) -> None:
    """Empty, garbage, non-object and oversized input each get a plain reason."""
    assert ({}, reason) == statusline.read_input(io.BytesIO(raw))


# -- the line ---------------------------------------------------------------------------------


def test_full_line() -> None:
    """Model, today, session and both windows, in the documented format."""
    windows = statusline.input_windows(status_input(), NOW)
    today = TodayCost(12_340_000_000_000, unpriced=False)
    expected = "Opus 4.1 · today $12.34 · session $0.42 · 5h 23% (2h13m) · week 41% (3d4h)"
    assert expected == statusline.format_line(status_input(), today, windows, NOW)


def test_spend_limit_is_on_the_line_at_its_real_percentage() -> None:
    """A spend cap past 100 % shows its real percentage after the weekly window."""
    assert line_for(with_spend(130.0)).endswith(" · week 41% (3d4h) · spend 130% (12d3h)")


def test_unpriced_part_is_marked() -> None:
    """Part of today without a price shows the priced part with +?, never a silent $0."""
    assert "$0.00+?" == TodayCost(0, unpriced=True).text()


def test_window_past_its_reset_shows_a_dash() -> None:
    """A window whose reset has passed shows no percentage."""
    data = status_input()
    data["rate_limits"]["five_hour"]["resets_at"] = NOW - 1
    assert "Opus 4.1 · session $0.42 · 5h — · week 41% (3d4h)" == line_for(data, NOW)


def test_window_without_reset_time_shows_the_percentage_only() -> None:
    """A window with no resets_at has no countdown."""
    window = Window("five_hour", 99.9, None, NOW)
    assert "99%" == statusline.window_text(window, NOW)


def test_stored_window_says_how_old_it_is() -> None:
    """A window read from the store shows its age after the countdown."""
    window = Window("five_hour", 37.0, NOW + 3600, NOW - 240, stored=True)
    assert "37% (1h, 4m ago)" == statusline.window_text(window, NOW)


DURATIONS = [(0, "<1m"), (59, "<1m"), (60, "1m"), (3599, "59m"), (3600, "1h"), (7980, "2h13m")]
DURATIONS += [(86399, "23h59m"), (86400, "1d"), (273600, "3d4h"), (-5, "<1m")]


@pytest.mark.parametrize(("seconds", "text"), DURATIONS)
def test_durations(seconds: float, text: str) -> None:
    """Durations are minutes, hours and minutes, or days and hours."""
    assert text == statusline.format_duration(seconds)


def test_model_falls_back_to_its_id() -> None:
    """Without a display name the model id is shown."""
    assert "claude-opus-4-1" == statusline.model_name({"model": {"id": "claude-opus-4-1"}})


def test_model_name_stays_on_one_line() -> None:
    """A display name with line breaks cannot break the status line."""
    assert "Opus 4.1 evil" == statusline.model_name({"model": {"display_name": "Opus\n4.1\tevil"}})


def test_missing_fields_leave_their_parts_out(env: Path) -> None:
    """An object with none of the fields still gives a line, without a database."""
    assert "otm: no usage data yet" == line_for({"model": 3, "cost": "x", "rate_limits": None})


def test_garbage_input_still_prints_a_line(env: Path) -> None:
    """Garbage on stdin gives a message and exit status 0."""
    assert "otm: no status input (not JSON)" == line_for(b"\x00garbage")


def test_no_database_leaves_today_out(env: Path) -> None:
    """Without a database there is no today's cost, and nothing is created."""
    assert "Opus 4.1 · session $0.42 · 5h 23% (2h13m) · week 41% (3d4h)" == line_for(status_input())
    assert not (env / "otm.db").exists()


def test_line_with_database_has_today(env: Path) -> None:
    """With a database, today's Claude cost comes after the model."""
    today_db(env).close()
    line = line_for(status_input(), NOW)
    if local_timezone_name() == "UTC":
        assert line.startswith("Opus 4.1 · today $15.60 · session $0.42 · 5h 23%")
    assert line.startswith("Opus 4.1 · today $")


def test_garbage_input_still_shows_today(env: Path) -> None:
    """Unreadable input still shows what the database knows."""
    today_db(env).close()
    assert line_for(b"nope").startswith("otm: no status input (not JSON) · today $")


def test_stdin_of_a_terminal_is_not_read() -> None:
    """Run by hand in a terminal, it says what it expects instead of waiting for input."""

    class Terminal(io.BytesIO):
        def isatty(self) -> bool:
            return True

    data, reason = statusline.read_input(Terminal(b"{}"))
    assert ({}, "otm: no status input (Claude Code pipes its status JSON here)") == (data, reason)


def test_closed_stdout_is_not_an_error(env: Path) -> None:
    """A closed pipe on stdout still exits 0 without raising."""
    out = io.BytesIO()
    out.close()
    assert 0 == statusline.run(io.BytesIO(b"{}"), out, NOW)


# -- recording --------------------------------------------------------------------------------


def test_spool_holds_the_observation(env: Path) -> None:
    """rate_limits become one local-official LimitsObserved in the statusline's spool file."""
    line_for(status_input())
    (observed,), problems = read_observations(env)
    assert [] == problems
    expected = LimitsObserved(
        observation_id=observed.observation_id,
        provider="claude",
        source="local-official",
        observed_at=NOW,
        windows=(
            LimitWindow(
                provider="claude",
                window="five_hour",
                used_percent=23.5,
                observed_at=NOW,
                source="local-official",
                resets_at=FIVE_HOUR_RESET,
                window_seconds=18_000,
                detail="Claude Code statusline",
            ),
            LimitWindow(
                provider="claude",
                window="seven_day",
                used_percent=41.0,
                observed_at=NOW,
                source="local-official",
                resets_at=WEEK_RESET,
                window_seconds=604_800,
                detail="Claude Code statusline",
            ),
        ),
    )
    assert expected == observed
    assert observed.observation_id.startswith("statusline:")


def test_spool_json_is_what_msgspec_writes(env: Path) -> None:
    """The spool file is byte for byte ``msgspec.json.encode`` of the observation."""
    line_for(status_input())
    raw = spool_file(env).read_bytes()
    decoded = msgspec.json.decode(raw, type=LimitsObserved)
    assert msgspec.json.encode(decoded) == raw


def test_iso_and_millisecond_resets_are_recorded_as_epoch_seconds(env: Path) -> None:
    """Whatever the input's format, the observation has epoch seconds."""
    limits = {
        "five_hour": {"used_percentage": 1, "resets_at": int(FIVE_HOUR_RESET * 1000)},
        "seven_day": {"used_percentage": 2, "resets_at": "2026-05-23T16:00:30Z"},
    }
    line_for(status_input(rate_limits=limits))
    (observed,), _ = read_observations(env)
    assert [FIVE_HOUR_RESET, WEEK_RESET] == [w.resets_at for w in observed.windows]


def test_unchanged_windows_are_not_written_again(env: Path) -> None:
    """The same windows 59 s later leave the spool file untouched."""
    line_for(status_input(), NOW)
    before = spool_file(env).read_bytes()
    line_for(status_input(), NOW + 59)
    assert before == spool_file(env).read_bytes()


def test_unchanged_windows_are_written_again_after_a_minute(env: Path) -> None:
    """The same windows a minute later are a new observation."""
    line_for(status_input(), NOW)
    line_for(status_input(), NOW + 60)
    (observed,), _ = read_observations(env)
    assert NOW + 60 == observed.observed_at


def test_changed_windows_are_written_at_once(env: Path) -> None:
    """A new percentage is recorded on the next update."""
    line_for(status_input(), NOW)
    data = status_input()
    data["rate_limits"]["five_hour"]["used_percentage"] = 24
    line_for(data, NOW + 1)
    (observed,), _ = read_observations(env)
    assert 24.0 == observed.windows[0].used_percent


def test_a_corrupt_spool_file_is_replaced(env: Path) -> None:
    """A spool file that is not an observation is simply rewritten."""
    spool_file(env).parent.mkdir(parents=True)
    spool_file(env).write_bytes(b"{broken")
    line_for(status_input())
    (observed,), problems = read_observations(env)
    assert ([], NOW) == (problems, observed.observed_at)


def test_nothing_is_recorded_without_numeric_percentages(env: Path) -> None:
    """rate_limits without a numeric used_percentage write no observation."""
    limits = {"five_hour": {"used_percentage": "23"}, "seven_day": {"resets_at": WEEK_RESET}}
    line_for(status_input(rate_limits=limits))
    assert not spool_file(env).exists()


def test_windows_past_their_reset_are_not_recorded(env: Path) -> None:
    """A number about a window that has already reset is not an observation of it."""
    data = status_input()
    data["rate_limits"]["five_hour"]["resets_at"] = NOW - 1
    line_for(data)
    (observed,), _ = read_observations(env)
    assert ["seven_day"] == [w.window for w in observed.windows]


def test_spend_limit_is_recorded_unclamped_without_a_length(env: Path) -> None:
    """spend_limit at 130 % is spooled as window "spend_limit" at 130 %, of unknown length."""
    line_for(with_spend(130.0))
    (observed,), _ = read_observations(env)
    spend = observed.windows[-1]
    assert ("spend_limit", 130.0, SPEND_RESET, None) == (
        spend.window,
        spend.used_percent,
        spend.resets_at,
        spend.window_seconds,
    )


def test_unwritable_state_dir_still_prints_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state dir that cannot be created costs the recording, not the line."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("OTM_HOME", str(blocker / "state"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("OTM_DEMO", raising=False)
    assert "Opus 4.1 · session $0.42 · 5h 23% (2h13m) · week 41% (3d4h)" == line_for(status_input())


# -- the database -----------------------------------------------------------------------------


def test_today_counts_only_claude_on_the_local_date(env: Path) -> None:
    """Yesterday's usage and other providers' usage are not today's Claude cost."""
    today_db(env).close()
    today = cost_of(env, NOW, "UTC")
    assert (15_600_000_000_000, False) == (today.pusd, today.unpriced)


def test_today_follows_the_time_zone(env: Path) -> None:
    """In Tokyo, 2026-05-19T23:59Z is already the 20th and 2026-05-20T23:59Z the 21st."""
    today_db(env).close()
    assert 30_600_000_000_000 == cost_of(env, NOW, "Asia/Tokyo").pusd


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/St_Johns", "Asia/Kathmandu"])
def test_today_equals_the_daily_report(env: Path, tz: str) -> None:
    """Today's cost is the daily report's total for today, in any zone."""
    conn = today_db(env)
    try:
        today = statusline.today_cost(conn, NOW, tz)
        date = datetime.fromtimestamp(NOW, ZoneInfo(tz)).date().isoformat()
        report = periods.daily(conn, "claude", tz=tz, since=date, until=date)
    finally:
        conn.close()
    assert report["totals"]["totalCost"] == today.pusd / 10**12


def test_today_adds_a_cent_per_web_search(env: Path) -> None:
    """Today's cost adds $0.01 per web search, as ``otm report daily`` does."""
    conn = connect_writer(str(env / "otm.db"))
    seed(conn, claude("s", "2026-05-20T09:00:00+00:00", input=0, output=0, web_search_requests=7))
    try:
        report = periods.daily(conn, "claude", tz="UTC", since="2026-05-20", until="2026-05-20")
    finally:
        conn.close()
    today = cost_of(env, NOW, "UTC")
    assert (70_000_000_000, 0.07) == (today.pusd, report["totals"]["totalCost"])


def test_unpriced_model_today_is_flagged(env: Path) -> None:
    """A model without a price today sets the +? marker and adds nothing."""
    conn = connect_writer(str(env / "otm.db"))
    prices: dict[tuple[str, str], ModelPrice | None] = {**PRICES, ("claude", "mystery"): None}
    seed(
        conn,
        claude("a", "2026-05-20T09:00:00+00:00", input=100_000),
        claude("b", "2026-05-20T09:00:00+00:00", model="mystery"),
        claude("c", "2026-05-20T09:00:00+00:00", model="never-priced"),
        prices=prices,
    ).close()
    today = cost_of(env, NOW, "UTC")
    assert (300_000_000_000, True) == (today.pusd, today.unpriced)


def test_synthetic_records_are_not_unpriced(env: Path) -> None:
    """Claude's <synthetic> stubs name no model: no +? for them."""
    conn = connect_writer(str(env / "otm.db"))
    seed(conn, claude("s", "2026-05-20T09:00:00+00:00", model=None)).close()
    today = cost_of(env, NOW, "UTC")
    assert (0, False) == (today.pusd, today.unpriced)


def test_today_equals_otm_report_daily_after_a_catch_up(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a generated history caught up by catch_up, today's dollars are the report's."""
    from services.demo.corpus.claude import append_live, generate
    from services.queries.catchup import catch_up
    from services.runtime.installation import load_runtime

    root = tmp_path / "claude-history"
    now = datetime.now(UTC)
    generate(root, size_mb=0.3, seed=3, start=now - timedelta(seconds=60), days=2)
    append_live(root, random.Random(1), now)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    catch_up(load_runtime())
    tz = local_timezone_name()
    date = datetime.fromtimestamp(now.timestamp(), ZoneInfo(tz)).date().isoformat()
    conn = connect_reader(str(env / "otm.db"))
    try:
        today = statusline.today_cost(conn, now.timestamp())
        report = periods.daily(conn, "claude", tz=tz, since=date, until=date)
    finally:
        conn.close()
    assert today.pusd > 0
    assert (report["totals"]["totalCost"], "unpriced" in report) == (
        today.pusd / 10**12,
        today.unpriced,
    )


def test_locked_database_leaves_today_out_quickly(env: Path) -> None:
    """A database another process holds locked is skipped after a few milliseconds."""
    today_db(env).close()
    holder = sqlite3.connect(str(env / "otm.db"), isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        began = time.perf_counter()
        line = line_for(status_input())
        elapsed = time.perf_counter() - began
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "Opus 4.1 · session $0.42 · 5h 23% (2h13m) · week 41% (3d4h)" == line
    assert elapsed < 0.5


def test_a_file_that_is_not_a_database_leaves_today_out(env: Path) -> None:
    """A corrupt database file is skipped, not a crash."""
    (env / "otm.db").write_bytes(b"this is not sqlite" * 100)
    assert "Opus 4.1 · session $0.42 · 5h 23% (2h13m) · week 41% (3d4h)" == line_for(status_input())


def test_database_without_projections_leaves_today_out(env: Path) -> None:
    """An empty SQLite file (no tables yet) is skipped."""
    sqlite3.connect(str(env / "otm.db")).close()
    assert "Opus 4.1 · session $0.42" == line_for(status_input(rate_limits=None))


# -- windows from the store -------------------------------------------------------------------


def stored(name: str, observed_at: float, **fields: Any) -> LimitWindow:
    """A Claude window as the live poller commits it."""
    values: dict[str, Any] = {
        "provider": "claude",
        "window": name,
        "used_percent": 37.0,
        "observed_at": observed_at,
        "source": "live",
        "resets_at": NOW + 3600,
        "window_seconds": 18_000,
    }
    values.update(fields)
    return LimitWindow(**values)


def commit_windows(state: Path, *windows: LimitWindow) -> None:
    """Commit ``windows`` to the state dir's database through the real store."""
    seed(connect_writer(str(state / "otm.db")), limits=windows).close()


def test_stored_windows_stand_in_for_missing_rate_limits(env: Path) -> None:
    """Without rate_limits the store's fresh windows are shown, with their age."""
    commit_windows(
        env,
        stored("five_hour", NOW - 240),
        stored("seven_day", NOW - 60, used_percent=12.5, resets_at=WEEK_RESET),
    )
    line = line_for(status_input(rate_limits=None))
    assert line.endswith(" · 5h 37% (1h, 4m ago) · week 12% (3d4h, 1m ago)")


def test_stored_windows_are_not_recorded_again(env: Path) -> None:
    """Windows read from the store are shown, not written to the spool."""
    commit_windows(env, stored("five_hour", NOW - 240))
    line_for(status_input(rate_limits=None))
    assert not spool_file(env).exists()


def test_stale_stored_windows_are_left_out(env: Path) -> None:
    """A stored window older than the staleness limit is not shown."""
    old = NOW - statusline.STALE_AFTER_SECONDS - 1
    commit_windows(env, stored("five_hour", old, resets_at=NOW + 3600))
    assert " · 5h " not in line_for(status_input(rate_limits=None))


def test_stored_windows_past_their_reset_are_left_out(env: Path) -> None:
    """A stored window whose reset has passed is not shown."""
    commit_windows(env, stored("five_hour", NOW - 60, resets_at=NOW - 1))
    assert " · 5h " not in line_for(status_input(rate_limits=None))


def test_stored_windows_after_a_failed_live_poll_are_left_out(env: Path) -> None:
    """A live poll that failed after the window was observed makes it stale, as otm limits."""
    commit_windows(env, stored("five_hour", NOW - 120))
    status = LiveStatus(provider="claude", state="failed", checked_at=NOW - 60, kind="auth")
    observed = LimitsObserved(
        observation_id="live:1",
        provider="claude",
        source="live",
        observed_at=NOW - 60,
        status=status,
    )
    conn = connect_writer(str(env / "otm.db"))
    try:
        Store(conn).apply([observed])
    finally:
        conn.close()
    assert " · 5h " not in line_for(status_input(rate_limits=None))


def test_stored_windows_without_usage_tables(env: Path) -> None:
    """A database whose usage projection cannot be read still gives its windows."""
    commit_windows(env, stored("five_hour", NOW - 60))
    conn = sqlite3.connect(str(env / "otm.db"))
    conn.execute("DROP TABLE usage_by_slot")
    conn.close()
    line = line_for(status_input(rate_limits=None))
    assert "Opus 4.1 · session $0.42 · 5h 37% (1h, 1m ago)" == line


def test_input_windows_win_over_stored_ones(env: Path) -> None:
    """A window in rate_limits is shown rather than the store's; a missing one is filled in."""
    commit_windows(env, stored("five_hour", NOW - 60), stored("seven_day", NOW - 60))
    limits = {"five_hour": {"used_percentage": 50, "resets_at": FIVE_HOUR_RESET}}
    line = line_for(status_input(rate_limits=limits))
    assert line.endswith(" · 5h 50% (2h13m) · week 37% (1h, 1m ago)")


# -- mirrors of what the statusline does not import -------------------------------------------


def test_staleness_limit_is_the_limits_report_one() -> None:
    """The statusline's staleness limit is otm limits'."""
    assert limits_report.STALE_AFTER_SECONDS == statusline.STALE_AFTER_SECONDS


def test_slot_length_is_the_projection_one() -> None:
    """The statusline's slot length is the store's."""
    assert SLOT_MS // 1000 == statusline.SLOT_SECONDS


def test_state_dir_from_otm_home(state: Path) -> None:
    """With OTM_HOME the state dir is bus.endpoints'."""
    assert str(state_dir()) == statusline.state_directory()


def test_state_dir_without_otm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OTM_HOME the state dir is bus.endpoints' platform data dir."""
    monkeypatch.delenv("OTM_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert str(state_dir()) == statusline.state_directory()


@pytest.mark.parametrize(
    ("demo", "config_dir", "default_root"),
    [("1", True, True), ("", True, False), ("", False, True), ("", False, False)],
)
def test_database_is_the_runtime_one(
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo: str,
    config_dir: bool,
    default_root: bool,
) -> None:
    """With both databases present, otm.db or demo.db exactly as the runtime decides."""
    from services.runtime.installation import load_runtime

    (env / "otm.db").touch()
    (env / "demo.db").touch()
    monkeypatch.setenv("OTM_DEMO", demo)
    if not config_dir:
        monkeypatch.delenv("CLAUDE_CONFIG_DIR")
    for name in ("CODEX_HOME", "GEMINI_CLI_HOME"):
        monkeypatch.delenv(name, raising=False)
    if default_root:
        (tmp_path / "home" / ".claude" / "projects").mkdir(parents=True)
    assert str(load_runtime().db_path) == statusline.database_path(str(env))


def test_no_database_skips_the_demo_rule(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no database at all there is nothing to read: the runtime is not loaded to choose."""
    import services.runtime.installation

    calls: list[str] = []
    monkeypatch.delenv("CLAUDE_CONFIG_DIR")
    monkeypatch.setattr(
        services.runtime.installation, "load_runtime", lambda: calls.append("loaded")
    )
    assert (str(env / "otm.db"), []) == (statusline.database_path(str(env)), calls)


PRICE_CASES = [
    SONNET_4_5,
    GPT_5_4,
    GEMINI_2_5_PRO,
    msgspec.structs.replace(SONNET_4_5, fast_multiplier="6"),
    ModelPrice(
        input="1.2345678",
        output="0.0000005",
        cache_write_5m="3.75",
        cache_write_1h="6",
        cache_read="0",
        long_context_threshold=1,
        long_context_output="2.5",
        fast_multiplier="2.5",
    ),
]


@pytest.mark.parametrize("price", PRICE_CASES)
@pytest.mark.parametrize(("long_context", "fast"), [(False, False), (True, False), (True, True)])
def test_rates_are_the_cost_modules(price: ModelPrice, long_context: bool, fast: bool) -> None:
    """Pico-dollars per token equal services.queries.costs' for every tier and speed."""
    rates = price_table(price).rates(long_context=long_context, fast=fast)
    decoded = statusline.decode_struct(msgspec.msgpack.encode(price), "price")
    assert decoded is not None
    assert (
        rates.input,
        rates.output,
        rates.cache_write_5m,
        rates.cache_write_1h,
        rates.cache_read,
    ) == statusline.price_rates(decoded, long_context=long_context, fast=fast)


@pytest.mark.parametrize("kcount", ["0", "10", "12.3456789"])
def test_search_rate_is_the_cost_modules(kcount: str) -> None:
    """Pico-dollars per web search equal services.queries.costs' for any per-1,000 price."""
    price = ModelPrice("3", "15", "3.75", "6", "0.3", web_searches_kcount=kcount)
    decoded = statusline.decode_struct(msgspec.msgpack.encode(price), "price")
    assert decoded is not None
    assert price_table(price).web_search == statusline.search_rate(decoded)


def test_search_rate_of_a_price_committed_before_searches_is_zero() -> None:
    """A price blob without ``web_searches_kcount`` (an older store) bills searches at 0."""
    assert 0 == statusline.search_rate({"input": "3", "output": "15"})


MSGPACK_VALUES: list[object] = [
    {"a": [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32, 2**63]},
    {"n": [-1, -32, -33, -128, -129, -32768, -32769, -(2**31) - 1, -(2**63)]},
    {"f": [0.0, 1.5, -2.25, 1e300], "t": [True, False, None]},
    {"s": ["", "x" * 31, "y" * 32, "z" * 255, "é" * 200, "w" * 70_000]},
    {"big": list(range(20)), "map": {str(i): i for i in range(20)}},
]


@pytest.mark.parametrize("value", MSGPACK_VALUES)
def test_msgpack_reader_agrees_with_msgspec(value: object) -> None:
    """The small msgpack reader decodes what msgspec encodes to the same values."""
    blob = msgspec.msgpack.encode(value)
    assert msgspec.msgpack.decode(blob) == msgpack_lite.unpack(blob)


def test_committed_window_decodes_to_its_fields() -> None:
    """A LimitWindow as the store keeps it decodes to its fields."""
    window = stored("five_hour", NOW, detail="x")
    expected = {f: getattr(window, f) for f in window.__struct_fields__}
    assert expected == statusline.decode_struct(msgspec.msgpack.encode(window), "window")


@pytest.mark.parametrize(
    "blob", [b"\xc4\x01x", b"\x81\xa1a", b"\x80\x00", b"\x81\x01\x02", b"", b"\x01"]
)
def test_unreadable_msgpack_is_not_a_struct(blob: bytes) -> None:
    """Binary data, truncated or trailing bytes and non-maps decode to nothing."""
    assert statusline.decode_struct(blob, "window") is None


def test_stdin_of_the_process_is_read(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without arguments run() reads the process's stdin and writes its stdout."""
    stdin, stdout = io.BytesIO(b'{"model": {"id": "m"}}'), io.BytesIO()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(stdin))
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(stdout))
    assert 0 == statusline.run()
    assert b"m\n" == stdout.getvalue()


@pytest.mark.e2e
def test_import_is_lean() -> None:
    """Importing the statusline pulls in neither msgspec, the bus messages nor typer."""
    import subprocess
    import sys

    code = "import sys, otm.statusline; print(sorted(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    loaded = set(json.loads(done.stdout.replace("'", '"')))
    assert set() == loaded & {"msgspec", "bus.messages", "typer", "click", "rich", "otm.cli"}
