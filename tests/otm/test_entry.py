"""The ``otm`` entry point: each process of the stack starts without loading the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import imported_modules
from tests.otm.test_bad_config import PORT_FILE, bad_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def imported_by(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """The exit status of ``python -m otm <args>`` (stopped at once by a bad config) and the
    packages whose modules it loaded (a package tried and refused, as ``rich`` is, loads none
    of its modules)."""
    code, modules = imported_modules(list(args), bad_stack(tmp_path, PORT_FILE).env)
    return code, {m.split(".")[0] for m in modules if "." in m}


# The api too: it takes uvicorn's server without uvicorn's own command line (click).
@pytest.mark.parametrize("process", ["store", "collector", "watcher", "notifier", "demo", "api"])
def test_a_process_starts_without_the_cli(tmp_path: Path, process: str) -> None:
    """`otm <process>` (as `otm up` runs it) loads neither typer nor click nor rich."""
    code, names = imported_by(tmp_path, process)
    assert (2, set()) == (code, names & {"typer", "click", "rich"})


def test_a_process_with_options_still_goes_to_the_cli(tmp_path: Path) -> None:
    """`otm store --help` is the CLI's help (typer), not the store process."""
    code, names = imported_by(tmp_path, "store", "--help")
    assert (0, True) == (code, "typer" in names)
