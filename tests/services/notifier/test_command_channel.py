"""The command channel with real hook programs (small Python scripts run by this interpreter)."""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest

from bus.messages import Alert
from services.notifier.channels.command import CommandChannel
from tests.helpers import alert as shared_alert
from tests.helpers import wait_until


def alert(**fields: Any) -> Alert:
    """The shared threshold alert, with a body a shell would expand (it must stay text)."""
    values: dict[str, Any] = {
        "body": "Crossed 90 %; resets at 14:00 — $HOME; `rm -rf /` stays text.",
        "used_percent": 91.5,
        "resets_at": 1_700_003_600.0,
    }
    values.update(fields)
    return shared_alert(**values)


def hook(tmp_path: Path, body: str, *arguments: str) -> str:
    """The ``[alerts] command`` that runs ``body`` as a Python script with ``arguments``."""
    script = tmp_path / "hook.py"
    script.write_text(textwrap.dedent(body))
    return shlex.join([sys.executable, str(script), *arguments])


RECORDER = """
    import json, os, sys
    seen = {
        "argv": sys.argv[1:],
        "stdin": sys.stdin.read(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("OTM_ALERT_")},
    }
    with open(sys.argv[1], "w") as out:
        json.dump(seen, out)
"""


@pytest.mark.e2e
def test_the_hook_gets_the_alert_as_json_and_as_variables(tmp_path: Path) -> None:
    """stdin is the alert's JSON; OTM_ALERT_* hold its fields; exit 0 is "exit 0"."""
    out = tmp_path / "seen.json"
    channel = CommandChannel(hook(tmp_path, RECORDER, str(out)))
    sent = alert()

    delivery = channel.deliver(sent)

    assert (True, "exit 0") == (delivery.ok, delivery.answer)
    seen = json.loads(out.read_text())
    assert sent == msgspec.json.decode(seen["stdin"], type=Alert)
    assert {
        "OTM_ALERT_KEY": "threshold:claude:five_hour:1700000000:90",
        "OTM_ALERT_RULE": "threshold",
        "OTM_ALERT_PROVIDER": "claude",
        "OTM_ALERT_TITLE": "Claude 5-hour window at 91 %",
        "OTM_ALERT_BODY": "Crossed 90 %; resets at 14:00 — $HOME; `rm -rf /` stays text.",
        "OTM_ALERT_SEVERITY": "warning",
        "OTM_ALERT_WINDOW": "five_hour",
        "OTM_ALERT_USED_PERCENT": "91.5",
    } == seen["env"]


@pytest.mark.e2e
def test_an_unknown_used_percent_is_an_empty_variable(tmp_path: Path) -> None:
    """A budget alert without a used % gives OTM_ALERT_USED_PERCENT="" and an empty window."""
    out = tmp_path / "seen.json"
    channel = CommandChannel(hook(tmp_path, RECORDER, str(out)))

    assert True is channel.deliver(alert(rule="budget", window="", used_percent=None)).ok

    env = json.loads(out.read_text())["env"]
    assert ("", "") == (env["OTM_ALERT_USED_PERCENT"], env["OTM_ALERT_WINDOW"])


@pytest.mark.e2e
def test_no_shell_runs_the_command(tmp_path: Path) -> None:
    """Shell syntax in the command reaches the program as plain arguments."""
    out = tmp_path / "seen.json"
    channel = CommandChannel(hook(tmp_path, RECORDER, str(out), "$HOME", ";", "a|b", "*"))

    assert True is channel.deliver(alert()).ok

    assert [str(out), "$HOME", ";", "a|b", "*"] == json.loads(out.read_text())["argv"]


@pytest.mark.e2e
def test_a_non_zero_exit_answers_with_the_first_line_of_stderr(tmp_path: Path) -> None:
    """Exit 3 with stderr: "exit 3: <its first non-blank line, stripped>", retry True."""
    failing = """
        import sys
        sys.stdin.read()
        sys.stderr.write("\\n   webhook refused: 401 unauthorized   \\nsecond line\\n")
        sys.exit(3)
    """
    channel = CommandChannel(hook(tmp_path, failing))

    delivery = channel.deliver(alert())

    assert (False, True) == (delivery.ok, delivery.retry)
    assert "exit 3: webhook refused: 401 unauthorized" == delivery.answer


@pytest.mark.e2e
def test_a_long_stderr_line_is_trimmed_and_a_silent_failure_is_its_code(tmp_path: Path) -> None:
    """The stderr line in an answer is at most 200 characters; no stderr is just "exit N"."""
    noisy = CommandChannel(hook(tmp_path, "import sys\nsys.stderr.write('x' * 5000)\nsys.exit(1)"))
    long_answer = noisy.deliver(alert()).answer
    silent = CommandChannel(hook(tmp_path, "import sys\nsys.exit(7)"))

    assert "exit 1: " == long_answer[: len("exit 1: ")]
    assert 200 == len(long_answer) - len("exit 1: ")
    assert "exit 7" == silent.deliver(alert()).answer


@pytest.mark.e2e
def test_a_hook_past_its_time_out_is_killed_with_its_children(tmp_path: Path) -> None:
    """A hook that sleeps past a 0.5 s time-out is reported, and it and its child are gone."""
    pids = tmp_path / "pids.json"
    sleeper = f"""
        import json, os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open({str(pids)!r}, "w") as out:
            json.dump([os.getpid(), child.pid], out)
        time.sleep(60)
    """
    channel = CommandChannel(hook(tmp_path, sleeper), timeout_seconds=0.5)

    started = time.monotonic()
    delivery = channel.deliver(alert())
    elapsed = time.monotonic() - started

    assert (False, True) == (delivery.ok, delivery.retry)
    assert "timed out after 0.5 s" == delivery.answer
    assert elapsed < 3.0
    for pid in json.loads(pids.read_text()):
        wait_until(lambda pid=pid: _gone(pid), what=f"process {pid} to end")


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie waiting for its reaper counts as ended)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_missing_program_is_not_found_and_not_retried() -> None:
    """A program that is not there: "cannot run <program>: not found", retry False."""
    channel = CommandChannel("otm-no-such-hook-program --flag secret-argument")

    delivery = channel.deliver(alert())

    assert (False, False) == (delivery.ok, delivery.retry)
    assert "cannot run otm-no-such-hook-program: not found" == delivery.answer
    assert "[alerts] command" in delivery.fix
    assert "secret-argument" not in f"{delivery.answer} {delivery.fix}"


def test_a_file_that_cannot_be_run_is_not_retried(tmp_path: Path) -> None:
    """A program file without the execute bit: permission denied, retry False."""
    script = tmp_path / "hook.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)

    delivery = CommandChannel(shlex.quote(str(script))).deliver(alert())

    assert (False, False) == (delivery.ok, delivery.retry)
    assert f"cannot run {script}: permission denied" == delivery.answer


@pytest.mark.parametrize("command", ["notify-send 'unbalanced", "   "])
def test_a_command_that_cannot_be_read_is_not_retried(command: str) -> None:
    """Unbalanced quotes or nothing to run: ok False, retry False, the fix names the setting."""
    delivery = CommandChannel(command).deliver(alert())

    assert (False, False) == (delivery.ok, delivery.retry)
    assert "[alerts] command" in delivery.fix
