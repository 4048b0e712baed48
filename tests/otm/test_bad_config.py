"""A bad setting, run for real: every process and command refuses to start with one line naming
the file (or variable), the key and the values it takes, exit status 2, never a traceback;
``otm up`` says so before it starts anything; ``otm statusline`` still prints its line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.processes import PROCESSES
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OTM = str(Path(sys.executable).parent / ("otm.exe" if os.name == "nt" else "otm"))
"""This installation's ``otm`` script, as a person (or honcho) runs it."""
PORT_FILE = "[api]\nport = 70000\n"
PORT_PROBLEM = "[api] port = 70000 is out of range: use 1-65535"
ENV_PROBLEM = (
    "environment variable OTM_API_PORT=99999 is out of range: use 1-65535 (or 0: any free port)"
)
USER_COMMANDS = [
    ["report", "daily"],
    ["status"],
    ["limits"],
    ["top"],
    ["doctor"],
    ["refresh"],
    ["alerts"],
]


def bad_stack(tmp_path: Path, config: str | None = None, api_port: str | None = None) -> Stack:
    """A hermetic stack (not started) with ``config`` as its config.toml and ``OTM_API_PORT``
    set to ``api_port`` (unset when None)."""
    stack = Stack(tmp_path / "state", None, {"HOME": str(tmp_path / "user")})
    stack.env.pop("OTM_API_PORT")
    if api_port is not None:
        stack.env["OTM_API_PORT"] = api_port
    if config is not None:
        (stack.home / "config.toml").write_text(config)
    return stack


def run(stack: Stack, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """``otm <args>`` in the stack's environment, to completion."""
    return subprocess.run(
        [OTM, *args],
        env=stack.env,
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def process_refusal(result: subprocess.CompletedProcess[str]) -> tuple[int, str, str, str]:
    """A process's exit status, its one stderr line's event and error, and its stdout."""
    lines = result.stderr.splitlines()
    assert 1 == len(lines), result.stderr
    entry = json.loads(lines[0])
    return result.returncode, entry["event"], entry["error"], result.stdout


def command_refusal(result: subprocess.CompletedProcess[str]) -> tuple[int, list[str], str]:
    """A command's exit status, its stderr lines and its stdout."""
    return result.returncode, result.stderr.splitlines(), result.stdout


@pytest.mark.parametrize("process", [p.name for p in PROCESSES])
def test_a_process_refuses_a_bad_file_in_one_log_line(tmp_path: Path, process: str) -> None:
    """Every `otm <process>` (as honcho runs them) exits 2 with one config_error log line
    naming the file and the key."""
    stack = bad_stack(tmp_path, PORT_FILE)
    result = run(stack, process)
    expected = f"{stack.home / 'config.toml'}: {PORT_PROBLEM}"
    assert (2, "config_error", expected, "") == process_refusal(result)
    assert "Traceback" not in result.stderr


def test_the_scheduler_refuses_a_zero_refresh(tmp_path: Path) -> None:
    """`[scheduler] refresh_seconds = 0` (30 full rescans a second) stops the scheduler."""
    stack = bad_stack(tmp_path, "[scheduler]\nrefresh_seconds = 0\n")
    result = run(stack, "scheduler")
    expected = (
        f"{stack.home / 'config.toml'}: [scheduler] refresh_seconds = 0 is out of range: "
        "use 1-86400"
    )
    assert (2, "config_error", expected, "") == process_refusal(result)


def test_the_api_refuses_a_bad_port_variable(tmp_path: Path) -> None:
    """`OTM_API_PORT=99999 otm api` exits 2 with one line naming the variable, no traceback."""
    result = run(bad_stack(tmp_path, api_port="99999"), "api")
    assert (2, "config_error", ENV_PROBLEM, "") == process_refusal(result)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("config", "api_port", "problem"),
    [(PORT_FILE, None, PORT_PROBLEM), (None, "99999", ENV_PROBLEM)],
    ids=["file", "variable"],
)
def test_up_refuses_before_starting_anything(
    tmp_path: Path, config: str | None, api_port: str | None, problem: str
) -> None:
    """`otm up` prints one error line and exits 2; no banner, no process, no stack log."""
    stack = bad_stack(tmp_path, config, api_port)
    result = run(stack, "up")
    expected = f"{stack.home / 'config.toml'}: {problem}" if config else problem
    assert (2, [f"error: {expected}"], "") == command_refusal(result)
    assert not (stack.home / "logs" / "stack.log").exists()


@pytest.mark.parametrize("command", USER_COMMANDS, ids=" ".join)
def test_a_user_command_refuses_a_bad_file_in_one_line(tmp_path: Path, command: list[str]) -> None:
    """Each user command exits 2 with `error: <file>: <key and range>` as its only output."""
    stack = bad_stack(tmp_path, PORT_FILE)
    result = run(stack, *command)
    expected = f"error: {stack.home / 'config.toml'}: {PORT_PROBLEM}"
    assert (2, [expected], "") == command_refusal(result)


def test_a_long_message_stays_one_line(tmp_path: Path) -> None:
    """A message longer than the terminal is not wrapped, and "[alerts]" is not eaten as markup."""
    stack = bad_stack(tmp_path, '[alerts]\nquiet_hours = "late"\n')
    result = run(stack, "status")
    expected = (
        f'error: {stack.home / "config.toml"}: [alerts] quiet_hours = "late" is not a span of '
        'the day: write it as "22:00-07:00" (local time, start-end, 24-hour clock), or "" for '
        "none"
    )
    assert (2, [expected], "") == command_refusal(result)


def test_statusline_still_prints_its_line(tmp_path: Path) -> None:
    """`otm statusline` never fails: with a bad config it prints a line and exits 0."""
    stack = bad_stack(tmp_path, PORT_FILE, api_port="99999")
    payload = {"model": {"display_name": "Opus 4.1"}}
    result = run(stack, "statusline", stdin=json.dumps(payload).encode())
    assert (0, "") == (result.returncode, result.stderr)
    assert result.stdout.startswith("Opus 4.1"), result.stdout
