"""``otm service install | uninstall | status``: the stack in the background, started at login
and again after a failure, by the platform's own service manager (a systemd user unit on
Linux, a launchd agent on macOS; on Windows the Task Scheduler commands are printed).

What is written comes from ``otm.service_files``; here the file is put in place and the service
manager asked to load, start, stop or describe it. Where no manager can be reached (no user
systemd in this session) the file is still written and the exact commands to run are printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from otm import service_files as files

service_app = typer.Typer(
    help="Run the stack in the background at login (systemd user unit, launchd agent).",
    no_args_is_help=True,
)
SYSTEMCTL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Answer:
    """What a service manager command did: its exit status and its output (both streams)."""

    code: int
    output: str

    @property
    def ok(self) -> bool:
        """Whether it exited 0."""
        return self.code == 0


def ask(argv: Sequence[str]) -> Answer:
    """Run one service manager command; a missing program is exit status 127."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT, check=False
        )
    except FileNotFoundError:
        return Answer(127, f"{argv[0]}: not found")
    except subprocess.TimeoutExpired:
        return Answer(124, f"{' '.join(argv)}: no answer in {SYSTEMCTL_TIMEOUT:.0f} s")
    return Answer(done.returncode, (done.stdout + done.stderr).strip())


def _say(text: str) -> None:
    typer.echo(text)


def _fail(message: str, code: int = 1) -> int:
    from otm.report_run import print_error

    print_error(message)
    return code


def _state_and_check() -> Path | None:
    """The state folder, after checking the settings the service will start with (a unit
    that cannot start would only restart in a loop); ``None`` after printing the error."""
    from services.runtime.config import ConfigError
    from services.runtime.installation import load_runtime

    try:
        return load_runtime().state
    except ConfigError as exc:
        _fail(str(exc), 2)
        return None


def _home() -> Path:
    return Path.home()


class Systemd:
    """The systemd user manager of this login (``systemctl --user``)."""

    def __init__(self) -> None:
        self.unit_dir = files.systemd_unit_dir(os.environ, _home())
        self.path = self.unit_dir / files.UNIT_NAME
        self.wants = self.unit_dir / "default.target.wants" / files.UNIT_NAME

    def systemctl(self, *args: str) -> Answer:
        """``systemctl --user <args>``."""
        return ask(["systemctl", "--user", *args])

    def reachable(self) -> Answer:
        """Whether a user manager answers (``ok``), else why not (its output)."""
        return self.systemctl("show", "--property=Version", "--value")

    def install(self, no_start: bool) -> int:
        """Write the unit; reload, enable and start it when a user manager is reachable."""
        state = _state_and_check()
        if state is None:
            return 2
        environment = files.service_environment(os.environ, state)
        text = files.systemd_unit(files.stack_command(sys.executable), environment)
        try:
            self.unit_dir.mkdir(parents=True, exist_ok=True)
            self.path.write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write {self.path}: {exc.strerror or exc}")
        _say(f"wrote {self.path}")
        _say(f"  runs     {' '.join(files.stack_command(sys.executable))}")
        _say(f"  passes   {', '.join(environment)}")
        steps = [("daemon-reload",), ("enable", "--now", files.UNIT_NAME)]
        if no_start:
            _say("not started (--no-start); to start it now and at every login:")
            _commands(steps)
            return 0
        reach = self.reachable()
        if not reach.ok:
            _say(f"no user systemd reachable here ({reach.output or 'no answer'}): not started.")
            _say("From your login session, start it now and at every login with:")
            _commands(steps)
            return 0
        was_active = self.systemctl("is-active", files.UNIT_NAME).output == "active"
        for step in steps:
            answer = self.systemctl(*step)
            if not answer.ok:
                return _fail(f"systemctl --user {' '.join(step)}: {answer.output}")
        if was_active:  # enable --now leaves a running stack on the old unit
            answer = self.systemctl("restart", files.UNIT_NAME)
            if not answer.ok:
                return _fail(f"systemctl --user restart {files.UNIT_NAME}: {answer.output}")
        _say(f"enabled and started {files.UNIT_NAME}")
        _say(f"  logs     journalctl --user -u {files.UNIT_NAME}, and the state folder's logs/")
        return 0

    def uninstall(self) -> int:
        """Stop and disable the unit when a manager is reachable, then remove its file."""
        if not self.path.exists() and not self.wants.is_symlink():
            _say(f"not installed: no {self.path}")
            return 0
        reach = self.reachable()
        if reach.ok:
            answer = self.systemctl("disable", "--now", files.UNIT_NAME)
            if not answer.ok:
                return _fail(f"systemctl --user disable --now {files.UNIT_NAME}: {answer.output}")
            _say(f"stopped and disabled {files.UNIT_NAME}")
        try:
            # disable removes this link; without a manager it is removed here, by hand
            self.wants.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            return _fail(f"cannot remove {self.path}: {exc.strerror or exc}")
        _say(f"removed {self.path}")
        if reach.ok:
            self.systemctl("daemon-reload")
        else:
            _say(f"no user systemd reachable here ({reach.output or 'no answer'}): if it runs")
            _say("the stack, stop it from your login session with:")
            _commands([("stop", files.UNIT_NAME), ("daemon-reload",)])
        return 0

    def status(self) -> dict[str, Any]:
        """Installed, enabled and active, from the manager when it answers, else from the
        files (enabled: the ``default.target.wants`` link; active: unknown)."""
        installed = self.path.is_file()
        reach = self.reachable()
        report: dict[str, Any] = {
            "manager": "systemd",
            "name": files.UNIT_NAME,
            "path": str(self.path),
            "installed": installed,
            "reachable": reach.ok,
        }
        if reach.ok:
            enabled = self.systemctl("is-enabled", files.UNIT_NAME).output
            active = self.systemctl("is-active", files.UNIT_NAME).output
            report.update(enabled=enabled == "enabled", active=active == "active", state=active)
        else:
            report.update(
                enabled=self.wants.is_symlink(), active=None, state=None, why=reach.output
            )
        return report


def _commands(steps: Sequence[Sequence[str]]) -> None:
    for step in steps:
        _say(f"  systemctl --user {' '.join(step)}")


class Launchd:
    """launchd's per-user GUI domain (``launchctl ... gui/<uid>``)."""

    def __init__(self) -> None:
        self.path = files.launchd_plist_path(_home())
        self.domain = f"gui/{os.getuid()}" if hasattr(os, "getuid") else "gui/0"
        self.target = f"{self.domain}/{files.LAUNCHD_LABEL}"

    def install(self, no_start: bool) -> int:
        """Write the agent; (re)load it into the login's domain unless ``no_start``."""
        state = _state_and_check()
        if state is None:
            return 2
        logs = state / "logs"
        environment = files.service_environment(os.environ, state)
        command = files.stack_command(sys.executable)
        body = files.launchd_plist(command, environment, _home(), logs)
        try:
            logs.mkdir(parents=True, exist_ok=True)  # launchd makes the log files, not folders
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(body)
        except OSError as exc:
            return _fail(f"cannot write {self.path}: {exc.strerror or exc}")
        _say(f"wrote {self.path}")
        _say(f"  runs     {' '.join(command)}")
        _say(f"  logs     {logs}/service.out.log, service.err.log")
        bootstrap = ["launchctl", "bootstrap", self.domain, str(self.path)]
        if no_start:
            _say("not started (--no-start); to start it now and at every login:")
            _say(f"  {' '.join(bootstrap)}")
            return 0
        ask(["launchctl", "bootout", self.target])  # a loaded older agent: replaced
        answer = ask(bootstrap)
        if not answer.ok:
            return _fail(f"{' '.join(bootstrap)}: {answer.output}")
        _say(f"loaded {files.LAUNCHD_LABEL} into {self.domain}: it runs now and at every login")
        return 0

    def uninstall(self) -> int:
        """Unload the agent and remove its file."""
        if not self.path.exists():
            _say(f"not installed: no {self.path}")
            return 0
        answer = ask(["launchctl", "bootout", self.target])
        if answer.ok:
            _say(f"stopped and unloaded {files.LAUNCHD_LABEL}")
        try:
            self.path.unlink()
        except OSError as exc:
            return _fail(f"cannot remove {self.path}: {exc.strerror or exc}")
        _say(f"removed {self.path}")
        return 0

    def status(self) -> dict[str, Any]:
        """Installed (the file), enabled (loaded in the login's domain), active (running)."""
        answer = ask(["launchctl", "print", self.target])
        running = answer.ok and any(
            line.strip() == "state = running" for line in answer.output.splitlines()
        )
        return {
            "manager": "launchd",
            "name": files.LAUNCHD_LABEL,
            "path": str(self.path),
            "installed": self.path.is_file(),
            "reachable": answer.code != 127,
            "enabled": answer.ok,
            "active": running,
            "state": "running" if running else ("loaded" if answer.ok else "not loaded"),
        }


def windows_instructions() -> str:
    """What to run on Windows: Task Scheduler's command lines for a task at logon."""
    commands = files.windows_commands(files.stack_command(sys.executable))
    return "\n".join(
        [
            "On Windows, otm does not install the task itself. In a Command Prompt, run:",
            f"  {commands['create']}",
            f"  {commands['start']}",
            "(if Windows answers 'Access is denied', run the first one from an elevated prompt).",
            "The task runs with your user's environment: set OTM_* and the CLIs' variables",
            "with `setx NAME value` so it sees them. Check it with:",
            f"  {commands['status']}",
            "Remove it with:",
            f"  {commands['remove']}",
        ]
    )


def _manager() -> Systemd | Launchd | None:
    if sys.platform.startswith("linux"):
        return Systemd()
    if sys.platform == "darwin":
        return Launchd()
    return None


def _unsupported() -> int:
    if sys.platform == "win32":
        _say(windows_instructions())
        return 0
    return _fail(f"no service manager known for {sys.platform}: run `otm up` yourself")


@service_app.command("install")
def install_command(
    no_start: Annotated[
        bool, typer.Option("--no-start", help="Write the unit or agent only; start nothing.")
    ] = False,
) -> None:
    """Write the systemd user unit (Linux) or launchd agent (macOS) running `otm up`, and
    start it now and at every login; on Windows print the Task Scheduler commands."""
    manager = _manager()
    raise typer.Exit(_unsupported() if manager is None else manager.install(no_start))


@service_app.command("uninstall")
def uninstall_command() -> None:
    """Stop and disable the service, and remove its unit or agent."""
    manager = _manager()
    raise typer.Exit(_unsupported() if manager is None else manager.uninstall())


def _yes_no(value: bool | None, unknown: str) -> str:
    return unknown if value is None else ("yes" if value else "no")


def status_lines(report: dict[str, Any]) -> list[str]:
    """``otm service status`` for people: installed, enabled, active and where the file is."""
    unknown = f"unknown: no user {report['manager']} reachable"
    active = _yes_no(report["active"], unknown)
    if report["active"] is False and report.get("state"):
        active += f" ({report['state']})"
    lines = [
        f"service    {report['name']} ({report['manager']})",
        f"file       {report['path']}",
        f"installed  {_yes_no(report['installed'], unknown)}",
        f"enabled    {_yes_no(report['enabled'], unknown)}",
        f"active     {active}",
    ]
    if report.get("why"):
        lines.append(f"           ({report['why']})")
    return lines


@service_app.command("status")
def status_command(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """Whether the service is installed, enabled and active, and where its file is."""
    manager = _manager()
    if manager is None:
        raise typer.Exit(_unsupported())
    report = manager.status()
    if json_output:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    for line in status_lines(report):
        _say(line)
