"""The state folder is its owner's alone (``services.runtime.installation.make_private`` and
``services.store.database.make_private``): created 0700, what is in it 0600, an old open folder
tightened at start, what belongs to someone else reported."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runtime.installation import exposures, load_runtime, make_private
from services.store.database import connect_writer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX's")

OTHER_UID = 65534
"""nobody: a user that is not this process's."""


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Each test starts with the usual umask 022 (as a login shell has) and gets back what the
    test process had."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.fixture
def old_open_state(tmp_path: Path) -> Path:
    """A state folder as earlier versions left it: 0755 folders, 0644 files, a 0755 socket."""
    state = tmp_path / "otm"
    for folder in (state, state / "run", state / "logs", state / "spool"):
        folder.mkdir()
        folder.chmod(0o755)
    for name in ("otm.db", "otm.db-wal", "otm.db-shm", "config.toml", "logs/stack.log"):
        (state / name).write_text("")
        (state / name).chmod(0o644)
    return state


def test_a_new_state_folder_is_made_0700(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``$OTM_HOME`` that does not exist yet is made with mode 0700."""
    monkeypatch.setenv("OTM_HOME", str(tmp_path / "new" / "otm"))
    runtime = load_runtime()
    assert 0o700 == mode(runtime.state)


def test_loading_the_runtime_sets_a_private_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``load_runtime`` every file the process creates is 0600."""
    monkeypatch.setenv("OTM_HOME", str(tmp_path / "otm"))
    runtime = load_runtime()
    (runtime.state / "later.log").write_text("x")
    assert 0o600 == mode(runtime.state / "later.log")


def test_an_old_open_state_folder_is_tightened_at_start(
    old_open_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0755 folders become 0700 and 0644 files 0600, two levels down, at ``load_runtime``."""
    monkeypatch.setenv("OTM_HOME", str(old_open_state))
    load_runtime()
    paths = [old_open_state, *sorted(old_open_state.rglob("*"))]
    opened = {str(p.relative_to(old_open_state)): oct(mode(p)) for p in paths if mode(p) & 0o077}
    assert {} == opened


def test_nothing_is_left_open_after_a_start(old_open_state: Path) -> None:
    """Once tightened, ``exposures`` (what ``otm doctor`` reports) finds nothing."""
    make_private(old_open_state)
    assert [] == exposures(old_open_state)


def test_exposures_name_each_open_file_with_its_fix(old_open_state: Path) -> None:
    """Before tightening, an open database is reported with the chmod that fixes it."""
    found = {e.path.name: e.fix for e in exposures(old_open_state)}
    assert f"chmod 600 {old_open_state / 'otm.db'}" == found["otm.db"]


def test_exposures_name_an_open_folder_with_chmod_700(old_open_state: Path) -> None:
    """An open folder's fix is ``chmod 700 <dir>``."""
    found = {e.path: e.fix for e in exposures(old_open_state)}
    assert f"chmod 700 {old_open_state}" == found[old_open_state]


def test_a_symbolic_link_is_not_followed(old_open_state: Path, tmp_path: Path) -> None:
    """A link in the state folder to a file elsewhere leaves that file alone."""
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("")
    elsewhere.chmod(0o644)
    (old_open_state / "link").symlink_to(elsewhere)
    make_private(old_open_state)
    assert 0o644 == mode(elsewhere)


def test_a_shared_sticky_folder_is_not_tightened(tmp_path: Path) -> None:
    """``OTM_HOME=/tmp``-like (mode 1777): left as it is, and reported with the fix."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    left = make_private(shared)
    expected = (0o1777, ["set OTM_HOME to a folder of its own (this one is shared by everyone)"])
    assert expected == (mode(shared), [e.fix for e in left])


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_someone_elses_file_is_left_and_reported(old_open_state: Path) -> None:
    """A 0644 file owned by another uid is not touched; the report names its owner."""
    theirs = old_open_state / "theirs.db"
    theirs.write_text("")
    theirs.chmod(0o644)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    left = make_private(old_open_state)
    assert (0o644, [f"as uid {OTHER_UID} (or root): chmod 600 {theirs}"]) == (
        mode(theirs),
        [e.fix for e in left],
    )


# -- the database -----------------------------------------------------------------------------


def test_a_new_database_and_its_wal_are_0600_even_under_umask_022(tmp_path: Path) -> None:
    """The writer makes otm.db 0600 itself; SQLite gives -wal and -shm the same mode."""
    path = tmp_path / "otm.db"
    conn = connect_writer(str(path))
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        modes = {p.name: mode(p) for p in sorted(tmp_path.glob("otm.db*"))}
    finally:
        conn.close()
    assert {"otm.db": 0o600, "otm.db-shm": 0o600, "otm.db-wal": 0o600} == modes


def test_an_open_database_is_tightened_when_opened(tmp_path: Path) -> None:
    """An existing 0644 otm.db (and its -wal, -shm) of this user become 0600 at open."""
    path = tmp_path / "otm.db"
    connect_writer(str(path)).close()
    for name in ("otm.db", "otm.db-wal", "otm.db-shm"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    connect_writer(str(path)).close()
    modes = {p.name: mode(p) for p in tmp_path.glob("otm.db*")}
    assert [] == [name for name, bits in modes.items() if bits != 0o600]


def test_the_umask_the_test_process_had_is_not_what_we_test(tmp_path: Path) -> None:
    """The autouse fixture really gives each test umask 022 (so 0600 above is our doing)."""
    (tmp_path / "plain").write_text("")
    assert 0o644 == mode(tmp_path / "plain")
