"""Where Codex session logs live, how their sessions are named, and which copy is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.collector.codex.roots import (
    SessionLog,
    bare_homes,
    find_logs,
    log_at,
    matches_session_id,
    session_of,
)
from services.runtime.cli_roots import codex_roots, existing_roots

HOME = Path("/home/u")
ROLLOUT = "rollout-2026-05-01T10-00-00-019e0000-0000-7000-8000-000000000001"


def test_default_home_is_dot_codex() -> None:
    """Without configuration: ``~/.codex/sessions`` then ``~/.codex/archived_sessions``."""
    expected = [HOME / ".codex/sessions", HOME / ".codex/archived_sessions"]
    assert expected == codex_roots([], env={}, home=HOME)


def test_codex_home_comma_list() -> None:
    """``CODEX_HOME`` is a comma list; blanks are dropped and entries trimmed."""
    env = {"CODEX_HOME": "/a, ,~/b ,"}
    expected = [
        Path("/a/sessions"),
        Path("/a/archived_sessions"),
        HOME / "b/sessions",
        HOME / "b/archived_sessions",
    ]
    assert expected == codex_roots([], env=env, home=HOME)


def test_codex_home_replaces_the_default() -> None:
    """With ``CODEX_HOME`` set, ``~/.codex`` is not scanned."""
    env = {"CODEX_HOME": "/a"}
    expected = [Path("/a/sessions"), Path("/a/archived_sessions")]
    assert expected == codex_roots([], env=env, home=HOME)


def test_blank_codex_home_means_the_default() -> None:
    """A ``CODEX_HOME`` of only blanks and commas falls back to ``~/.codex``."""
    expected = [HOME / ".codex/sessions", HOME / ".codex/archived_sessions"]
    assert expected == codex_roots([], env={"CODEX_HOME": " , "}, home=HOME)


def test_configured_homes_override_the_environment() -> None:
    """Configured entries win over ``CODEX_HOME``."""
    env = {"CODEX_HOME": "/env"}
    expected = [Path("/cfg/sessions"), Path("/cfg/archived_sessions")]
    assert expected == codex_roots(["/cfg"], env=env, home=HOME)


def test_configured_sessions_dir_stands_for_its_home() -> None:
    """Naming a ``sessions`` directory configures its whole home."""
    expected = [Path("/cfg/sessions"), Path("/cfg/archived_sessions")]
    assert expected == codex_roots(["/cfg/sessions"], env={}, home=HOME)


def test_repeated_homes_are_listed_once() -> None:
    """The same home named twice is scanned once."""
    expected = [Path("/a/sessions"), Path("/a/archived_sessions")]
    assert expected == codex_roots(["/a", "/a/archived_sessions"], env={}, home=HOME)


def test_missing_roots_are_still_candidates(tmp_path: Path) -> None:
    """Roots that do not exist yet are returned so they can be watched."""
    roots = codex_roots([str(tmp_path / "nope")], env={}, home=HOME)
    expected: list[Path] = []
    assert expected == existing_roots(roots)


def make(path: Path, data: bytes = b"{}\n") -> Path:
    """Create a file (and its folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_logs_are_found_recursively_and_sorted(tmp_path: Path) -> None:
    """Dated sub-folders are walked; results are sorted by path."""
    root = tmp_path / "sessions"
    b = make(root / "2026/05/02" / f"{ROLLOUT}.jsonl")
    a = make(root / "2026/05/01" / f"{ROLLOUT}.jsonl")
    expected = [str(a), str(b)]
    assert expected == [log.path for log in find_logs(root).files]


def test_session_is_the_relative_path_without_suffix(tmp_path: Path) -> None:
    """The session id is ``YYYY/MM/DD/rollout-…`` as ccusage names it."""
    root = tmp_path / "sessions"
    path = make(root / "2026/05/01" / f"{ROLLOUT}.jsonl")
    expected = [SessionLog(str(path), f"2026/05/01/{ROLLOUT}")]
    assert expected == find_logs(root).files


def test_only_jsonl_files_are_logs(tmp_path: Path) -> None:
    """Other files, and a bare ``.jsonl`` dotfile, are ignored."""
    root = tmp_path / "sessions"
    make(root / "notes.txt")
    make(root / ".jsonl")
    kept = make(root / "a.jsonl")
    expected = [str(kept)]
    assert expected == [log.path for log in find_logs(root).files]


def test_missing_root_is_empty(tmp_path: Path) -> None:
    """A root that does not exist gives no files and no error."""
    scan = find_logs(tmp_path / "sessions")
    expected: tuple[list[SessionLog], list[str]] = ([], [])
    assert expected == (scan.files, scan.unreadable)


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    """A link loop cannot hang the scan; linked folders are not read."""
    root = tmp_path / "sessions"
    kept = make(root / "2026/a.jsonl")
    os.symlink(root, root / "2026" / "loop")
    expected = [str(kept)]
    assert expected == [log.path for log in find_logs(root).files]


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists directories whatever their mode")
def test_unlistable_directory_is_reported(tmp_path: Path) -> None:
    """A directory that cannot be listed is recorded, and the rest is still found."""
    root = tmp_path / "sessions"
    kept = make(root / "a.jsonl")
    locked = root / "2026"
    make(locked / "b.jsonl")
    locked.chmod(0)
    try:
        scan = find_logs(root)
    finally:
        locked.chmod(0o755)
    expected = ([str(kept)], [str(locked)])
    assert expected == ([log.path for log in scan.files], scan.unreadable)


def test_sessions_copy_wins_over_archived_copy(tmp_path: Path) -> None:
    """A file under the same relative path in both roots is read from ``sessions/`` only."""
    make(tmp_path / "sessions" / f"{ROLLOUT}.jsonl")
    make(tmp_path / "archived_sessions" / f"{ROLLOUT}.jsonl")
    expected: list[SessionLog] = []
    assert expected == find_logs(tmp_path / "archived_sessions").files


def test_archived_only_file_is_read(tmp_path: Path) -> None:
    """An archived log with no live twin is a log like any other."""
    make(tmp_path / "sessions" / "other.jsonl")
    path = make(tmp_path / "archived_sessions" / f"{ROLLOUT}.jsonl")
    expected = [SessionLog(str(path), ROLLOUT)]
    assert expected == find_logs(tmp_path / "archived_sessions").files


def test_log_at_names_a_path_under_a_root(tmp_path: Path) -> None:
    """A ``*.jsonl`` path below a root is a log with its session, without a scan."""
    root = tmp_path / "sessions"
    path = root / "2026/05/01" / f"{ROLLOUT}.jsonl"
    expected = SessionLog(str(path), f"2026/05/01/{ROLLOUT}")
    assert expected == log_at([root], str(path))


def test_log_at_rejects_other_paths(tmp_path: Path) -> None:
    """Paths outside the roots, and non-log names, are not logs."""
    root = tmp_path / "sessions"
    got = (log_at([root], str(tmp_path / "x.jsonl")), log_at([root], str(root / "a.txt")))
    expected = (None, None)
    assert expected == got


def test_log_at_rejects_a_shadowed_archived_copy(tmp_path: Path) -> None:
    """An archived path whose live twin exists is not one of our logs."""
    make(tmp_path / "sessions" / "a.jsonl")
    archived = tmp_path / "archived_sessions"
    assert log_at([archived], str(archived / "a.jsonl")) is None


def test_session_of_a_flat_file() -> None:
    """A file directly in its root is named by its stem."""
    expected = ROLLOUT
    assert expected == session_of((f"{ROLLOUT}.jsonl",))


def test_parent_file_is_matched_by_session_id() -> None:
    """A rollout file matches the uuid its name ends with, or its exact stem."""
    uuid = "019e0000-0000-7000-8000-000000000001"
    got = (
        matches_session_id(f"/s/2026/05/01/{ROLLOUT}.jsonl", uuid),
        matches_session_id(f"/s/{uuid}.jsonl", uuid),
        matches_session_id(f"/s/{ROLLOUT}.jsonl", ""),
    )
    expected = (True, True, False)
    assert expected == got


def test_home_without_log_dirs_is_read_itself(tmp_path: Path) -> None:
    """A home holding neither ``sessions/`` nor ``archived_sessions/`` is scanned directly."""
    (tmp_path / "bare").mkdir()
    (tmp_path / "full/archived_sessions").mkdir(parents=True)
    roots = codex_roots([str(tmp_path / "bare"), str(tmp_path / "full")], env={})
    expected = [tmp_path / "bare"]
    assert expected == bare_homes(roots)


def test_missing_home_is_not_bare(tmp_path: Path) -> None:
    """A home that does not exist is not scanned."""
    roots = codex_roots([str(tmp_path / "nope")], env={})
    expected: list[Path] = []
    assert expected == bare_homes(roots)
