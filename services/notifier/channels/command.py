"""A program of the user's as a channel: ``[alerts] command``.

The command line is split like a shell would (``shlex``) but run without one, so nothing in an
alert is ever interpreted. The program gets the alert as JSON on stdin and its main fields as
``OTM_ALERT_*`` variables, on top of this process's environment; it has the configured time-out
(10 s by default), after which it is killed with every process it started (its process group).
Exit 0 is delivered; anything else is an answer with the first line the program wrote to stderr.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys

import msgspec

from bus.messages import Alert
from services.notifier.channels import Delivery

DEFAULT_TIMEOUT_SECONDS = 10.0
REAP_TIMEOUT_SECONDS = 2.0
STDERR_LIMIT = 200
FIX = "check [alerts] command in config.toml"


def alert_environment(alert: Alert) -> dict[str, str]:
    """The ``OTM_ALERT_*`` variables for ``alert`` (``OTM_ALERT_USED_PERCENT`` empty if unknown)."""
    used = "" if alert.used_percent is None else f"{alert.used_percent:g}"
    values = {
        "OTM_ALERT_KEY": alert.key,
        "OTM_ALERT_RULE": alert.rule,
        "OTM_ALERT_PROVIDER": alert.provider,
        "OTM_ALERT_TITLE": alert.title,
        "OTM_ALERT_BODY": alert.body,
        "OTM_ALERT_SEVERITY": alert.severity,
        "OTM_ALERT_WINDOW": alert.window,
        "OTM_ALERT_USED_PERCENT": used,
    }
    # An environment value cannot hold a NUL byte; no alert should, but none may stop the hook.
    return {name: value.replace("\0", "") for name, value in values.items()}


class CommandChannel:
    """Runs ``command`` (split with ``shlex``, no shell) once per alert, for ``timeout_seconds``."""

    name = "command"

    def __init__(self, command: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.command = command
        self.timeout_seconds = timeout_seconds
        self._unusable: Delivery | None = None
        try:
            self.argv = shlex.split(command)
        except ValueError as error:  # unbalanced quotes
            self.argv = []
            self._unusable = Delivery(
                ok=False,
                answer=f"cannot read [alerts] command: {error}",
                retry=False,
                fix="fix the quoting of [alerts] command in config.toml",
            )
        else:
            if not self.argv:
                self._unusable = Delivery(
                    ok=False, answer="[alerts] command is empty", retry=False, fix=FIX
                )

    @property
    def program(self) -> str:
        """The program the command runs (its first word), for answers: never its arguments."""
        return self.argv[0] if self.argv else ""

    def deliver(self, alert: Alert) -> Delivery:
        """Run the program with ``alert``; delivered when it exits 0 within the time-out."""
        if self._unusable is not None:
            return self._unusable
        try:
            return self._run(alert)
        except Exception as error:  # never raise: the notifier goes on with other channels
            return Delivery(
                ok=False, answer=f"cannot run {self.program}: {type(error).__name__}: {error}"
            )

    def close(self) -> None:
        """Nothing to release: each alert runs the program afresh."""

    def _run(self, alert: Alert) -> Delivery:
        environment = {**os.environ, **alert_environment(alert)}
        try:
            process = _start(self.argv, environment)
        except FileNotFoundError:
            return Delivery(
                ok=False, answer=f"cannot run {self.program}: not found", retry=False, fix=FIX
            )
        except PermissionError:
            return Delivery(
                ok=False,
                answer=f"cannot run {self.program}: permission denied",
                retry=False,
                fix=f"{FIX}, and that {self.program} is executable",
            )
        except OSError as error:
            return Delivery(
                ok=False,
                answer=f"cannot run {self.program}: {error.strerror or error}",
                retry=False,
                fix=FIX,
            )
        try:
            _, stderr = process.communicate(
                msgspec.json.encode(alert), timeout=self.timeout_seconds
            )
        except subprocess.TimeoutExpired:
            _kill(process)
            return Delivery(
                ok=False,
                answer=f"timed out after {self.timeout_seconds:g} s",
                fix=f"make {self.program} finish within command_timeout_seconds",
            )
        code = process.returncode
        if code == 0:
            return Delivery(ok=True, answer="exit 0")
        said = _first_line(stderr)
        # A negative code is the signal that ended it (POSIX).
        answer = f"killed by {_signal_name(-code)}" if code < 0 else f"exit {code}"
        return Delivery(
            ok=False,
            answer=f"{answer}: {said}" if said else answer,
            fix=f"see why {self.program} failed; it must exit 0",
        )


def _start(argv: list[str], environment: dict[str, str]) -> subprocess.Popen[bytes]:
    """The program in a process group of its own, so a time-out can end all it started."""
    if sys.platform == "win32":
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environment,
            creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,
        )
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment,
        start_new_session=True,
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    """End the program and its group, and reap it (bounded: a child may hold stderr open)."""
    if sys.platform == "win32":
        process.kill()
    else:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    try:
        process.communicate(timeout=REAP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        # Something outside the group holds the pipe open; the program itself is dead.
        process.wait(REAP_TIMEOUT_SECONDS)
        if process.stderr is not None:
            process.stderr.close()


def _first_line(stderr: bytes | None) -> str:
    """The first non-blank line of ``stderr``, trimmed to ``STDERR_LIMIT`` characters."""
    text = (stderr or b"").decode("utf-8", errors="replace")
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= STDERR_LIMIT else line[: STDERR_LIMIT - 1] + "…"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
