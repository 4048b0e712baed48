"""What ``otm service install`` writes: the systemd user unit (Linux), the launchd agent
(macOS) and the Task Scheduler command line (Windows), all running ``otm up``.

Pure functions of their inputs (the interpreter, the environment to pass, the folders), so each
platform's text is tested on any platform. The stack is ``<python> -m otm up``: with no terminal
``otm up`` prints its banner and event lines plainly (no progress bar), which the service
manager's log keeps.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

UNIT_NAME = "opentokenmonitor.service"
LAUNCHD_LABEL = "io.github.opentokenmonitor"
TASK_NAME = "OpenTokenMonitor"
DESCRIPTION = "OpenTokenMonitor: tokens, dollars and limits of AI coding CLIs"

PASSED_VARIABLES = (
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_SECURESTORAGE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_DATA_DIR",
    "GEMINI_CLI_HOME",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_PROJECT_ID",
    "CODE_ASSIST_ENDPOINT",
)
"""Where the CLIs keep their data and which endpoints they use: a service manager starts the
stack without the login shell's variables, so those set at install are written into the unit."""
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "KEY", "AUTH", "COOKIE")
"""A variable whose name holds one of these is never written to a file (names, not values:
a value cannot be told to be secret)."""
NOT_SETTINGS = ("OTM_ALERT_",)
"""``OTM_*`` variables that are not settings: the notifier sets these for an alert command."""


def service_environment(environ: Mapping[str, str], state: Path) -> dict[str, str]:
    """The variables the service runs with: the user's ``OTM_*`` settings and the CLIs' data
    variables (``PASSED_VARIABLES``) as set now, never one whose name looks like a secret, and
    ``OTM_HOME`` always, so the service and this shell use the same state folder whatever
    ``XDG_DATA_HOME`` the service manager has."""
    passed = {
        name: value
        for name, value in environ.items()
        if (name.startswith("OTM_") and not name.startswith(NOT_SETTINGS))
        or name in PASSED_VARIABLES
    }
    kept = {
        name: value
        for name, value in passed.items()
        if not any(word in name.upper() for word in SECRET_WORDS) and "\n" not in value
    }
    kept["OTM_HOME"] = str(state.absolute())
    return dict(sorted(kept.items()))


def stack_command(python: str) -> list[str]:
    """The command line of the stack, with an absolute interpreter (a venv's own path, not the
    file its link points at, so the venv's packages are used)."""
    return [os.path.abspath(python), "-m", "otm", "up"]


def _systemd_quoted(value: str, *, argument: bool) -> str:
    """``value`` as one double-quoted systemd word: backslash and quote escaped, ``%``
    (specifiers) doubled and, in a command's argument, ``$`` (variable expansion) doubled;
    systemd expands no variables in the program's own path, so a ``$`` there stays single."""
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if argument:
        text = text.replace("$", "$$")
    return f'"{text}"'


def systemd_unit(command: Sequence[str], environment: Mapping[str, str]) -> str:
    """The systemd user unit running ``command`` with ``environment``.

    Restart=on-failure restarts a stack that died, but not one that stopped on a setting
    (``otm up`` exits 2 on a bad config or a busy port: restarting cannot fix those).
    KillMode=mixed sends the stop signal to ``otm up`` alone, which stops its processes in
    order; whatever is left after TimeoutStopSec is killed.
    """
    lines = [
        "# Written by `otm service install`; `otm service uninstall` stops and removes it.",
        "[Unit]",
        f"Description={DESCRIPTION}",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart="
        + " ".join(_systemd_quoted(arg, argument=i > 0) for i, arg in enumerate(command)),
        "WorkingDirectory=%h",
        *(
            "Environment=" + _systemd_quoted(f"{name}={value}", argument=False)
            for name, value in environment.items()
        ),
        "Restart=on-failure",
        "RestartSec=10",
        "RestartPreventExitStatus=2",
        "KillMode=mixed",
        "TimeoutStopSec=20",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def systemd_unit_dir(environ: Mapping[str, str], home: Path) -> Path:
    """Where systemd looks for this user's own units: ``$XDG_CONFIG_HOME/systemd/user``, or
    ``~/.config/systemd/user`` (a relative ``XDG_CONFIG_HOME`` is ignored, as systemd does)."""
    config = environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and Path(config).is_absolute() else home / ".config"
    return base / "systemd" / "user"


def launchd_plist(
    command: Sequence[str], environment: Mapping[str, str], home: Path, logs: Path
) -> bytes:
    """The launchd agent running ``command`` at login, started again when it exits with a
    failure (``KeepAlive: SuccessfulExit = false``), its output in ``logs``."""
    import plistlib  # macOS only: kept off every other command's start

    agent = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": list(command),
        "EnvironmentVariables": dict(environment),
        "WorkingDirectory": str(home),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "StandardOutPath": str(logs / "service.out.log"),
        "StandardErrorPath": str(logs / "service.err.log"),
        "ProcessType": "Background",
    }
    return plistlib.dumps(agent)


def launchd_plist_path(home: Path) -> Path:
    """The agent's file: ``~/Library/LaunchAgents/<label>.plist``."""
    return home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


def windows_commands(command: Sequence[str]) -> dict[str, str]:
    """The Task Scheduler command lines that create, start, query and delete a task running
    ``command`` at logon (quoted the way ``schtasks /TR`` takes it)."""
    run = subprocess.list2cmdline(list(command))
    inner = run.replace('"', '\\"')
    return {
        "create": f'schtasks /Create /SC ONLOGON /TN {TASK_NAME} /TR "{inner}" /RL LIMITED /F',
        "start": f"schtasks /Run /TN {TASK_NAME}",
        "status": f"schtasks /Query /TN {TASK_NAME} /V /FO LIST",
        "remove": f"schtasks /End /TN {TASK_NAME} & schtasks /Delete /TN {TASK_NAME} /F",
    }
