"""``otm --help`` and ``otm report --help`` as the real CLI prints them: user commands first,
the processes apart in a panel of their own, reports in a sensible order."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.processes import PROCESSES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

FIRST_USER_COMMANDS = (
    "report",
    "limits",
    "status",
    "top",
    "tail",
    "statusline",
    "alerts",
    "refresh",
    "doctor",
    "up",
)


def _help(*args: str) -> str:
    """The help text of ``otm <args> --help``, as a 100-column pipe receives it."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "otm", *args, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=50,
        check=True,
    )
    return result.stdout


def panels(text: str) -> dict[str, list[str]]:
    """Each rich panel's title and the command names listed in it, in order."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("╭─ "):
            current = found.setdefault(line[3:].rstrip("─╮ "), [])
        elif line.startswith("╰"):
            current = None
        elif current is not None and line.startswith("│ ") and line[2:3] not in (" ", "-"):
            current.append(line[2:].split()[0])
    return found


def test_user_commands_come_first_in_the_commands_panel() -> None:
    """The Commands panel begins with the user commands, in the order people need them."""
    commands = panels(_help())["Commands"]
    assert list(FIRST_USER_COMMANDS) == commands[: len(FIRST_USER_COMMANDS)]


def test_no_process_is_listed_among_the_user_commands() -> None:
    """No process of the stack is in the Commands panel."""
    commands = panels(_help())["Commands"]
    assert [] == [p.name for p in PROCESSES if p.name in commands]


def test_processes_have_their_own_panel_in_start_order() -> None:
    """Every process is listed, in start order, in one panel that says `otm up` runs them."""
    (title,) = [t for t in panels(_help()) if t not in ("Commands", "Options")]
    assert (True, [p.name for p in PROCESSES]) == (
        "otm up runs them all" in title,
        panels(_help())[title],
    )


def test_the_processes_panel_comes_after_the_commands() -> None:
    """The processes panel is printed below the user commands."""
    text = _help()
    assert text.index("╭─ Commands") < text.index("╭─ Processes")


def test_report_help_lists_the_periods_from_short_to_long() -> None:
    """`otm report --help` lists daily, weekly, monthly, session, project, blocks, machines."""
    assert ["daily", "weekly", "monthly", "session", "project", "blocks", "machines"] == panels(
        _help("report")
    )["Commands"]


def test_report_help_names_the_common_options() -> None:
    """`otm report --help` says which options every report takes."""
    text = " ".join(_help("report").split())
    expected = "Each report takes --json or --csv, --provider, --since/--until, --tz, --order and"
    assert expected + " --machine" in text
