"""`otm up` as a person sees it: banner, quiet terminal, log file, Ctrl-C, busy port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def _up(tmp_path: Path, *args: str) -> tuple[Stack, subprocess.Popen[str]]:
    home = tmp_path / "user"
    home.mkdir()
    stack = Stack(tmp_path / "state", None, {"HOME": str(home), "XDG_CONFIG_HOME": ""})
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "otm"), "up", *args],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return stack, proc


def _run_a_while(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    _stack, proc = _up(tmp_path, *args)
    log = tmp_path / "state" / "logs" / "stack.log"
    wait_until(lambda: (log.exists() and '"ready"' in log.read_text()) or None, 30, "ready")
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(15)
    return proc.returncode, out, log


def test_banner_has_url_and_demo_data(tmp_path: Path) -> None:
    """The banner names the dashboard URL and says demo data in demo mode."""
    _code, out, _log = _run_a_while(tmp_path)
    assert "http://127.0.0.1:" in out
    assert "demo data" in out


def test_log_file_gets_json_lines_terminal_does_not(tmp_path: Path) -> None:
    """Process JSON lines go to stack.log and not to the terminal."""
    _code, out, log = _run_a_while(tmp_path)
    assert '"ready"' in log.read_text()
    assert '"ready"' not in out


def test_verbose_shows_process_lines(tmp_path: Path) -> None:
    """`--verbose` also shows the process lines on the terminal."""
    _code, out, _log = _run_a_while(tmp_path, "--verbose")
    assert '"ready"' in out


def test_sigint_stops_with_exit_0(tmp_path: Path) -> None:
    """Ctrl-C stops the stack, prints "stopped" and exits 0."""
    code, out, _log = _run_a_while(tmp_path)
    assert (0, "stopped") == (code, out.strip().splitlines()[-1])


def test_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A busy API port gives one line naming OTM_API_PORT and exit code 2."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        home = tmp_path / "user"
        home.mkdir()
        stack = Stack(tmp_path / "state", None, {"HOME": str(home), "XDG_CONFIG_HOME": ""})
        stack.env["OTM_API_PORT"] = str(held.getsockname()[1])
        result = subprocess.run(
            [str(Path(sys.executable).parent / "otm"), "up"],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert 2 == result.returncode
    assert [
        f"port {port} is in use: set OTM_API_PORT or [api] port in "
        f"{tmp_path / 'state' / 'config.toml'}"
    ] == result.stdout.splitlines()
