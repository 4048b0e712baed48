"""Directory listings kept between rescans: read again exactly when a directory changed."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.collector.listings import SETTLED_NS, Entry, Listings
from services.collector.rootpaths import is_jsonl_name, walk_tree


@dataclass(frozen=True)
class Found:
    """A file a walk found."""

    path: str


def found(path: str, parts: tuple[str, ...]) -> Found:
    """The file at ``path``."""
    return Found(path)


def later() -> Listings:
    """Listings whose clock runs ahead, so every directory on disk counts as settled."""
    return Listings(now_ns=lambda: time.time_ns() + 2 * SETTLED_NS)


def touch(path: Path) -> Path:
    """An empty file at ``path``, with its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def names(entries: tuple[Entry, ...]) -> list[str]:
    """The sorted names of ``entries``."""
    return sorted(e.name for e in entries)


def test_entries_tell_folders_from_files(tmp_path: Path) -> None:
    """Each entry says whether it is a folder or a regular file, links being neither."""
    touch(tmp_path / "f.jsonl")
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "d")
    expected = [("d", True, False), ("f.jsonl", False, True), ("link", False, False)]
    found = later().entries(str(tmp_path))
    assert expected == sorted((e.name, e.is_dir, e.is_file) for e in found)


def test_an_unchanged_settled_folder_is_not_read_again(tmp_path: Path) -> None:
    """A second listing of a folder that did not change comes from memory."""
    touch(tmp_path / "a.jsonl")
    listings = later()
    listings.entries(str(tmp_path))
    listings.entries(str(tmp_path))
    expected = 1
    assert expected == listings.reads


def test_a_new_file_is_seen_on_the_next_listing(tmp_path: Path) -> None:
    """Adding a file moves the folder's times: the next listing reads it again and has it."""
    touch(tmp_path / "a.jsonl")
    listings = later()
    listings.entries(str(tmp_path))
    touch(tmp_path / "b.jsonl")
    expected = ["a.jsonl", "b.jsonl"]
    assert expected == names(listings.entries(str(tmp_path)))


def test_a_removed_file_is_gone_from_the_next_listing(tmp_path: Path) -> None:
    """Removing a file moves the folder's times too."""
    touch(tmp_path / "a.jsonl")
    touch(tmp_path / "b.jsonl")
    listings = later()
    listings.entries(str(tmp_path))
    (tmp_path / "b.jsonl").unlink()
    expected = ["a.jsonl"]
    assert expected == names(listings.entries(str(tmp_path)))


def test_a_folder_changed_just_now_is_read_every_time(tmp_path: Path) -> None:
    """A folder changed within the settle time is not kept: an entry added in the same tick of
    the file system's clock could leave its times as they were."""
    touch(tmp_path / "a.jsonl")
    listings = Listings()
    listings.entries(str(tmp_path))
    listings.entries(str(tmp_path))
    expected = 2
    assert expected == listings.reads


def test_a_deleted_folder_raises_as_scandir_does(tmp_path: Path) -> None:
    """A kept folder that was deleted is not answered from memory."""
    folder = tmp_path / "d"
    touch(folder / "a.jsonl")
    listings = later()
    listings.entries(str(folder))
    shutil.rmtree(folder)
    with pytest.raises(FileNotFoundError):
        listings.entries(str(folder))


def test_a_folder_replaced_by_another_is_read_again(tmp_path: Path) -> None:
    """A folder moved away and another put in its place (a new inode) is read afresh."""
    folder = tmp_path / "d"
    touch(folder / "old.jsonl")
    listings = later()
    listings.entries(str(folder))
    os.rename(folder, tmp_path / "gone")
    touch(folder / "new.jsonl")
    expected = ["new.jsonl"]
    assert expected == names(listings.entries(str(folder)))


def test_forget_unseen_drops_folders_the_last_walk_did_not_ask_for(tmp_path: Path) -> None:
    """After ``forget_unseen`` only the folders asked for since the call before are kept."""
    touch(tmp_path / "a" / "x.jsonl")
    touch(tmp_path / "b" / "y.jsonl")
    listings = later()
    listings.entries(str(tmp_path / "a"))
    listings.entries(str(tmp_path / "b"))
    listings.forget_unseen()
    listings.entries(str(tmp_path / "a"))
    listings.forget_unseen()
    listings.entries(str(tmp_path / "b"))
    expected = 3
    assert expected == listings.reads


def test_a_second_walk_of_a_still_tree_reads_no_folder(tmp_path: Path) -> None:
    """Walking a tree that did not change again reads none of its folders from disk."""
    touch(tmp_path / "p" / "s1.jsonl")
    touch(tmp_path / "p" / "s1" / "subagents" / "a.jsonl")
    listings = later()
    walk_tree(tmp_path, is_jsonl_name, found, listings)
    first = listings.reads
    walk_tree(tmp_path, is_jsonl_name, found, listings)
    expected = (4, 4)
    assert expected == (first, listings.reads)


def test_a_walk_finds_a_file_added_deep_in_a_kept_tree(tmp_path: Path) -> None:
    """A file added to a kept subfolder is found: only its folder is read again."""
    touch(tmp_path / "p" / "s1.jsonl")
    listings = later()
    walk_tree(tmp_path, is_jsonl_name, found, listings)
    added = touch(tmp_path / "p" / "s2.jsonl")
    files = walk_tree(tmp_path, is_jsonl_name, found, listings).files
    expected = ([Found(str(tmp_path / "p" / "s1.jsonl")), Found(str(added))], 3)
    assert expected == (files, listings.reads)
