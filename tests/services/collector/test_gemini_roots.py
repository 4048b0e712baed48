"""Where Gemini CLI chats live, which files are chats, and how their project is named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.collector.gemini.roots import (
    ChatLog,
    chat_log_of,
    find_logs,
)
from services.runtime.cli_roots import existing_roots, gemini_roots

HOME = Path("/home/u")


def test_default_root_is_dot_gemini_tmp() -> None:
    """Without configuration or environment: ``~/.gemini/tmp``."""
    expected = [HOME / ".gemini" / "tmp"]
    assert expected == gemini_roots([], env={}, home=HOME)


def test_gemini_cli_home_replaces_the_home_directory() -> None:
    """``GEMINI_CLI_HOME`` is the home that holds ``.gemini``."""
    expected = [Path("/srv/g/.gemini/tmp")]
    assert expected == gemini_roots([], env={"GEMINI_CLI_HOME": "/srv/g"}, home=HOME)


def test_gemini_cli_home_tilde_expands_against_home() -> None:
    """``~`` in ``GEMINI_CLI_HOME`` is the given home."""
    expected = [HOME / "alt" / ".gemini" / "tmp"]
    assert expected == gemini_roots([], env={"GEMINI_CLI_HOME": "~/alt"}, home=HOME)


def test_blank_gemini_cli_home_is_ignored() -> None:
    """A blank ``GEMINI_CLI_HOME`` means the default."""
    expected = [HOME / ".gemini" / "tmp"]
    assert expected == gemini_roots([], env={"GEMINI_CLI_HOME": "  "}, home=HOME)


def test_configured_roots_override_the_environment() -> None:
    """Configured roots win over ``GEMINI_CLI_HOME``."""
    env = {"GEMINI_CLI_HOME": "/srv/g"}
    expected = [Path("/data/tmp")]
    assert expected == gemini_roots(["/data/tmp"], env=env, home=HOME)


def test_gemini_data_dir_entries_are_chats_roots_as_ccusage_reads_them() -> None:
    """Every ``GEMINI_DATA_DIR`` entry is a chats root used as is, ahead of GEMINI_CLI_HOME."""
    env = {"GEMINI_DATA_DIR": "/a/tmp, ~/b ,", "GEMINI_CLI_HOME": "/srv/g"}
    expected = [Path("/a/tmp"), HOME / "b"]
    assert expected == gemini_roots([], env=env, home=HOME)


def test_configured_roots_override_gemini_data_dir() -> None:
    """Configured roots win over ``GEMINI_DATA_DIR`` too."""
    expected = [Path("/data/tmp")]
    assert expected == gemini_roots(["/data/tmp"], env={"GEMINI_DATA_DIR": "/a"}, home=HOME)


def test_configured_dot_gemini_means_its_tmp() -> None:
    """A configured ``.gemini`` directory is normalised to its ``tmp/``."""
    expected = [Path("/data/.gemini/tmp")]
    assert expected == gemini_roots(["/data/.gemini"], env={}, home=HOME)


def test_configured_data_dir_is_used_as_is() -> None:
    """Any other configured directory is a chats root itself (like ``GEMINI_DATA_DIR``)."""
    expected = [Path("/data/gemini-logs")]
    assert expected == gemini_roots(["/data/gemini-logs"], env={}, home=HOME)


def test_configured_tilde_expands_against_home() -> None:
    """``~`` in a configured root is the given home."""
    expected = [HOME / ".gemini" / "tmp"]
    assert expected == gemini_roots(["~/.gemini"], env={}, home=HOME)


def test_configured_duplicates_and_blanks_are_dropped() -> None:
    """Blank entries are ignored and a root is listed once."""
    expected = [Path("/a/.gemini/tmp")]
    assert expected == gemini_roots(["/a/.gemini", " ", "/a/.gemini/tmp"], env={}, home=HOME)


def test_existing_roots_keeps_directories_only(tmp_path: Path) -> None:
    """Roots that do not exist (yet) are filtered out, order kept."""
    (tmp_path / "b").mkdir()
    expected = [tmp_path / "b"]
    assert expected == existing_roots([tmp_path / "a", tmp_path / "b"])


def write(root: Path, rel: str, data: str = "{}\n") -> Path:
    """Create a file (and its parents) below ``root``."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


MAIN = "session-2026-05-01T11-07-aaaa1111"


def test_main_jsonl_chat_is_found(tmp_path: Path) -> None:
    """``<project>/chats/session-*.jsonl`` is a chat of that project."""
    path = write(tmp_path, f"proj/chats/{MAIN}.jsonl")
    expected = [ChatLog(str(path), "proj", MAIN)]
    assert expected == find_logs(tmp_path).files


def test_legacy_json_chat_is_found(tmp_path: Path) -> None:
    """``<project>/chats/session-*.json`` is a legacy chat."""
    path = write(tmp_path, f"9f86d0/chats/{MAIN}.json")
    expected = [ChatLog(str(path), "9f86d0", MAIN, legacy=True)]
    assert expected == find_logs(tmp_path).files


def test_subagent_chat_is_found(tmp_path: Path) -> None:
    """``<project>/chats/<parent>/<session>.jsonl`` is a subagent chat."""
    path = write(tmp_path, "proj/chats/aaaa1111-parent/bbbb2222.jsonl")
    expected = [ChatLog(str(path), "proj", "bbbb2222", subagent=True)]
    assert expected == find_logs(tmp_path).files


def test_logs_json_is_skipped(tmp_path: Path) -> None:
    """The prompt log holds no tokens and is not a chat."""
    write(tmp_path, "proj/logs.json", "[]")
    write(tmp_path, "proj/chats/logs.json", "[]")
    assert [] == find_logs(tmp_path).files


def test_other_files_in_chats_are_skipped(tmp_path: Path) -> None:
    """Only ``session-*`` files are main chats."""
    write(tmp_path, "proj/chats/checkpoint-x.json")
    write(tmp_path, "proj/chats/notes.txt")
    write(tmp_path, "proj/chats/session-x.txt")
    assert [] == find_logs(tmp_path).files


def test_subagent_json_is_skipped(tmp_path: Path) -> None:
    """Subagent chats are JSONL only."""
    write(tmp_path, "proj/chats/parent/child.json")
    assert [] == find_logs(tmp_path).files


def test_deeper_files_are_skipped(tmp_path: Path) -> None:
    """Nothing below a subagent directory is read."""
    write(tmp_path, "proj/chats/parent/deeper/child.jsonl")
    assert [] == find_logs(tmp_path).files


def test_files_outside_chats_are_skipped(tmp_path: Path) -> None:
    """A JSONL file elsewhere in the project directory is not a chat."""
    write(tmp_path, f"proj/{MAIN}.jsonl")
    write(tmp_path, f"proj/other/{MAIN}.jsonl")
    assert [] == find_logs(tmp_path).files


def test_files_at_the_root_are_skipped(tmp_path: Path) -> None:
    """Files directly in ``tmp/`` are not chats."""
    write(tmp_path, f"{MAIN}.jsonl")
    assert [] == find_logs(tmp_path).files


def test_results_are_sorted_by_path(tmp_path: Path) -> None:
    """Chats come back in path order."""
    b = write(tmp_path, f"b/chats/{MAIN}.jsonl")
    a = write(tmp_path, f"a/chats/{MAIN}.json")
    expected = [str(a), str(b)]
    assert expected == [log.path for log in find_logs(tmp_path).files]


def test_missing_root_is_empty(tmp_path: Path) -> None:
    """A root that does not exist yet is not an error."""
    scan = find_logs(tmp_path / "nope")
    expected = (0, 0)
    assert expected == (len(scan.files), len(scan.unreadable))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any directory")
def test_unreadable_chats_directory_is_reported(tmp_path: Path) -> None:
    """A ``chats/`` directory without read permission is counted as unreadable."""
    write(tmp_path, f"proj/chats/{MAIN}.jsonl")
    blocked = tmp_path / "proj" / "chats"
    blocked.chmod(0)
    try:
        expected = [str(blocked)]
        assert expected == find_logs(tmp_path).unreadable
    finally:
        blocked.chmod(0o755)


def test_symlinked_chats_are_not_followed(tmp_path: Path) -> None:
    """A linked project directory is not walked."""
    write(tmp_path, f"real/chats/{MAIN}.jsonl")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    expected = ["real"]
    assert expected == [log.project for log in find_logs(tmp_path).files]


def test_chat_log_of_a_main_path() -> None:
    """A path's components below the root name its project and stem."""
    expected = ChatLog("/x", "proj", MAIN)
    assert expected == chat_log_of(("proj", "chats", f"{MAIN}.jsonl"), "/x")


def test_chat_log_of_a_non_chat_path() -> None:
    """A path outside the three layouts is not a chat."""
    assert chat_log_of(("proj", "logs.json"), "/x") is None
