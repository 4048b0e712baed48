"""``otm report <kind>``: options, output formats and the human tables, on a seeded database.

The command's database opening (catching up from the logs) is replaced by a read-only
connection to the test database; everything after it is the real command.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from services.queries.reports import open as report_open
from services.queries.reports.build import KINDS
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
