"""``--csv``: one line per report row, fixed columns per kind, models joined with ``;``."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from otm.csvout import header, to_csv
from services.queries.reports.build import KINDS, ReportOptions, build_report
from tests.services.queries.reports_support import CODEX, SONNET, claude, codex, ms, seed


def lines(db: sqlite3.Connection, kind: str, provider: str = "all") -> list[dict[str, str]]:
    """The CSV of a report, parsed back into one dict per line."""
    options = ReportOptions(provider=provider, now_ms=ms("2030-01-01T00:00:00+00:00"))
    text = to_csv(kind, build_report(db, kind, options), provider)
    return list(csv.DictReader(io.StringIO(text)))


def mixed(db: sqlite3.Connection) -> sqlite3.Connection:
    """A Claude and a Codex record on 2026-05-01, same project and session names."""
    return seed(
        db,
        claude("a", "2026-05-01T09:00:00+00:00", output=100),
        codex("b", "2026-05-01T10:00:00+00:00"),
    )


def test_daily_header() -> None:
    """A daily CSV names the date, every token field, cost, models and providers."""
    expected = [
        "date",
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "reasoningTokens",
        "totalTokens",
        "totalCost",
        "models",
        "providers",
    ]
    assert expected == header("daily")


@pytest.mark.parametrize("kind", KINDS)
def test_header_is_the_first_line(db: sqlite3.Connection, kind: str) -> None:
    """Every kind's CSV starts with its header, even with no rows."""
    text = to_csv(kind, build_report(db, kind, ReportOptions()), "all")
    assert ",".join(header(kind)) == text.splitlines()[0]


def test_one_line_per_period(db: sqlite3.Connection) -> None:
    """A day with two models is one line, its models joined with ';'."""
    (line,) = lines(mixed(db), "daily")
    assert (f"{SONNET};{CODEX}", "claude;codex") == (line["models"], line["providers"])


def test_csv_values_equal_the_json(db: sqlite3.Connection) -> None:
    """The CSV line carries the JSON row's token counts and cost."""
    (line,) = lines(mixed(db), "daily")
    assert ("6600", "200", "0.01395") == (
        line["totalTokens"],
        line["reasoningTokens"],
        line["totalCost"],
    )


def test_claude_csv_reports_zero_reasoning(db: sqlite3.Connection) -> None:
    """The columns do not depend on the provider: Claude's reasoningTokens is 0."""
    (line,) = lines(mixed(db), "daily", provider="claude")
    assert ("0", "claude") == (line["reasoningTokens"], line["providers"])


def test_session_lines(db: sqlite3.Connection) -> None:
    """A session line names the session, its project and its activity dates."""
    first, _ = lines(mixed(db), "session")
    assert ("2026/05/01/rollout-1", "/home/u/proj", "2026-05-01", "2026-05-01") == (
        first["sessionId"],
        first["projectPath"],
        first["firstActivity"],
        first["lastActivity"],
    )


def test_block_lines(db: sqlite3.Connection) -> None:
    """A block line gives its times, flags, entries and token counts."""
    seed(db, claude("a", "2026-05-01T10:30:00+00:00"), claude("b", "2026-05-02T10:30:00+00:00"))
    gap = lines(db, "blocks", provider="claude")[1]
    assert ("true", "", "0", "claude") == (
        gap["isGap"],
        gap["actualEndTime"],
        gap["entries"],
        gap["providers"],
    )
