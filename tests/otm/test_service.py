"""``otm service install | uninstall | status``: the systemd user unit (checked by
``systemd-analyze --user verify``, and run by a real ``systemd --user`` where the machine can
start one), the launchd agent (rendered and parsed back), the Windows instructions.

Every test runs in the hermetic home of ``tests/conftest.py`` with ``XDG_RUNTIME_DIR`` pointing
at an empty folder of its own, so ``systemctl --user`` can never reach the user manager of
whoever runs the suite.
"""

from __future__ import annotations

import json
import os
import plistlib
import shlex
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from bus.lock import is_held
from otm import service_files as files
from tests.e2e.stack import free_port, wait_until

with warnings.catch_warnings():
    # typer's import touches click.utils.get_binary_stream, deprecated in Click 8.3.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from otm.cli import app

UNIT = "opentokenmonitor.service"


@pytest.fixture(autouse=True)
def runtime_dir(hermetic: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty private ``XDG_RUNTIME_DIR``: no user manager (or its bus) is found there."""
    path = hermetic / "run"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


def unit_path() -> Path:
    """Where the unit must be: under this test's ``XDG_CONFIG_HOME``."""
    return Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / UNIT


def otm(*args: str) -> Any:
    """Run ``otm <args>`` in this process (the typer app); the click result."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def verify(path: Path, runtime: Path) -> tuple[int, str]:
    """``systemd-analyze --user verify <path>``: its exit status and everything it printed
    (it exits 0 on a key it ignores, so a clean unit is status 0 and no output)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package has it)")
    done = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        timeout=60,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def unit_lines(key: str) -> list[str]:
    """The values of every ``key=`` line of the installed unit."""
    prefix = f"{key}="
    text = unit_path().read_text()
    return [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]


def unit_command_and_environment() -> tuple[list[str], dict[str, str]]:
    """ExecStart's words and the Environment= variables of the installed unit, unquoted the
    way systemd does for what this file holds (double quotes, backslashes, doubled ``%``)."""
    command = [w.replace("%%", "%") for w in shlex.split(unit_lines("ExecStart")[0])]
    environment = {}
    for value in unit_lines("Environment"):
        name, _, text = shlex.split(value)[0].replace("%%", "%").partition("=")
        environment[name] = text
    return command, environment


# -- install, status, uninstall without a user manager ----------------------------------------


def test_install_writes_the_unit_under_xdg_config_home() -> None:
    """``install`` writes ``$XDG_CONFIG_HOME/systemd/user/opentokenmonitor.service``."""
    result = otm("service", "install")
    assert (0, True) == (result.exit_code, unit_path().is_file())


def test_install_honours_home_without_xdg_config_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``XDG_CONFIG_HOME`` the unit goes to ``~/.config/systemd/user``."""
    monkeypatch.delenv("XDG_CONFIG_HOME")
    otm("service", "install")
    assert True is (Path.home() / ".config" / "systemd" / "user" / UNIT).is_file()


def test_install_without_a_user_manager_prints_the_commands_to_run() -> None:
    """With no user systemd reachable, ``install`` says so and prints the commands, exit 0."""
    result = otm("service", "install")
    assert (0, True, True) == (
        result.exit_code,
        "no user systemd reachable here" in result.output,
        "  systemctl --user daemon-reload\n"
        "  systemctl --user enable --now opentokenmonitor.service\n" in result.output,
    )


def test_install_no_start_writes_only() -> None:
    """``--no-start`` writes the unit and asks no manager (it does not report one missing)."""
    result = otm("service", "install", "--no-start")
    assert (0, True, False) == (
        result.exit_code,
        unit_path().is_file(),
        "reachable" in result.output,
    )


def test_install_fails_when_the_unit_cannot_be_written() -> None:
    """A unit folder that is a file: ``install`` names the path and exits 1."""
    unit_path().parent.parent.mkdir(parents=True)
    unit_path().parent.write_text("not a folder")
    result = CliRunner().invoke(app, ["service", "install"])
    assert (1, True) == (result.exit_code, "cannot write" in result.stderr)


def test_install_with_a_bad_setting_writes_nothing(hermetic: Path) -> None:
    """A config the stack would not start with: exit 2 and no unit (no restart loop)."""
    (hermetic / "otm").mkdir(exist_ok=True)
    (hermetic / "otm" / "config.toml").write_text("[api]\nport = 99999\n")
    result = otm("service", "install")
    assert (2, False) == (result.exit_code, unit_path().exists())


def test_status_json_after_install() -> None:
    """Installed, not enabled (no wants link), active unknown without a manager, the path."""
    otm("service", "install")
    report = json.loads(otm("service", "status", "--json").output)
    assert {
        "installed": True,
        "enabled": False,
        "active": None,
        "reachable": False,
        "path": str(unit_path()),
    } == {k: report[k] for k in ("installed", "enabled", "active", "reachable", "path")}


def test_status_says_enabled_from_the_wants_link() -> None:
    """Without a manager, enabled is read from ``default.target.wants`` (what enable makes)."""
    otm("service", "install")
    wants = unit_path().parent / "default.target.wants"
    wants.mkdir()
    (wants / UNIT).symlink_to(unit_path())
    report = json.loads(otm("service", "status", "--json").output)
    assert True is report["enabled"]


def test_status_text_before_install() -> None:
    """Text status: not installed, and the unit's path."""
    output = otm("service", "status").output
    assert (True, True) == ("installed  no\n" in output, f"file       {unit_path()}\n" in output)


def test_uninstall_removes_the_unit_and_its_wants_link() -> None:
    """``uninstall`` removes the unit and the link ``enable`` made; status: not installed."""
    otm("service", "install")
    wants = unit_path().parent / "default.target.wants"
    wants.mkdir()
    (wants / UNIT).symlink_to(unit_path())
    result = otm("service", "uninstall")
    report = json.loads(otm("service", "status", "--json").output)
    assert (0, False, False, False) == (
        result.exit_code,
        unit_path().exists(),
        (wants / UNIT).is_symlink(),
        report["installed"],
    )


def test_uninstall_when_not_installed_says_so() -> None:
    """``uninstall`` with nothing installed says so and exits 0."""
    result = otm("service", "uninstall")
    assert (0, f"not installed: no {unit_path()}\n") == (result.exit_code, result.output)


# -- what the unit says -----------------------------------------------------------------------


def test_installed_unit_passes_systemd_analyze_verify(runtime_dir: Path) -> None:
    """``systemd-analyze --user verify`` finds nothing to say about the installed unit."""
    otm("service", "install")
    assert (0, "") == verify(unit_path(), runtime_dir)


def test_verify_reports_a_broken_unit(tmp_path: Path, runtime_dir: Path) -> None:
    """The check above can fail: an unknown key and a missing program are reported."""
    broken = tmp_path / "broken.service"
    broken.write_text("[Service]\nExecStart=/nonexistent/python -m otm up\nRestrat=always\n")
    _code, output = verify(broken, runtime_dir)
    assert (True, True) == ("Unknown key 'Restrat'" in output, "/nonexistent/python" in output)


def test_quoted_interpreter_path_passes_verify(tmp_path: Path, runtime_dir: Path) -> None:
    """An interpreter under a folder with a space, ``%`` and ``$`` is quoted so systemd finds
    it (verify checks that ExecStart's program exists)."""
    folder = tmp_path / "my $venv 100%"
    folder.mkdir()
    (folder / "python").symlink_to(sys.executable)
    unit = tmp_path / UNIT
    unit.write_text(files.systemd_unit(files.stack_command(str(folder / "python")), {}))
    assert (0, "") == verify(unit, runtime_dir)


def test_unit_runs_otm_up_with_this_absolute_interpreter() -> None:
    """ExecStart is this interpreter's absolute path, ``-m otm up``."""
    otm("service", "install")
    assert [f'"{os.path.abspath(sys.executable)}" "-m" "otm" "up"'] == unit_lines("ExecStart")


def test_unit_restarts_on_failure_only() -> None:
    """Restart=on-failure, and not after exit 2 (a setting to fix, not a crash)."""
    otm("service", "install")
    assert (["on-failure"], ["2"]) == (
        unit_lines("Restart"),
        unit_lines("RestartPreventExitStatus"),
    )


def test_unit_is_wanted_by_the_login() -> None:
    """``enable`` hooks it to ``default.target``: it starts at every login."""
    otm("service", "install")
    assert ["default.target"] == unit_lines("WantedBy")


def test_environment_escapes_quotes_backslashes_and_percent() -> None:
    """An Environment= value is one double-quoted word: ``\\``, ``"`` escaped, ``%`` doubled."""
    text = files.systemd_unit(["/p"], {"OTM_HOME": 'a"b\\c 5%'})
    assert ['"OTM_HOME=a\\"b\\\\c 5%%"'] == [
        line.removeprefix("Environment=")
        for line in text.splitlines()
        if line.startswith("Environment=")
    ]


def test_unit_passes_settings_and_data_variables_but_no_secrets(
    monkeypatch: pytest.MonkeyPatch, hermetic: Path
) -> None:
    """OTM_* settings, CLAUDE_CONFIG_DIR, CODEX_HOME, GEMINI_DATA_DIR go in; OTM_HOME is the
    state folder; names of secrets and the notifier's OTM_ALERT_* stay out."""
    settings = {
        "OTM_API_PORT": "8790",
        "CLAUDE_CONFIG_DIR": "/data/claude",
        "CODEX_HOME": "/data/codex",
        "GEMINI_DATA_DIR": "/data/gemini",
        "OTM_API_TOKEN": "s3cret" * 6,  # long enough for the api to take it
        "ANTHROPIC_API_KEY": "sk-x",
        "OTM_ALERT_TITLE": "x",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    otm("service", "install")
    assert {
        "CLAUDE_CONFIG_DIR": "/data/claude",
        "CODEX_HOME": "/data/codex",
        "GEMINI_DATA_DIR": "/data/gemini",
        "OTM_API_PORT": "8790",
        "OTM_HOME": str(hermetic / "otm"),
    } == unit_command_and_environment()[1]


def test_no_secret_value_is_in_the_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token's value is nowhere in the written file."""
    monkeypatch.setenv("OTM_API_TOKEN", "s3cret-value-" * 3)  # long enough for the api
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "oauth-value")
    otm("service", "install")
    text = unit_path().read_text()
    assert (False, False) == ("s3cret-value-" * 3 in text, "oauth-value" in text)


# -- macOS and Windows, rendered here ---------------------------------------------------------


def test_launchd_agent_parses_back_with_its_keys(tmp_path: Path) -> None:
    """The plist is valid (plistlib reads it back): label, command, RunAtLoad, KeepAlive on
    failure, environment and log paths under the state folder's logs/."""
    logs = tmp_path / "state" / "logs"
    body = files.launchd_plist(
        ["/v/bin/python", "-m", "otm", "up"], {"OTM_HOME": "/s"}, tmp_path, logs
    )
    agent = plistlib.loads(body)
    assert {
        "Label": "io.github.opentokenmonitor",
        "ProgramArguments": ["/v/bin/python", "-m", "otm", "up"],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "EnvironmentVariables": {"OTM_HOME": "/s"},
        "StandardOutPath": str(logs / "service.out.log"),
        "StandardErrorPath": str(logs / "service.err.log"),
    } == {
        k: agent[k]
        for k in (
            "Label",
            "ProgramArguments",
            "RunAtLoad",
            "KeepAlive",
            "EnvironmentVariables",
            "StandardOutPath",
            "StandardErrorPath",
        )
    }


def test_launchd_agent_lives_in_launch_agents(tmp_path: Path) -> None:
    """The agent's file is ``~/Library/LaunchAgents/<label>.plist``."""
    assert (
        tmp_path / "Library" / "LaunchAgents" / "io.github.opentokenmonitor.plist"
    ) == files.launchd_plist_path(tmp_path)


def test_windows_task_runs_the_quoted_interpreter_at_logon() -> None:
    """schtasks creates an ONLOGON task whose /TR quotes an interpreter path with spaces."""
    command = files.windows_commands([r"C:\Program Files\Py\python.exe", "-m", "otm", "up"])
    assert (
        "schtasks /Create /SC ONLOGON /TN OpenTokenMonitor "
        '/TR "\\"C:\\Program Files\\Py\\python.exe\\" -m otm up" /RL LIMITED /F'
    ) == command["create"]


def test_install_on_windows_prints_the_task_scheduler_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Windows ``install`` writes nothing and prints the schtasks commands, exit 0."""
    monkeypatch.setattr(sys, "platform", "win32")
    result = otm("service", "install")
    assert (0, True, False) == (
        result.exit_code,
        "schtasks /Create /SC ONLOGON /TN OpenTokenMonitor" in result.output,
        unit_path().exists(),
    )


# -- the unit's command really runs the stack -------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_units_command_runs_the_stack_and_stops_cleanly(
    monkeypatch: pytest.MonkeyPatch, hermetic: Path
) -> None:
    """The unit's ExecStart, with only its Environment= and HOME, serves the api on the port
    set at install, and SIGTERM (KillMode=mixed: to it alone) stops every process of the
    stack (the eight of services.processes and none left behind), exit 0."""
    port = free_port()
    monkeypatch.setenv("OTM_API_PORT", str(port))
    monkeypatch.setenv("OTM_DEMO", "1")
    otm("service", "install", "--no-start")
    monkeypatch.delenv("OTM_API_PORT")
    monkeypatch.delenv("OTM_DEMO")
    command, environment = unit_command_and_environment()
    env = {"HOME": os.environ["HOME"], "PATH": "/usr/bin:/bin", **environment}
    stack = subprocess.Popen(
        command, env=env, cwd=env["HOME"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=2).is_success
            except httpx.HTTPError:
                return False

        wait_until(answers, 120, "the api of the stack the unit runs")
        processes = psutil.Process(stack.pid).children(recursive=True)
        stack.send_signal(signal.SIGTERM)
        code = stack.wait(60)
        _gone, alive = psutil.wait_procs(processes, timeout=10)
    finally:
        if stack.poll() is None:
            stack.kill()
            stack.wait()
    store_lock = hermetic / "otm" / "run" / "store.lock"
    assert (0, True, [], False) == (code, len(processes) >= 8, alive, is_held(store_lock))


# -- a real systemd --user, where the machine can run one -------------------------------------


def booted_with_systemd() -> bool:
    """Whether this machine runs systemd as its init (``sd_booted``): ``systemd --user``
    refuses to start otherwise."""
    return Path("/run/systemd/system").is_dir()


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(
    not booted_with_systemd(),
    reason="not booted with systemd (no /run/systemd/system): `systemd --user` refuses to run "
    "('Trying to run as user instance, but the system has not been booted with systemd')",
)
def test_a_real_user_manager_starts_and_stops_the_stack(
    monkeypatch: pytest.MonkeyPatch, runtime_dir: Path
) -> None:
    """A private ``systemd --user`` (this test's HOME and XDG_RUNTIME_DIR): install enables and
    starts the unit (active), status says so, uninstall stops it and removes the file."""
    manager = subprocess.Popen(
        ["/usr/lib/systemd/systemd", "--user"],
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        socket = runtime_dir / "systemd" / "private"
        if not wait_for(lambda: socket.exists() or manager.poll() is not None, 30):
            pytest.skip("systemd --user did not open its private socket within 30 s")
        if manager.poll() is not None:
            out = manager.stdout.read().decode(errors="replace") if manager.stdout else ""
            pytest.skip(f"systemd --user cannot run here: {out.strip()[-300:]}")
        monkeypatch.setenv("OTM_API_PORT", str(free_port()))
        monkeypatch.setenv("OTM_DEMO", "1")
        installed = otm("service", "install")
        wait_until(
            lambda: (
                subprocess.run(
                    ["systemctl", "--user", "is-active", UNIT], capture_output=True, text=True
                ).stdout.strip()
                == "active"
            ),
            60,
            "the unit to be active",
        )
        report = json.loads(otm("service", "status", "--json").output)
        removed = otm("service", "uninstall")
        state = subprocess.run(
            ["systemctl", "--user", "is-active", UNIT], capture_output=True, text=True
        ).stdout.strip()
        assert (0, True, True, True, 0, False, "inactive") == (
            installed.exit_code,
            report["installed"],
            report["enabled"],
            report["active"],
            removed.exit_code,
            unit_path().exists(),
            state,
        )
    finally:
        manager.terminate()
        try:
            manager.wait(20)
        except subprocess.TimeoutExpired:
            manager.kill()
            manager.wait()


def wait_for(predicate: Any, seconds: float) -> bool:
    """Poll ``predicate`` for up to ``seconds``; whether it came true."""
    try:
        wait_until(predicate, seconds, "")
    except AssertionError:
        return False
    return True
