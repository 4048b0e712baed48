"""The root and file-finding helpers every provider's ``roots`` module shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.collector.rootpaths import is_jsonl_name, locate, walk_tree
from services.runtime.cli_roots import expand_home, split_env_list, unique

HOME = Path("/home/u")


@dataclass(frozen=True)
class Found:
    """A file as a test provider describes it."""

    path: str
    parts: tuple[str, ...]


def found(path: str, parts: tuple[str, ...]) -> Found:
    """Describe every file offered."""
    return Found(path, parts)


def write(root: Path, rel: str) -> str:
    """Create an empty file at ``root/rel`` and return its path."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return str(path)


def test_env_list_is_trimmed_and_blanks_dropped() -> None:
    """Entries are split on commas, trimmed, and empty ones dropped."""
    expected = ["/a", "/b"]
    assert expected == split_env_list(" /a , ,/b,")


def test_tilde_expands_against_the_given_home() -> None:
    """A leading ``~/`` is the home passed in, not the process's."""
    expected = HOME / "x"
    assert expected == expand_home(" ~/x ", HOME)


def test_bare_tilde_is_the_home() -> None:
    """``~`` alone is the home itself."""
    expected = HOME
    assert expected == expand_home("~", HOME)


def test_unique_keeps_first_occurrences_in_order() -> None:
    """Repeated roots are dropped, the first of each kept in place."""
    expected = [Path("/b"), Path("/a")]
    assert expected == unique([Path("/b"), Path("/a"), Path("/b")])


def test_named_jsonl_is_a_log_name() -> None:
    """``s.jsonl`` is a log name."""
    expected = True
    assert expected == is_jsonl_name("s.jsonl")


def test_bare_jsonl_is_not_a_log_name() -> None:
    """``.jsonl`` alone is a dotfile, not a log."""
    expected = False
    assert expected == is_jsonl_name(".jsonl")


def test_walk_finds_wanted_files_recursively_sorted(tmp_path: Path) -> None:
    """Files with wanted names are found at any depth, sorted by path, with their parts."""
    b = write(tmp_path, "p/b.jsonl")
    a = write(tmp_path, "p/deep/a.jsonl")
    write(tmp_path, "p/notes.txt")
    expected = [Found(b, ("p", "b.jsonl")), Found(a, ("p", "deep", "a.jsonl"))]
    assert expected == walk_tree(tmp_path, is_jsonl_name, found).files


def test_walk_leaves_out_what_make_rejects(tmp_path: Path) -> None:
    """A file ``make`` turns into ``None`` is not listed."""
    write(tmp_path, "skip.jsonl")
    expected: list[Found] = []
    assert expected == walk_tree(tmp_path, is_jsonl_name, lambda path, parts: None).files


def test_walk_does_not_follow_symlinks(tmp_path: Path) -> None:
    """A linked directory is not walked into."""
    write(tmp_path, "real/a.jsonl")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "real")
    expected: list[Found] = []
    assert expected == walk_tree(tmp_path / "root", is_jsonl_name, found).files


def test_walk_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    """A root that does not exist yet has no files and nothing unreadable."""
    scan = walk_tree(tmp_path / "none", is_jsonl_name, found)
    expected: tuple[list[Found], list[str]] = ([], [])
    assert expected == (scan.files, scan.unreadable)


def test_walk_reports_a_root_that_is_a_file(tmp_path: Path) -> None:
    """A root that cannot be listed is reported as unreadable."""
    root = write(tmp_path, "root")
    expected = [root]
    assert expected == walk_tree(Path(root), is_jsonl_name, found).unreadable


def test_locate_gives_parts_below_the_root() -> None:
    """A path under a root is described from its components below that root."""
    expected = Found("/r/p/s.jsonl", ("p", "s.jsonl"))
    assert expected == locate(
        [Path("/r")], "/r/p/s.jsonl", lambda root, parts: found(str(root / "p/s.jsonl"), parts)
    )


def test_locate_tries_the_next_root_when_one_rejects() -> None:
    """A root whose ``make`` says ``None`` gives way to the next root the path lies under."""
    roots = [Path("/r"), Path("/r/p")]
    expected = ("s.jsonl",)
    found_at = locate(
        roots, "/r/p/s.jsonl", lambda root, parts: found("", parts) if len(parts) == 1 else None
    )
    assert expected == (found_at.parts if found_at is not None else None)


def test_locate_outside_every_root_is_none() -> None:
    """A path under no root is not a log."""
    expected = None
    assert expected == locate(
        [Path("/r")], "/elsewhere/s.jsonl", lambda root, parts: found("", parts)
    )
