"""``--since``/``--until`` in session and project reports cut sessions to their records in range.

ccusage 20.0.24 filters records by local date before grouping them into sessions, for Claude,
Codex and Gemini alike (probed; FORMATS.md §2.6 says otherwise and is wrong on this point).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from bus.messages import UsageRecord
from services.queries.reports.sessions import project, session
from tests.services.queries.reports_support import claude, codex, gemini, rows, seed

MakeRecord = Callable[..., UsageRecord]
PROVIDERS = [
    pytest.param(claude, "claude", id="claude"),
    pytest.param(codex, "codex", id="codex"),
    pytest.param(gemini, "gemini", id="gemini"),
]


def three_days(db: sqlite3.Connection, make: MakeRecord = claude) -> sqlite3.Connection:
    """One session with records of 100, 20 and 3 input tokens on 2026-05-01, 02 and 03 (UTC)."""
    return seed(
        db,
        make("a", "2026-05-01T10:00:00+00:00", session="s", project="p", input=100),
        make("b", "2026-05-02T10:00:00+00:00", session="s", project="p", input=20),
        make("c", "2026-05-03T10:00:00+00:00", session="s", project="p", input=3),
    )


def only(report: dict[str, Any]) -> dict[str, Any]:
    """The single session row of a report."""
    (row,) = rows(report, "sessions")
    return row


@pytest.mark.parametrize(("make", "provider"), PROVIDERS)
def test_since_drops_records_before_it(
    db: sqlite3.Connection, make: MakeRecord, provider: str
) -> None:
    """A session straddling --since keeps only its tokens from that date on, for every CLI."""
    report = session(three_days(db, make), provider=provider, since="20260502")
    assert 23 == only(report)["inputTokens"]


@pytest.mark.parametrize(("make", "provider"), PROVIDERS)
def test_until_drops_records_after_it(
    db: sqlite3.Connection, make: MakeRecord, provider: str
) -> None:
    """A session straddling --until keeps only its tokens up to that date, for every CLI."""
    report = session(three_days(db, make), provider=provider, until="20260502")
    assert 120 == only(report)["inputTokens"]


def test_since_and_until_on_one_day_keep_that_day(db: sqlite3.Connection) -> None:
    """--since and --until on the same date keep only that date's records."""
    report = session(three_days(db), since="20260502", until="20260502")
    assert 20 == only(report)["inputTokens"]


def test_activity_dates_are_of_the_kept_records(db: sqlite3.Connection) -> None:
    """firstActivity and lastActivity are those of the records kept, as in ccusage."""
    row = only(session(three_days(db), since="20260502", until="20260502"))
    assert ("2026-05-02", "2026-05-02") == (row["firstActivity"], row["lastActivity"])


def test_session_with_no_record_in_range_is_left_out(db: sqlite3.Connection) -> None:
    """A session active before and after the range but not in it is not listed."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", session="s", project="p"),
        claude("b", "2026-05-03T10:00:00+00:00", session="s", project="p"),
    )
    assert [] == rows(session(db, since="20260502", until="20260502"), "sessions")


def test_cost_is_of_the_kept_records(db: sqlite3.Connection) -> None:
    """A cut session costs what a session holding only its kept records costs."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", session="s", project="p", input=100),
        claude("c", "2026-05-03T10:00:00+00:00", session="s", project="p", input=3),
        claude("d", "2026-05-03T11:00:00+00:00", session="t", project="p", input=3),
    )
    cut, alone = sorted(
        rows(session(db, since="20260503"), "sessions"), key=lambda r: r["sessionId"]
    )
    assert (alone["totalCost"], alone["inputTokens"]) == (cut["totalCost"], cut["inputTokens"])


def test_records_are_dated_in_the_report_zone(db: sqlite3.Connection) -> None:
    """A 23:30 UTC record on 05-02 falls on 05-03 in Asia/Tokyo, so --since 05-03 keeps it."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", session="s", project="p", input=100),
        claude("b", "2026-05-02T23:30:00+00:00", session="s", project="p", input=7),
    )
    report = session(db, tz="Asia/Tokyo", since="20260503")
    assert (7, "2026-05-03") == (only(report)["inputTokens"], only(report)["firstActivity"])


def test_session_inside_the_range_is_whole(db: sqlite3.Connection) -> None:
    """A session whose records all lie in range is listed with all its tokens."""
    report = session(three_days(db), since="20260501", until="20260503")
    assert 123 == only(report)["inputTokens"]


def test_project_sums_the_kept_records(db: sqlite3.Connection) -> None:
    """A project adds up only its sessions' records in range."""
    (row,) = rows(project(three_days(db), since="20260502"), "projects")
    assert (23, "2026-05-02") == (row["inputTokens"], row["firstActivity"])


def test_session_id_in_two_projects_is_cut_per_project(db: sqlite3.Connection) -> None:
    """A session id under two projects is cut by date in each project separately."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", session="s", project="p", input=100),
        claude("b", "2026-05-03T10:00:00+00:00", session="s", project="p", input=3),
        claude("c", "2026-05-01T10:00:00+00:00", session="s", project="q", input=50),
        claude("d", "2026-05-03T10:00:00+00:00", session="s", project="q", input=5),
    )
    report = session(db, since="20260502")
    assert {"p": 3, "q": 5} == {
        r["projectPath"]: r["inputTokens"] for r in rows(report, "sessions")
    }


def test_revised_record_counts_once_when_cut(db: sqlite3.Connection) -> None:
    """A streaming copy superseded by a larger one counts once in a session cut per project."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", session="s", project="p", input=100),
        claude("b", "2026-05-03T10:00:00+00:00", session="s", project="p", input=3),
        claude("b", "2026-05-03T10:00:00+00:00", session="s", project="p", input=3, output=9),
        claude("c", "2026-05-01T10:00:00+00:00", session="s", project="q", input=50),
    )
    (row,) = rows(session(db, since="20260502"), "sessions")
    assert ("p", 3, 9) == (row["projectPath"], row["inputTokens"], row["outputTokens"])
