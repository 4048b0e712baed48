"""`otm up` as a person sees it: banner, quiet terminal, log file, Ctrl-C, busy port."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from services.processes import PROCESSES
from tests.e2e.stack import Stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


OTM = str(Path(sys.executable).parent / "otm")
"""This installation's ``otm`` script, as a person runs it."""


def _stack(tmp_path: Path, claude_dir: Path | None = None) -> Stack:
    home = tmp_path / "user"
    home.mkdir()
    return Stack(tmp_path / "state", claude_dir, {"HOME": str(home), "XDG_CONFIG_HOME": ""})


def _up(tmp_path: Path, *args: str, claude_dir: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [OTM, "up", *args],
        env=_stack(tmp_path, claude_dir).env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _run_a_while(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    proc = _up(tmp_path, *args)
    log = tmp_path / "state" / "logs" / "stack.log"
    wait_until(lambda: (log.exists() and '"ready"' in log.read_text()) or None, 30, "ready")
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
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
    """Ctrl-C stops the stack, prints how many processes stopped and exits 0."""
    code, out, _log = _run_a_while(tmp_path)
    assert (0, f"stack stopped: {len(PROCESSES)} processes") == (
        code,
        out.strip().splitlines()[-1].split(" ", 1)[1],
    )


def test_sigint_logs_each_process_stopped_once_without_return_codes(tmp_path: Path) -> None:
    """After Ctrl-C, stack.log says "<name> stopped" once per process and no "rc=" at all."""
    _code, _out, log = _run_a_while(tmp_path)
    lines = [line.split("| ", 1)[-1] for line in log.read_text().splitlines()]
    stopped = sorted(line for line in lines if line.endswith(" stopped"))
    assert (sorted(f"{p.name} stopped" for p in PROCESSES), []) == (
        stopped,
        [line for line in lines if "rc=" in line],
    )


def _stopped_in_log(log: Path) -> list[str]:
    """The processes stack.log says stopped, sorted."""
    lines = [line.split("| ", 1)[-1] for line in log.read_text().splitlines()]
    return sorted(line.removesuffix(" stopped") for line in lines if line.endswith(" stopped"))


def test_a_hang_up_stops_every_process(tmp_path: Path) -> None:
    """SIGHUP (the terminal window closed) stops the stack like Ctrl-C, leaving nothing behind."""
    proc = _up(tmp_path)
    log = tmp_path / "state" / "logs" / "stack.log"
    wait_until(lambda: log.exists() and '"ready"' in log.read_text(), 30, "ready")
    os.kill(proc.pid, signal.SIGHUP)
    out, _ = proc.communicate(timeout=15)
    assert (0, f"stack stopped: {len(PROCESSES)} processes", sorted(p.name for p in PROCESSES)) == (
        proc.returncode,
        out.strip().splitlines()[-1].split(" ", 1)[1],
        _stopped_in_log(log),
    )


def test_a_reader_gone_away_still_lets_ctrl_c_stop_every_process(tmp_path: Path) -> None:
    """`otm up -v | grep …` stopped with Ctrl-C: the pipe breaks, yet every process stops."""
    proc = _up(tmp_path, "--verbose")
    log = tmp_path / "state" / "logs" / "stack.log"
    wait_until(lambda: log.exists() and '"ready"' in log.read_text(), 30, "ready")
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone: the next line written breaks the pipe
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(15)
    assert sorted(p.name for p in PROCESSES) == _stopped_in_log(log)


class Tmux:
    """A real terminal: ``otm up`` in a tmux session of its own (its own server socket)."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.socket = str(tmp_path / "tmux.sock")
        self.env = env
        script = tmp_path / "up.sh"
        script.write_text(f"#!/bin/sh\nexec {OTM} up\n")
        script.chmod(0o755)
        self.tmux("new-session", "-d", "-s", "up", "-x", "100", "-y", "40", str(script))
        self.tmux("set-option", "-t", "up", "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        """Run one tmux command against this session's server; its output."""
        return subprocess.run(
            ["tmux", "-S", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout

    def screen(self) -> list[str]:
        """The pane's lines as a person sees them, blank ones left out."""
        return [line for line in self.tmux("capture-pane", "-p", "-t", "up").splitlines() if line]

    def wait_for(self, text: str, timeout: float = 60) -> list[str]:
        """The screen once a line on it contains ``text``."""
        return list(
            wait_until(
                lambda: (lambda s: s if any(text in line for line in s) else None)(self.screen()),
                timeout,
                text,
            )
        )

    def close(self) -> None:
        """End the tmux server (and whatever still runs in it)."""
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], env=self.env, timeout=10)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_ctrl_c_in_a_terminal_reads_as_one_stop(tmp_path: Path) -> None:
    """Ctrl-C in a real terminal: "stopping…", then one "stack stopped" line, no "rc=-15"."""
    term = Tmux(tmp_path, _stack(tmp_path).env)
    try:
        term.wait_for("next ")
        log = tmp_path / "state" / "logs" / "stack.log"
        wait_until(lambda: log.exists() and '"ready"' in log.read_text(), 30, "ready")
        term.tmux("send-keys", "-t", "up", "C-c")
        screen = term.wait_for("stack stopped", 30)
    finally:
        term.close()
    after = screen[next(i for i, line in enumerate(screen) if "stopping…" in line) :]
    assert (["stopping…", f"stack stopped: {len(PROCESSES)} processes"], []) == (
        [line.split(" ", 1)[1] for line in after if not line.startswith("Pane is dead")],
        [line for line in screen if "rc=" in line],
    )


def test_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A busy API port gives one line naming OTM_API_PORT and exit code 2."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        stack = _stack(tmp_path)
        stack.env["OTM_API_PORT"] = str(port)
        result = subprocess.run(
            [OTM, "up"],
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


def test_a_second_otm_up_says_already_running(tmp_path: Path) -> None:
    """`otm up` on a state folder whose stack runs names the running one and exits 1."""
    env = _stack(tmp_path).env
    first = subprocess.Popen(
        [OTM, "up"], env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        log = tmp_path / "state" / "logs" / "stack.log"
        wait_until(lambda: log.exists() and '"store"' in log.read_text(), 30, "the first store")
        again = subprocess.run([OTM, "up"], env=env, capture_output=True, text=True, timeout=30)
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.wait(timeout=15)
    (line,) = again.stdout.splitlines()
    assert (1, "already running for") == (again.returncode, line[: len("already running for")])


class Output:
    """The terminal output of a running `otm up`, collected line by line as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first line containing ``text`` (fail the test if none comes in time)."""
        found = wait_until(
            lambda: next((line for line in self.lines if text in line), None), timeout, text
        )
        return str(found)

    def stop(self) -> int:
        """SIGINT the whole group and return the exit code."""
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.finish()

    def finish(self) -> int:
        """Wait for the exit and the last line; the exit code."""
        code = self.proc.wait(15)
        self.reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code


def _corpus_up(tmp_path: Path) -> tuple[Path, Output]:
    from services.demo.corpus.claude import generate

    root = tmp_path / "claude"
    generate(root, size_mb=3, seed=4)
    return root, Output(_up(tmp_path, claude_dir=root))


def test_banner_names_the_logs_found(tmp_path: Path) -> None:
    """With Claude Code logs, the banner's data line names their root, not demo data."""
    root, out = _corpus_up(tmp_path)
    try:
        line = out.wait_for("data ")
    finally:
        out.stop()
    assert f"data       Claude Code: {root / 'projects'}" == line


def test_first_ingest_ends_with_a_caught_up_line(tmp_path: Path) -> None:
    """The first ingest of the corpus is announced, then one "caught up" line with its files."""
    root, out = _corpus_up(tmp_path)
    try:
        started = out.wait_for(" reading ")
        done = out.wait_for(" caught up: ")
    finally:
        out.stop()
    files = len(list((root / "projects").rglob("*.jsonl")))
    assert (f"reading {files:,} files", f"caught up: {files:,} files") == (
        started.split(" ", 1)[1].split(",")[0],
        done.split(" ", 1)[1].split(",")[0],
    )


def test_with_real_logs_every_process_but_the_demo_runs(tmp_path: Path) -> None:
    """With Claude Code logs the idle demo is not started: the stack stops seven processes."""
    _root, out = _corpus_up(tmp_path)
    try:
        out.wait_for(" caught up: ")
    finally:
        out.stop()
    expected = sorted(p.name for p in PROCESSES if p.name != "demo")
    assert expected == _stopped_in_log(tmp_path / "state" / "logs" / "stack.log")


def _demo_up(tmp_path: Path) -> Output:
    return Output(_up(tmp_path))


def test_demo_alert_prints_one_line(tmp_path: Path) -> None:
    """An alert the demo raises prints one time-stamped line of at most 80 columns."""
    out = _demo_up(tmp_path)
    try:
        line = out.wait_for("(demo data)")
    finally:
        out.stop()
    assert (True, True) == (len(line) <= 80, line[:5].replace(":", "").isdigit())


def test_a_process_that_dies_is_named_with_its_log(tmp_path: Path) -> None:
    """A killed process is named in one line with the log's path; the stack stops, exit 1."""
    out = _demo_up(tmp_path)
    log = tmp_path / "state" / "logs" / "stack.log"
    pid = wait_until(
        lambda: log.exists() and re.search(r"watcher started \(pid=(\d+)\)", log.read_text()),
        30,
        "the watcher's pid",
    ).group(1)
    out.wait_for("next ")  # the banner is out
    os.killpg(int(pid), signal.SIGKILL)  # its shell and the watcher: honcho's process group
    code = out.finish()
    died = [line.split(" ", 1)[1] for line in out.lines if "watcher" in line]
    others = len(PROCESSES) - 1
    assert (
        1,
        [
            f"watcher failed: killed by SIGKILL: see {log}",
            f"stack stopped: watcher failed; {others} other processes stopped",
        ],
    ) == (code, died)
