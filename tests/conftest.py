"""Fixtures shared by every test: a hermetic environment, a private state directory, a running
forwarder, a database.

Every test runs with ``HOME``, the XDG directories and ``OTM_HOME`` pointing into a temporary
directory of its own, and without the variables that name a CLI's data root, so no test can read
(or write) the machine's real ``~/.claude``, ``~/.codex``, ``~/.gemini`` or OTM state, and every
subprocess a test starts inherits the same; the whole session (collection, module- and
session-scoped fixtures) runs in a temporary home too. While a test not marked
``@pytest.mark.e2e`` runs (its fixtures of any scope included), starting a Python interpreter or
``otm`` fails it: a test that runs real processes must say so.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bus.endpoints import Endpoints, endpoints
from bus.forwarder import Forwarder
from services.store.database import connect_writer
from tests.e2e.stack import PRIVATE_ENV
from tests.fake_endpoint import FakeEndpoint

CLI_VARIABLES = (
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_SECURESTORAGE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "GEMINI_DATA_DIR",
)
"""The variables that name a CLI's data root: unset in every test (set them with monkeypatch)."""
PRIVATE_PREFIXES = PRIVATE_ENV
"""Any other setting of OTM or of the machine's CLIs and providers is removed as well."""
XDG_DIRS = {
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
    "XDG_CACHE_HOME": ".cache",
}
REAL_HOME = pytest.StashKey[str]()
SPAWN_ALLOWED = pytest.StashKey[bool]()


def make_hermetic(monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
    """Point HOME, the XDG dirs and OTM_HOME into ``base`` and drop every private variable."""
    for name in list(os.environ):
        if name.startswith(PRIVATE_PREFIXES):
            monkeypatch.delenv(name)
    # No test shows pop-ups on the desktop of whoever runs the suite: the notifier tests bring
    # their own session bus (the notification_server fixture).
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    home = base / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, relative in XDG_DIRS.items():
        (home / relative).mkdir(parents=True)
        monkeypatch.setenv(name, str(home / relative))
    monkeypatch.setenv("OTM_HOME", str(base / "otm"))


def pytest_configure(config: pytest.Config) -> None:
    """Remember the machine's home, make the whole session hermetic (module- and session-scoped
    fixtures run before a test's own fixtures), and guard process starts."""
    config.stash[REAL_HOME] = os.path.expanduser("~")
    base = Path(tempfile.mkdtemp(prefix="otm-tests-"))
    session = pytest.MonkeyPatch()
    make_hermetic(session, base)
    config.stash[SPAWN_ALLOWED] = True  # outside a test (collection, reporting)
    popen_init = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
        if not config.stash[SPAWN_ALLOWED] and spawns_python_or_otm(
            args, options.get("executable")
        ):
            pytest.fail(
                f"a test not marked e2e starts a real process ({_program(args)}): "
                "mark it @pytest.mark.e2e",
                pytrace=False,
            )
        popen_init(self, args, *rest, **options)

    session.setattr(subprocess.Popen, "__init__", guarded)
    config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
    config.add_cleanup(session.undo)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """While a test runs (its fixtures of every scope included), only an ``e2e`` test may start
    Python or ``otm``."""
    item.config.stash[SPAWN_ALLOWED] = item.get_closest_marker("e2e") is not None
    try:
        return (yield)
    finally:
        item.config.stash[SPAWN_ALLOWED] = True


@pytest.fixture
def real_home(pytestconfig: pytest.Config) -> Path:
    """The machine's own home directory (only to check that nothing uses it)."""
    return Path(pytestconfig.stash[REAL_HOME])


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``HOME``, the XDG dirs and ``OTM_HOME`` in a temporary directory of this test's own, and
    no CLI data root in the environment; returns that directory.

    It is not ``tmp_path`` (tests own that one). ``state`` below overrides ``OTM_HOME``.
    """
    base = tmp_path_factory.mktemp("hermetic")
    make_hermetic(monkeypatch, base)
    return base


def _program(args: Any) -> str:
    """The executable a ``Popen(args, ...)`` call starts, as given."""
    if isinstance(args, str | bytes | os.PathLike):
        return os.fsdecode(args).split()[0] if args else ""
    return os.fsdecode(args[0]) if args else ""


def spawns_python_or_otm(args: Any, executable: Any = None) -> bool:
    """Whether ``Popen(args, executable=...)`` starts a Python interpreter or ``otm``."""
    program = os.fsdecode(executable) if executable is not None else _program(args)
    name = Path(program).name.lower().removesuffix(".exe")
    return program == sys.executable or name.startswith("python") or name in ("otm", "honcho")


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$OTM_HOME`` set to this test's own directory, with the default (ipc) transport."""
    monkeypatch.setenv("OTM_HOME", str(tmp_path))
    for name in (
        "OTM_BUS_TRANSPORT",
        "OTM_BUS_PORT",
        "OTM_API_PORT",
        "OTM_API_HOST",
        "OTM_API_TOKEN",
        "OTM_DEMO",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def addresses(state: Path) -> Endpoints:
    """The endpoints of the state directory (nothing bound yet)."""
    return endpoints(state)


@pytest.fixture
def forwarder(state: Path, addresses: Endpoints) -> Iterator[Forwarder]:
    """A running forwarder on the state directory's endpoints, stopped afterwards."""
    running = Forwarder(addresses, state)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's database lives."""
    return tmp_path / "otm.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[sqlite3.Connection]:
    """The store's writer connection on a fresh, migrated database, closed afterwards."""
    conn = connect_writer(str(db_path))
    yield conn
    conn.close()


@pytest.fixture
def fake_endpoint() -> Iterator[FakeEndpoint]:
    """A scriptable provider endpoint on 127.0.0.1, stopped afterwards."""
    with FakeEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def notification_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A private D-Bus session bus (``dbus-daemon``) with a recording notification server on
    it (``tests.notification_server.NotificationServer``), as this test's session bus."""
    if not sys.platform.startswith("linux"):
        pytest.skip("freedesktop notifications over D-Bus are Linux's")
    import shutil

    if shutil.which("dbus-daemon") is None:
        pytest.fail("dbus-daemon is missing: install Debian's dbus (.ci/run does)", pytrace=False)
    # Imported here: dbus-fast is installed on Linux only, and every test loads this file.
    from tests.notification_server import NotificationServer, PrivateSessionBus

    bus = PrivateSessionBus()
    try:
        server = NotificationServer(bus.address)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        try:
            yield server
        finally:
            server.stop()
    finally:
        bus.stop()
