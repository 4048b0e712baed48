"""``otm report <kind>`` in a real 80-column terminal (tmux) over a generated corpus that mixes
Claude Code, Codex CLI and Gemini CLI: full dates and dollars, no line wider than the terminal."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.demo.corpus.mixed import generate_mixed
from services.queries.reports.build import KINDS, ROWS_KEY
from tests.e2e.stack import Stack, wait_until
from tests.e2e.test_report_fast_path import ENTRY, TYPER

pytestmark = pytest.mark.e2e

SCREENS = Path("/work/notes/screens")
"""Where each capture is kept for people to look at (when that folder can be made)."""
WIDTH = 80


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """A mixed corpus (each CLI's variable pointing into it), caught up once."""
    tmp = tmp_path_factory.mktemp("tables")
    corpus = tmp / "corpus"
    generate_mixed(corpus, 1.0, seed=3, start=datetime(2026, 5, 1, tzinfo=UTC), days=10)
    env = {
        "CODEX_HOME": str(corpus / "codex"),
        "GEMINI_DATA_DIR": str(corpus / "gemini" / "tmp"),
        "TZ": "UTC",
    }
    stack = Stack(tmp / "home", corpus / "claude", env)
    done = stack.otm("report", "daily", "--json")
    assert 0 == done.returncode, done.stderr
    return stack


def in_terminal(stack: Stack, args: list[str], width: int = WIDTH) -> str:
    """What ``otm report <args>`` shows in a ``width`` x 40 tmux terminal, scrolled-off lines
    included, each wrapped line joined back (so a line too wide shows as one long line)."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: install Debian's tmux (.ci/run does)", pytrace=False)
    socket = f"otm-report-{uuid.uuid4().hex[:8]}"
    env = {**stack.env, "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    command = " ".join(shlex.quote(a) for a in [*stack.otm_argv(), "report", *args])
    script = stack.home / f"report-{uuid.uuid4().hex[:8]}.sh"
    script.write_text(f"{exports}echo BEGIN-REPORT\n{command}\necho EXIT=$?\n")

    def tmux(*words: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", socket, *words], capture_output=True, text=True, timeout=10
        )
        assert 0 == done.returncode, done.stderr
        return done.stdout

    tmux("new-session", "-d", "-x", str(width), "-y", "40", "-s", "report")
    try:
        tmux("send-keys", "-t", "report", f"env -i sh {shlex.quote(str(script))}")
        tmux("send-keys", "-t", "report", "Enter")

        def finished() -> str:
            text = tmux("capture-pane", "-t", "report", "-p", "-J", "-S", "-")
            return text if "\nEXIT=" in text else ""

        screen = str(wait_until(finished, 60, "the report in the terminal"))
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    # What the shell prints around the report (prompt, typed line, exit status) is not its.
    lines = [line.rstrip() for line in screen.splitlines()]
    start = next(i for i, line in enumerate(lines) if line == "BEGIN-REPORT")
    end = next(i for i, line in enumerate(lines) if line.startswith("EXIT="))
    assert "EXIT=0" == lines[end]
    shown = "\n".join(lines[start + 1 : end])
    print(f"--- otm report {' '.join(args)} at {width} columns\n{shown}")
    keep(f"{'-'.join(args)}-{width}", shown)
    return shown


def keep(name: str, text: str) -> None:
    """Save a capture for people to look at."""
    try:
        SCREENS.mkdir(parents=True, exist_ok=True)
        (SCREENS / f"report-{name}.txt").write_text(text + "\n")
    except OSError:
        pass


def whole_cells(kind: str, report: dict[str, Any]) -> list[str]:
    """Every date and dollar amount the table of ``report`` must show whole."""
    rows = report[ROWS_KEY[kind]]
    if kind == "blocks":
        used = [b for b in rows if not b["isGap"]]
        return [b["startTime"][:10] for b in rows] + [f"${b['costUSD']:,.2f}" for b in used]
    if kind == "machines":
        # A machine's row: its whole name and the day it was last seen.
        firsts = [*(r["machine"] for r in rows), *(r["lastSeen"][:10] for r in rows)]
    else:
        key = {"daily": "date", "weekly": "week", "monthly": "month"}.get(kind, "lastActivity")
        firsts = [r[key] for r in rows]
    return [
        *firsts,
        *(f"${r['totalCost']:,.2f}" for r in rows),
        f"${report['totals']['totalCost']:,.2f}",
    ]


CASES = [*([kind, "--provider", "all"] for kind in KINDS), ["daily", "--provider", "claude"]]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_report_reads_whole_at_80_columns(stack: Stack, args: list[str]) -> None:
    """In an 80-column terminal the report shows every date and dollar amount whole (full
    YYYY-MM-DD dates, every row's cost and the total) and no line passes 80 columns."""
    kind = args[0]
    report = json.loads(stack.otm("report", *args, "--json").stdout)
    shown = in_terminal(stack, args)
    missing = [cell for cell in whole_cells(kind, report) if cell not in shown]
    too_wide = [line for line in shown.splitlines() if len(line) > WIDTH]
    assert ([], []) == (missing, too_wide)


@pytest.mark.parametrize("kind", ["session", "project", "blocks"])
def test_report_reads_whole_at_120_columns(stack: Stack, kind: str) -> None:
    """At 120 columns session, project and blocks show every date and dollar amount whole, and
    no line passes 120 columns."""
    report = json.loads(stack.otm("report", kind, "--json").stdout)
    shown = in_terminal(stack, [kind], width=120)
    missing = [cell for cell in whole_cells(kind, report) if cell not in shown]
    too_wide = [line for line in shown.splitlines() if len(line) > 120]
    assert ([], []) == (missing, too_wide)


def test_report_in_a_terminal_is_a_table(stack: Stack) -> None:
    """The terminal shows the table itself (its title and totals row), not an empty report."""
    shown = in_terminal(stack, ["daily"])
    assert (True, True) == ("AI coding CLIs usage by day" in shown, "Total" in shown)


def test_empty_report_is_the_same_both_ways(stack: Stack) -> None:
    """An empty report (no day in range) prints the same from the fast path and from typer,
    naming each CLI's roots and variable."""
    typer, first, again = _both_ways(stack)
    wanted = ["CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_DATA_DIR", stack.env["CODEX_HOME"]]
    assert (typer, typer, []) == (first, again, [w for w in wanted if w not in typer[1]])


def test_empty_report_follows_the_config_file(stack: Stack) -> None:
    """An empty report is never printed again from a kept answer: after ``[codex] roots`` is
    set in config.toml it names the configured root."""
    _both_ways(stack)
    config = stack.home / "config.toml"
    elsewhere = stack.home / "elsewhere"
    config.write_text(f"[codex]\nroots = [{json.dumps(str(elsewhere))}]\n")
    try:
        typer, fast, _ = _both_ways(stack)
    finally:
        config.unlink()
    wanted = str(elsewhere / "sessions")
    assert (typer, True) == (fast, wanted in fast[1])


def _both_ways(stack: Stack) -> tuple[tuple[int, str, str], ...]:
    """``otm report daily --since 20300101`` by typer, then twice by the fast path."""
    args = ["report", "daily", "--since", "20300101"]
    env = {**stack.env, "COLUMNS": "80"}

    def run(code: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60
        )
        return done.returncode, done.stdout, done.stderr

    return run(TYPER), run(ENTRY), run(ENTRY)
