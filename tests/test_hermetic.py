"""Every test runs hermetically: its own HOME, XDG dirs and OTM_HOME, no CLI data root from the
machine, and no real process outside ``e2e`` tests (see tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bus.endpoints import state_dir
from services.runtime.cli_roots import claude_roots, codex_roots, gemini_roots
from services.runtime.installation import load_runtime
from tests.e2e.stack import Stack

CLI_VARIABLES = (
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_SECURESTORAGE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "GEMINI_DATA_DIR",
)
XDG_VARIABLES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
OTM = Path(sys.executable).parent / "otm"


def test_home_is_the_tests_own_directory(hermetic: Path, real_home: Path) -> None:
    """HOME (and so ``~``) is a fresh directory of this test, not the machine's home."""
    assert (hermetic / "home", False) == (Path.home(), Path.home() == real_home)
    assert [".cache", ".config", ".local"] == sorted(p.name for p in Path.home().iterdir())


def test_xdg_dirs_are_inside_the_temporary_home(hermetic: Path) -> None:
    """Each XDG base directory is set, exists and lies inside the test's home."""
    homes = [Path(os.environ[name]) for name in XDG_VARIABLES]
    assert [True] * 4 == [p.is_dir() and p.is_relative_to(hermetic / "home") for p in homes]


def test_cli_data_roots_are_unset() -> None:
    """No variable naming a CLI's data root reaches a test unless it sets it itself."""
    assert [] == [name for name in CLI_VARIABLES if name in os.environ]


def test_no_otm_setting_of_the_machine_reaches_a_test(hermetic: Path) -> None:
    """Of the OTM_ variables only OTM_HOME is set, to the test's own directory."""
    settings = {k: v for k, v in os.environ.items() if k.startswith("OTM_")}
    assert {"OTM_HOME": str(hermetic / "otm")} == settings


def test_state_dir_is_the_tests_own(hermetic: Path) -> None:
    """Without the ``state`` fixture the state dir is still a temporary one."""
    assert hermetic / "otm" == state_dir()


def test_platform_data_dir_is_inside_the_temporary_home(
    hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with OTM_HOME unset the default state dir is under the test's XDG data dir."""
    monkeypatch.delenv("OTM_HOME")
    expected = hermetic / "home" / ".local" / "share" / "opentokenmonitor"
    assert expected == state_dir()


def test_state_fixture_sets_otm_home(state: Path, tmp_path: Path) -> None:
    """The ``state`` fixture still points OTM_HOME at the test's tmp_path."""
    assert (tmp_path, tmp_path) == (state, Path(os.environ["OTM_HOME"]))


def test_default_cli_roots_are_inside_the_temporary_home(hermetic: Path) -> None:
    """Claude, Codex and Gemini default roots all resolve inside the test's home."""
    roots = claude_roots([]) + codex_roots([]) + gemini_roots([])
    assert [] == [r for r in roots if not r.is_relative_to(hermetic / "home")]


def test_runtime_runs_the_demo_without_cli_data(hermetic: Path) -> None:
    """With no CLI data in the temporary home the runtime is in demo mode there."""
    runtime = load_runtime()
    assert (True, hermetic / "otm" / "demo.db") == (runtime.demo, runtime.db_path)


def test_starting_python_outside_e2e_fails_the_test() -> None:
    """A test not marked e2e cannot start a Python interpreter."""
    with pytest.raises(pytest.fail.Exception, match=r"mark it @pytest.mark.e2e"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_starting_otm_outside_e2e_fails_the_test() -> None:
    """A test not marked e2e cannot start the installed ``otm`` command."""
    with pytest.raises(pytest.fail.Exception, match=r"mark it @pytest.mark.e2e"):
        subprocess.run([str(OTM), "--help"], capture_output=True, check=False)


def test_other_programs_may_run_outside_e2e() -> None:
    """Small stand-in programs (a fake ``security`` command, say) still run in unit tests."""
    assert 3 == subprocess.run(["sh", "-c", "exit 3"], check=False).returncode


@pytest.fixture(scope="module")
def module_scoped_view() -> tuple[Path, str]:
    """What a module-scoped fixture sees: its home, and whether it may start Python."""
    try:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    except pytest.fail.Exception:
        return Path.home(), "refused"
    return Path.home(), "allowed"


def test_module_scoped_fixtures_are_hermetic_and_guarded(
    module_scoped_view: tuple[Path, str], real_home: Path
) -> None:
    """A module-scoped fixture set up for a unit test has a temporary home and starts no Python."""
    home, spawn = module_scoped_view
    assert (False, True, "refused") == (
        home == real_home,
        home.parent.name.startswith("otm-tests-"),
        spawn,
    )


@pytest.mark.e2e
def test_a_subprocess_inherits_the_temporary_home(hermetic: Path, real_home: Path) -> None:
    """A process a test starts sees the test's HOME and OTM_HOME and no CLI data root."""
    names = ["HOME", "OTM_HOME", *XDG_VARIABLES, *CLI_VARIABLES]
    code = f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {names!r}}}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    assert (str(hermetic / "home"), str(hermetic / "otm")) == (seen["HOME"], seen["OTM_HOME"])
    assert [None] * len(CLI_VARIABLES) == [seen[n] for n in CLI_VARIABLES]
    assert str(real_home) not in json.dumps(seen)


def test_the_stacks_environment_is_temporary(tmp_path: Path, real_home: Path) -> None:
    """Stack's processes get a HOME and OTM_HOME under the test's directory, no CLI root."""
    env = Stack(tmp_path / "home", None).env
    assert (str(tmp_path / "home" / "user"), str(tmp_path / "home")) == (
        env["HOME"],
        env["OTM_HOME"],
    )
    assert [] == [n for n in CLI_VARIABLES if n in env]
    assert [] == [k for k, v in env.items() if v == str(real_home)]
