"""Session and project reports over the ``usage_by_session`` projection."""

from __future__ import annotations

import sqlite3

import pytest

from services.queries.reports.sessions import project, session
from tests.services.queries.reports_support import claude, codex, gemini, rows, seed


def two_sessions(db: sqlite3.Connection) -> sqlite3.Connection:
    """Claude session s1 (cheap, 2026-05-01..02) and s2 (dear, 2026-05-03), project p."""
    return seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", session="s1", project="p", input=1000),
        claude("b", "2026-05-02T10:00:00+00:00", session="s1", project="p", input=1000),
        claude("c", "2026-05-03T10:00:00+00:00", session="s2", project="p", input=100_000),
    )


def test_session_row_keys(db: sqlite3.Connection) -> None:
    """A Claude session row has ccusage's session keys, with the activity dates."""
    (row, *_) = rows(session(two_sessions(db), provider="claude"), "sessions")
    expected = [
        "sessionId",
        "projectPath",
        "firstActivity",
        "lastActivity",
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
        "totalCost",
        "modelsUsed",
        "modelBreakdowns",
    ]
    assert expected == list(row)


def test_sessions_sorted_by_cost_descending(db: sqlite3.Connection) -> None:
    """By default the most expensive session comes first, as in ccusage."""
    report = session(two_sessions(db))
    assert ["s2", "s1"] == [r["sessionId"] for r in rows(report, "sessions")]


def test_sessions_order_asc(db: sqlite3.Connection) -> None:
    """order='asc' puts the cheapest session first."""
    report = session(two_sessions(db), order="asc")
    assert ["s1", "s2"] == [r["sessionId"] for r in rows(report, "sessions")]


def test_session_sums_its_records(db: sqlite3.Connection) -> None:
    """A session row adds up every record of the session."""
    report = session(two_sessions(db))
    assert {"s1": 2000, "s2": 100_000} == {
        r["sessionId"]: r["inputTokens"] for r in rows(report, "sessions")
    }


def test_session_activity_dates(db: sqlite3.Connection) -> None:
    """firstActivity and lastActivity are the local dates of its first and last record."""
    report = session(two_sessions(db), order="asc")
    first = rows(report, "sessions")[0]
    assert ("2026-05-01", "2026-05-02") == (first["firstActivity"], first["lastActivity"])


def test_session_dates_are_local(db: sqlite3.Connection) -> None:
    """23:30 UTC is the next day in Asia/Tokyo."""
    seed(db, claude("a", "2026-05-01T23:30:00+00:00", session="s"))
    (row,) = rows(session(db, tz="Asia/Tokyo"), "sessions")
    assert "2026-05-02" == row["lastActivity"]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        pytest.param("20260502", None, ["s2", "s1"], id="since-inside-s1"),
        pytest.param("20260503", None, ["s2"], id="since-after-s1"),
        pytest.param(None, "2026-05-01", ["s1"], id="until-inside-s1"),
        pytest.param(None, "2026-05-02", ["s1"], id="until-s1"),
    ],
)
def test_since_until_list_sessions_with_records_in_range(
    db: sqlite3.Connection, since: str | None, until: str | None, expected: list[str]
) -> None:
    """since/until list the sessions that have a record dated in range, as ccusage does."""
    report = session(two_sessions(db), since=since, until=until)
    assert expected == [r["sessionId"] for r in rows(report, "sessions")]


def test_session_totals(db: sqlite3.Connection) -> None:
    """The totals add up the listed sessions."""
    assert 102_000 == session(two_sessions(db))["totals"]["inputTokens"]


def test_sessions_of_different_providers_stay_apart(db: sqlite3.Connection) -> None:
    """The same session id under two providers is two sessions, each naming its CLI."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", session="same", project="p"),
        codex("b", "2026-05-01T11:00:00+00:00", session="same", project="p"),
    )
    report = session(db)
    assert [["codex"], ["claude"]] == [r["providers"] for r in rows(report, "sessions")]


def test_session_with_no_tokens_is_left_out(db: sqlite3.Connection) -> None:
    """A session whose records carry no tokens is not listed (ccusage drops them too)."""
    seed(db, claude("a", "2026-05-01T10:00:00+00:00", session="empty", input=0, output=0))
    assert [] == rows(session(db), "sessions")


def test_gemini_session(db: sqlite3.Connection) -> None:
    """A Gemini session reports its logged total and thoughts as reasoning."""
    seed(db, gemini("a", "2026-05-01T10:00:00+00:00"))
    (row,) = rows(session(db, provider="gemini"), "sessions")
    assert (16276, 919) == (row["totalTokens"], row["reasoningTokens"])


# -- projects -----------------------------------------------------------------------------------


def test_project_sums_its_sessions(db: sqlite3.Connection) -> None:
    """A project row adds up all its sessions."""
    (row,) = rows(project(two_sessions(db)), "projects")
    assert ("p", 102_000) == (row["project"], row["inputTokens"])


def test_project_row_keys(db: sqlite3.Connection) -> None:
    """A Claude project row: project, activity dates, the usual token fields and models."""
    (row,) = rows(project(two_sessions(db), provider="claude"), "projects")
    expected = [
        "project",
        "firstActivity",
        "lastActivity",
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
        "totalCost",
        "modelsUsed",
        "modelBreakdowns",
    ]
    assert expected == list(row)


def test_projects_sorted_by_cost_descending(db: sqlite3.Connection) -> None:
    """The most expensive project comes first."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", project="cheap", input=10),
        claude("b", "2026-05-01T10:00:00+00:00", project="dear", input=10_000),
    )
    assert ["dear", "cheap"] == [r["project"] for r in rows(project(db), "projects")]


def test_project_since_selects_sessions(db: sqlite3.Connection) -> None:
    """A project sums only the sessions with records in range."""
    (row,) = rows(project(two_sessions(db), since="20260503"), "projects")
    assert 100_000 == row["inputTokens"]


def test_project_spans_providers(db: sqlite3.Connection) -> None:
    """The same project string under two CLIs is one project listing both."""
    seed(
        db,
        claude("a", "2026-05-01T10:00:00+00:00", project="/home/u/proj"),
        codex("b", "2026-05-02T10:00:00+00:00", project="/home/u/proj"),
    )
    (row,) = rows(project(db), "projects")
    assert (["claude", "codex"], "2026-05-02") == (row["providers"], row["lastActivity"])
