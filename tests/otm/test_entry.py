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


@pytest.mark.parametrize("process", ["bus", "store", "collector", "watcher", "scheduler"])
def test_a_process_without_an_event_loop_loads_no_asyncio(tmp_path: Path, process: str) -> None:
    """structlog's asyncio waits until used (``services.runtime.deferred``), and on one machine
    the hub's authenticator (an asyncio loop) is not imported: ~7 MB a process."""
    code, names = imported_by(tmp_path, process)
    assert (2, set()) == (code, names & {"asyncio"})


@pytest.mark.parametrize("process", ["bus", "store", "watcher", "scheduler", "notifier"])
def test_a_process_making_no_https_call_loads_no_openssl(tmp_path: Path, process: str) -> None:
    """Nothing but an HTTPS client needs hashlib's OpenSSL (~3.7 MB a process): the machine id
    comes from ``os.urandom``, not ``secrets``."""
    code, modules = imported_modules([process], bad_stack(tmp_path, PORT_FILE).env)
    assert (2, []) == (code, [m for m in modules if m in {"hashlib", "ssl", "_ssl"}])
