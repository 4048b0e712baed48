"""Where Claude Code transcripts live and how their project and session are named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.collector.claude.roots import (
    Transcript,
    find_transcripts,
)
from services.runtime.cli_roots import claude_roots, existing_roots

HOME = Path("/home/u")


def test_configured_config_dir_is_normalised_to_projects() -> None:
    """A configured config dir means its ``projects/`` directory."""
    expected = [Path("/data/claude/projects")]
    assert expected == claude_roots(["/data/claude"], env={}, home=HOME)


def test_configured_projects_dir_is_kept() -> None:
    """A configured ``projects/`` directory is used as is."""
    expected = [Path("/data/projects")]
    assert expected == claude_roots(["/data/projects"], env={}, home=HOME)


def test_configured_tilde_expands_against_home() -> None:
    """``~`` in a configured root is the given home."""
    expected = [HOME / "alt" / "projects"]
    assert expected == claude_roots(["~/alt"], env={}, home=HOME)


def test_configured_roots_override_the_environment() -> None:
    """Configured roots win over ``CLAUDE_CONFIG_DIR``."""
    env = {"CLAUDE_CONFIG_DIR": "/env/claude"}
    expected = [Path("/cfg/projects")]
    assert expected == claude_roots(["/cfg"], env=env, home=HOME)


def test_claude_config_dir_comma_list() -> None:
    """``CLAUDE_CONFIG_DIR`` is a comma list; blanks are dropped and entries trimmed."""
    env = {"CLAUDE_CONFIG_DIR": "/a/claude, ,~/b/projects ,"}
    expected = [Path("/a/claude/projects"), HOME / "b" / "projects"]
    assert expected == claude_roots([], env=env, home=HOME)


def test_claude_config_dir_replaces_the_defaults() -> None:
    """With ``CLAUDE_CONFIG_DIR`` set the home defaults are not scanned."""
    env = {"CLAUDE_CONFIG_DIR": "/a"}
    expected = [Path("/a/projects")]
    assert expected == claude_roots([], env=env, home=HOME)


def test_defaults_list_xdg_before_dot_claude() -> None:
    """Without configuration: ``~/.config/claude/projects`` then ``~/.claude/projects``."""
    expected = [HOME / ".config/claude/projects", HOME / ".claude/projects"]
    assert expected == claude_roots([], env={}, home=HOME)


def test_xdg_config_home_is_honoured() -> None:
    """``XDG_CONFIG_HOME`` moves the first default, as in ccusage."""
    env = {"XDG_CONFIG_HOME": "/xdg"}
    expected = [Path("/xdg/claude/projects"), HOME / ".claude/projects"]
    assert expected == claude_roots([], env=env, home=HOME)


def test_repeated_roots_are_listed_once() -> None:
    """The same root named twice is scanned once."""
    roots_found = claude_roots(["/a", "/a/projects"], env={}, home=HOME)
    expected = [Path("/a/projects")]
    assert expected == roots_found


def test_missing_roots_are_still_candidates(tmp_path: Path) -> None:
    """A root that does not exist yet is returned so it can be watched."""
    expected = [tmp_path / "none" / "projects"]
    assert expected == claude_roots([str(tmp_path / "none")], env={})


def test_existing_roots_keeps_only_directories(tmp_path: Path) -> None:
    """``existing_roots`` filters out what is not there."""
    present = tmp_path / "projects"
    present.mkdir()
    expected = [present]
    assert expected == existing_roots([tmp_path / "gone" / "projects", present])


def write(root: Path, relative: str) -> str:
    """Create an empty transcript below ``root``; return its path."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return str(path)


def test_flat_layout_session_is_the_file_name(tmp_path: Path) -> None:
    """``P/S.jsonl`` belongs to project P, session S."""
    path = write(tmp_path, "-home-u-proj/abc.jsonl")
    expected = [Transcript(path, "-home-u-proj", "abc")]
    assert expected == find_transcripts(tmp_path).files


def test_subagent_layout_session_is_the_parent_session(tmp_path: Path) -> None:
    """``P/S/subagents/A.jsonl`` belongs to session S."""
    path = write(tmp_path, "P/abc/subagents/agent-1.jsonl")
    expected = [Transcript(path, "P", "abc")]
    assert expected == find_transcripts(tmp_path).files


def test_nested_layout_session_is_the_parent_directory(tmp_path: Path) -> None:
    """``P/S/chat.jsonl`` belongs to session S."""
    path = write(tmp_path, "P/abc/chat.jsonl")
    expected = [Transcript(path, "P", "abc")]
    assert expected == find_transcripts(tmp_path).files


def test_deeper_layout_session_is_the_parent_directory(tmp_path: Path) -> None:
    """Any other nesting takes the parent directory's name as the session."""
    path = write(tmp_path, "P/x/y/z.jsonl")
    expected = [Transcript(path, "P", "y")]
    assert expected == find_transcripts(tmp_path).files


def test_non_transcripts_are_ignored(tmp_path: Path) -> None:
    """Only ``*.jsonl`` files count; sidecars and dotfiles do not."""
    write(tmp_path, "P/abc/subagents/agent-1.meta.json")
    write(tmp_path, "P/.jsonl")
    expected = 0
    assert expected == len(find_transcripts(tmp_path).files)


def test_transcripts_are_sorted_by_path(tmp_path: Path) -> None:
    """Files come back in path order, whatever the directory order."""
    paths = [write(tmp_path, rel) for rel in ("B/s.jsonl", "A/t.jsonl", "A/s.jsonl")]
    expected = sorted(paths)
    assert expected == [t.path for t in find_transcripts(tmp_path).files]


def test_missing_root_is_empty_not_unreadable(tmp_path: Path) -> None:
    """A root that does not exist yields nothing and no error."""
    scan = find_transcripts(tmp_path / "absent")
    expected = (0, 0)
    assert expected == (len(scan.files), len(scan.unreadable))


def test_root_that_is_a_file_is_unreadable(tmp_path: Path) -> None:
    """A root that is not a directory is reported."""
    root = tmp_path / "projects"
    root.write_bytes(b"")
    expected = [str(root)]
    assert expected == find_transcripts(root).unreadable


def test_unlistable_directory_is_reported_and_the_rest_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory that cannot be listed is counted; its siblings are still read."""
    good = write(tmp_path, "A/s.jsonl")
    write(tmp_path, "B/s.jsonl")
    blocked = str(tmp_path / "B")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if path == blocked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    scan = find_transcripts(tmp_path)
    expected = ([good], [blocked])
    assert expected == ([t.path for t in scan.files], scan.unreadable)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any directory")
def test_unreadable_directory_mode_is_reported(tmp_path: Path) -> None:
    """A directory without read permission is counted as unreadable."""
    write(tmp_path, "B/s.jsonl")
    blocked = tmp_path / "B"
    blocked.chmod(0)
    try:
        expected = [str(blocked)]
        assert expected == find_transcripts(tmp_path).unreadable
    finally:
        blocked.chmod(0o755)


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    """A link loop cannot make the walk run forever."""
    write(tmp_path, "P/s.jsonl")
    (tmp_path / "P" / "loop").symlink_to(tmp_path)
    expected = 1
    assert expected == len(find_transcripts(tmp_path).files)
