"""``otm report <kind>``: options, output formats and the human tables, on a seeded database.

The command's database opening (catching up from the logs) is replaced by a read-only
connection to the test database; everything after it is the real command.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from services.queries.reports import open as report_open
from services.queries.reports.build import KINDS, ROWS_KEY
from services.store.database import connect_reader
from tests.services.queries.reports_support import CODEX, claude, codex, gemini, seed

with warnings.catch_warnings():
    # typer's import touches click.utils.get_binary_stream, deprecated in Click 8.3.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from otm import cli

runner = CliRunner()


@pytest.fixture
def otm(db: sqlite3.Connection, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``otm report ...`` against the test database; returns the click result."""
    monkeypatch.setattr(cli, "_runtime", lambda: SimpleNamespace(demo=False))
    monkeypatch.setattr(report_open, "open_for_report", lambda _: connect_reader(str(db_path)))
    monkeypatch.setenv("COLUMNS", "250")
    seed(
        db,
        claude("a", "2026-05-01T09:00:00+00:00", output=100),
        claude("b", "2026-05-01T10:00:00+00:00", model="claude-imaginary-9"),
        codex("c", "2026-05-02T10:00:00+00:00"),
        gemini("d", "2026-05-03T10:00:00+00:00"),
    )

    def run(*args: str) -> Any:
        return runner.invoke(cli.app, ["report", *args, "--tz", "UTC"])

    return run


def test_json_is_the_report(otm: Any) -> None:
    """--json prints the report: here the Codex day of --provider codex."""
    result = otm("daily", "--json", "--provider", "codex")
    (row,) = json.loads(result.stdout)["daily"]
    assert ("2026-05-02", [CODEX]) == (row["date"], row["modelsUsed"])


def test_all_providers_by_default(otm: Any) -> None:
    """Without --provider the report covers every CLI."""
    report = json.loads(otm("monthly", "--json").stdout)
    assert ["claude", "codex", "gemini"] == report["monthly"][0]["providers"]


def test_weekly_start_of_week_option(otm: Any) -> None:
    """--start-of-week monday names weeks by their Monday."""
    report = json.loads(otm("weekly", "--json", "--start-of-week", "monday").stdout)
    assert ["2026-04-27"] == [r["week"] for r in report["weekly"]]


def test_order_option(otm: Any) -> None:
    """--order desc reverses the days."""
    report = json.loads(otm("daily", "--json", "--order", "desc").stdout)
    assert ["2026-05-03", "2026-05-02", "2026-05-01"] == [r["date"] for r in report["daily"]]


def test_since_until_options(otm: Any) -> None:
    """--since and --until select local dates, in either format."""
    report = json.loads(otm("daily", "--json", "-s", "20260502", "-u", "2026-05-02").stdout)
    assert ["2026-05-02"] == [r["date"] for r in report["daily"]]


def test_token_limit_option(otm: Any) -> None:
    """--token-limit is accepted by blocks (no block is active, so no status is added)."""
    report = json.loads(otm("blocks", "--json", "--token-limit", "max").stdout)
    assert not any("tokenLimitStatus" in b for b in report["blocks"])


def test_csv_output(otm: Any) -> None:
    """--csv prints one line per row after the header."""
    text = otm("daily", "--csv").stdout
    assert 3 == len(list(csv.DictReader(io.StringIO(text))))


def test_json_and_csv_exclude_each_other(otm: Any) -> None:
    """--json with --csv is refused with exit code 2."""
    assert 2 == otm("daily", "--json", "--csv").exit_code


def test_bad_option_is_refused_naming_it(otm: Any) -> None:
    """A bad option value exits 2 with a message naming it."""
    result = otm("daily", "--provider", "copilot")
    assert (2, True) == (result.exit_code, "copilot" in result.output)


@pytest.mark.parametrize("kind", KINDS)
def test_table_has_a_totals_row(otm: Any, kind: str) -> None:
    """Every human report ends its table with a Total row."""
    assert "Total" in otm(kind).stdout


@pytest.mark.parametrize("kind", KINDS)
def test_table_lists_unpriced_models(otm: Any, kind: str) -> None:
    """Every human report has a line for a model with no price."""
    assert "unpriced: claude claude-imaginary-9" in otm(kind).stdout


def test_table_shows_reasoning_for_codex(otm: Any) -> None:
    """Reports beyond Claude show the Reasoning column."""
    assert "Reasoning" in otm("daily", "--provider", "codex").stdout


def test_claude_table_has_no_reasoning_column(otm: Any) -> None:
    """The Claude table keeps the Claude columns only."""
    assert "Reasoning" not in otm("daily", "--provider", "claude").stdout


def test_unpriced_line_names_the_config_section(otm: Any) -> None:
    """The unpriced line shows the config.toml section that would price the model."""
    assert '[pricing.overrides."claude-imaginary-9"]' in otm("daily").stdout


def test_limits_of_an_unknown_provider_is_refused_naming_it() -> None:
    """``otm limits --provider copilot`` exits 2 naming the value, as ``otm report`` does."""
    result = runner.invoke(cli.app, ["limits", "--provider", "copilot"])
    assert (2, True) == (result.exit_code, "copilot" in result.output)


DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.fixture
def busy(db: sqlite3.Connection, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``otm report ...`` over days with several models and nine-digit token counts."""
    monkeypatch.setattr(cli, "_runtime", lambda: SimpleNamespace(demo=False))
    monkeypatch.setattr(report_open, "open_for_report", lambda _: connect_reader(str(db_path)))
    big = {"input": 123_456_789, "output": 9_876_543, "cache_read": 987_654_321}
    records = []
    for day in range(1, 6):
        at = f"2026-05-0{day}T10:00:00+00:00"
        records += [
            claude(f"a{day}", at, cache_write_5m=5_555_555, **big),
            claude(f"b{day}", at, model="claude-opus-4-6-20260101", **big),
            codex(
                f"c{day}",
                at,
                session=f"2026/05/0{day}/rollout-{day}-019de091-1a38-77dd-8f6c-96bf4889e6b{day}",
                **big,
            ),
            gemini(f"d{day}", at, reasoning=4_321, **big),
        ]
    seed(db, *records)

    def run(columns: str | None, *args: str) -> Any:
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        return runner.invoke(cli.app, ["report", *args, "--tz", "UTC"])

    return run


@pytest.mark.parametrize("provider", ["all", "claude", "codex"])
@pytest.mark.parametrize("kind", KINDS)
def test_table_fits_80_columns(busy: Any, kind: str, provider: str) -> None:
    """At 80 columns no line of any report is wider than 80."""
    lines = busy("80", kind, "--provider", provider).stdout.splitlines()
    assert [] == [line for line in lines if len(line) > 80]


@pytest.mark.parametrize("provider", ["all", "claude"])
@pytest.mark.parametrize("width", ["80", "120"])
@pytest.mark.parametrize("kind", KINDS)
def test_table_shows_dates_and_dollars_whole(
    busy: Any, kind: str, provider: str, width: str
) -> None:
    """Every row's date and dollar amount (and the total's) appears whole in the table."""
    report = json.loads(busy(width, kind, "--json", "--provider", provider).stdout)
    text = busy(width, kind, "--provider", provider).stdout
    rows = report[ROWS_KEY[kind]]
    if kind == "blocks":
        # A gap's row is blank past its start.
        used = [b for b in rows if not b["isGap"]]
        wanted = [b["startTime"][:10] for b in rows] + [f"${b['costUSD']:,.2f}" for b in used]
        wanted.append(f"${sum(b['costUSD'] for b in rows):,.2f}")
    else:
        dates = {"session": "lastActivity", "project": "lastActivity"}.get(kind)
        names = {"daily": "date", "weekly": "week", "monthly": "month", "machines": "machine"}
        key = dates or names[kind]
        wanted = [r[key] for r in rows] + [f"${r['totalCost']:,.2f}" for r in rows]
        wanted.append(f"${report['totals']['totalCost']:,.2f}")
    assert [] == [cell for cell in wanted if cell not in text]


@pytest.mark.parametrize("kind", ["daily", "session", "blocks"])
def test_model_names_are_never_wrapped(busy: Any, kind: str) -> None:
    """At 80 columns every model reads whole on one line, by its short name."""
    text = busy("80", kind).stdout
    wanted = ["sonnet-4-5", "opus-4-6", "gpt-5.3-codex", "gemini-2.5-pro"]
    assert [] == [
        name for name in wanted if not re.search(rf"(^|\s){re.escape(name)}(\s|$)", text, re.M)
    ]


def test_a_pipe_gets_the_whole_table(busy: Any) -> None:
    """Output that is not a terminal (no COLUMNS) is drawn at its own width: full session ids,
    full model names and full counts."""
    text = busy(None, "session").stdout
    wanted = [
        "2026/05/01/rollout-1-019de091-1a38-77dd-8f6c-96bf4889e6b1",
        "claude-opus-4-6-20260101",
        "123,456,789",
    ]
    assert [] == [cell for cell in wanted if cell not in text]


def test_session_ids_are_shortened_at_120_columns(busy: Any) -> None:
    """At 120 columns a Codex session is named by the end of its id, not cut."""
    text = busy("120", "session", "--provider", "codex").stdout
    shown = [f"4889e6b{day}" for day in range(1, 6) if f"4889e6b{day}" in text]
    assert (5, False) == (len(shown), "…" in text)


def test_zero_columns_are_hidden(busy: Any) -> None:
    """Claude-only data has no Reasoning column (it is zero in every row)."""
    assert "Reasoning" not in busy("250", "daily", "--provider", "claude").stdout


def test_narrow_table_names_what_it_left_out(busy: Any) -> None:
    """A column left out for the width is named under the table."""
    assert "Not shown at 80 columns: CLIs" in busy("80", "daily").stdout


def test_empty_report_says_where_it_looked(
    otm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report with no rows names every root it read and the variable for each CLI."""
    roots = {"CLAUDE_CONFIG_DIR": "cc", "CODEX_HOME": "cx", "GEMINI_DATA_DIR": "gm"}
    for name, folder in roots.items():
        monkeypatch.setenv(name, str(tmp_path / folder))
    text = otm("daily", "--since", "20300101").stdout
    wanted = [
        "--since 20300101",
        str(tmp_path / "cc" / "projects"),
        str(tmp_path / "cx" / "sessions"),
        str(tmp_path / "gm"),
        *roots,
    ]
    assert [] == [w for w in wanted if w not in text]


def test_empty_report_prints_no_table(otm: Any) -> None:
    """An empty report has no table (no Total row)."""
    assert "Total" not in otm("daily", "--since", "20300101").stdout


def test_too_narrow_a_terminal_still_cuts_nothing(busy: Any) -> None:
    """Narrower than the leanest table, the table is drawn whole (wider than the terminal)."""
    report = json.loads(busy("30", "daily", "--json").stdout)
    text = busy("30", "daily").stdout
    wanted = [r["date"] for r in report["daily"]] + [
        f"${r['totalCost']:,.2f}" for r in report["daily"]
    ]
    assert [] == [cell for cell in wanted if cell not in text]
