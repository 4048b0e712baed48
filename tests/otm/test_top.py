"""``otm top``: the snapshot from the API's queries and the screen drawn from it at 80 x 24."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from bus.messages import AlertObserved, LimitWindow
from otm.top_data import Queries, Snapshot, next_change, parts_for
from otm.top_view import NOT_RUNNING, Frame, countdown, screen, window_row
from services.queries.reports.build import ReportOptions, build_report
from services.runtime.installation import load_runtime
from services.store.database import connect_reader
from services.store.writer import Store
from tests.helpers import alert
from tests.services.queries.reports_support import claude, codex, seed

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC).timestamp()
"""Noon UTC: today is 2026-05-20."""


def window(provider: str, name: str, used: float, **fields: object) -> LimitWindow:
    """A window observed a minute before NOW, resetting 2h13m05s after it."""
    values: dict[str, object] = {
        "provider": provider,
        "window": name,
        "used_percent": used,
        "observed_at": NOW - 60,
        "source": "live",
        "resets_at": NOW + 2 * 3600 + 13 * 60 + 5,
        "window_seconds": 18_000,
    }
    values.update(fields)
    return LimitWindow(**values)  # type: ignore[arg-type]


@pytest.fixture
def reader(state: Path, db: sqlite3.Connection) -> sqlite3.Connection:
    """A read-only connection on a store holding today's Claude and Codex use and windows."""
    seed(
        db,
        claude("a", "2026-05-20T10:05:00+00:00", output=40_000),
        claude("b", "2026-05-20T11:30:00+00:00", input=250_000, output=9_000),
        claude("old", "2026-05-19T09:00:00+00:00", output=70_000),
        codex("c", "2026-05-20T11:00:00+00:00"),
        limits=(
            window("claude", "five_hour", 62.0),
            window("claude", "seven_day", 15.0, window_seconds=604_800, resets_at=NOW + 3 * 86400),
            window("codex", "primary", 91.0, source="local-official", observed_at=NOW - 7200),
        ),
    )
    conn = connect_reader(str(state / "otm.db"))
    yield conn
    conn.close()


def snapshot_of(conn: sqlite3.Connection) -> Snapshot:
    """Every part of the snapshot queried at NOW."""
    snapshot = Snapshot()
    Queries(conn, load_runtime(), "UTC").refresh(snapshot, {"all"}, now=NOW)
    return snapshot


def lines(snapshot: Snapshot, **frame: object) -> list[str]:
    """The screen as 80-column text lines (trailing spaces removed)."""
    values: dict[str, object] = {"view": "all", "now": NOW, "running": True, "db_exists": True}
    values.update(frame)
    console = Console(width=80, height=24, record=True, color_system=None)
    console.print(screen(snapshot, Frame(**values)))  # type: ignore[arg-type]
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_today_cost_is_the_daily_report_total(reader: sqlite3.Connection) -> None:
    """Today's cost is `otm report daily`'s total for today, to the cent."""
    report = build_report(reader, "daily", ReportOptions(tz="UTC", since="20260520"))
    expected = f"Today ${report['totals']['totalCost']:,.2f}"
    assert expected in lines(snapshot_of(reader))[1]


def test_block_cost_is_the_blocks_report_active_block(reader: sqlite3.Connection) -> None:
    """The Claude line shows the active block's cost, burn rate and projection of the report."""
    options = ReportOptions(provider="claude", tz="UTC", now_ms=int(NOW * 1000))
    (block,) = [b for b in build_report(reader, "blocks", options)["blocks"] if b["isActive"]]
    expected = (
        f"block ${block['costUSD']:,.2f}  burn ${block['burnRate']['costPerHour']:,.2f}/h"
        f"  projected ${block['projection']['totalCost']:,.2f}"
    )
    claude_line = next(line for line in lines(snapshot_of(reader)) if "Claude Code" in line)
    assert expected in claude_line


def test_screen_is_exactly_80_by_24(reader: sqlite3.Connection) -> None:
    """The overview fills 24 rows and no row is wider than 80 columns."""
    shown = lines(snapshot_of(reader))
    assert (24, True) == (len(shown), all(len(line) <= 80 for line in shown))


def test_window_row_shows_use_countdown_and_source(reader: sqlite3.Connection) -> None:
    """A window row has its bar, % used, the countdown to reset and its source."""
    row = next(line for line in lines(snapshot_of(reader)) if "5-hour" in line and "62%" in line)
    assert "   5-hour       ██████████░░░░░░  62%  resets 2:13:05  live" == row


def test_countdown_ticks_every_second(reader: sqlite3.Connection) -> None:
    """One second later the countdown is one second shorter, without a new query."""
    snapshot = snapshot_of(reader)
    later = next(line for line in lines(snapshot, now=NOW + 1) if "62%" in line)
    assert "resets 2:13:04" in later


def test_old_window_is_marked_stale(reader: sqlite3.Connection) -> None:
    """A window observed two hours ago says stale after its source."""
    row = next(line for line in lines(snapshot_of(reader)) if "91%" in line)
    assert row.endswith("local-official stale")


def test_stack_down_is_said_at_the_top(reader: sqlite3.Connection) -> None:
    """Without the store's heartbeat the second row says how to start the stack."""
    shown = lines(snapshot_of(reader), running=False)
    assert (f" {NOT_RUNNING}", True) == (shown[1], "Today $" in "\n".join(shown))


def test_no_database_says_nothing_was_counted() -> None:
    """Without a database the screen says so under the stack's state."""
    shown = lines(Snapshot(), running=False, db_exists=False)
    assert " no database yet: nothing has been counted" == shown[2]


def test_codex_view_shows_only_codex(reader: sqlite3.Connection) -> None:
    """Key 2's view has Codex's windows and no other provider's line."""
    text = "\n".join(lines(snapshot_of(reader), view="codex"))
    assert (True, False) == ("Codex CLI" in text, "Claude Code  today" in text)


def test_activity_rows_fit_one_line(reader: sqlite3.Connection) -> None:
    """A long prompt is cut to one line ending in its cost."""
    snapshot = snapshot_of(reader)
    snapshot.activity = [
        {
            "provider": "claude",
            "timestamp": "2026-05-20T11:59:00Z",
            "project": "/home/u/parser",
            "text": "fix the parser " * 20,
            "totalCost": 0.1234,
        }
    ]
    row = next(line for line in lines(snapshot) if "parser" in line)
    assert (80, True) == (len(row), row.endswith("… $0.12"))


def test_usage_event_requeries_only_its_provider() -> None:
    """evt.usage.codex re-queries Codex's costs; evt.limits the windows and alerts."""
    assert ({"usage.codex"}, {"limits", "alerts"}) == (
        parts_for("evt.usage.codex"),
        parts_for("evt.limits.claude"),
    )


def test_next_change_is_the_earliest_reset_or_staleness(reader: sqlite3.Connection) -> None:
    """The snapshot is re-queried when the first window turns stale or resets."""
    snapshot = snapshot_of(reader)
    assert NOW - 60 + 900 + 0.5 == next_change(snapshot, 900)


def test_countdown_beyond_a_day_shows_days() -> None:
    """Three days and a bit read as 3d 04:05:09."""
    assert "3d 04:05:09" == countdown(3 * 86400 + 4 * 3600 + 5 * 60 + 9)


def test_active_alert_is_listed_under_alerts(state: Path, db: sqlite3.Connection) -> None:
    """An alert committed through the store, before its window resets, is shown as active."""
    Store(db).apply([AlertObserved(alert=alert(raised_at=NOW - 300, resets_at=NOW + 600_000_000))])
    conn = connect_reader(str(state / "otm.db"))
    try:
        shown = lines(snapshot_of(conn))
    finally:
        conn.close()
    row = shown[shown.index(next(r for r in shown if r.startswith("─ Alerts"))) + 1]
    expected = f" ! {datetime.fromtimestamp(NOW - 300):%H:%M} Claude 5-hour window at 91 %"
    assert expected == row


def test_keys_stay_on_the_last_row_of_a_short_terminal(reader: sqlite3.Connection) -> None:
    """At 12 rows the overview is cut above the keys, which stay on the last row."""
    shown = lines(snapshot_of(reader), height=12)
    assert (12, " [a] all  [1] claude  [2] codex  [3] gemini  [q] quit") == (
        len(shown),
        shown[-1],
    )


def test_window_row_over_100_prints_the_real_percentage_on_a_full_bar() -> None:
    """A spend cap at 130 % fills the bar (it is only 100 % wide) and prints 130%."""
    spent = {
        "window": "spend_limit",
        "usedPercent": 130.0,
        "resetsAt": NOW + 3600,
        "source": "local-official",
        "stale": False,
    }
    expected = "   spend limit  ████████████████ 130%  resets 1:00:00  local-official"
    assert expected == window_row(spent, NOW).plain
