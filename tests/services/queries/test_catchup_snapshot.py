"""The catch-up snapshot's scan: saved directory listings stand in only for unchanged folders."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from services.queries import catchup_snapshot as snapshots


def touch(path: Path, text: str = "") -> Path:
    """A file at ``path`` holding ``text``, with its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def age(root: Path) -> None:
    """Date ``root`` and everything under it a minute back, as logs nobody writes."""
    past = time.time() - 60
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


def scan(root: Path, listings: snapshots.Listings | None = None) -> snapshots.Scan:
    """The scan of ``root`` alone, with ``listings`` standing in for unchanged folders."""
    out: snapshots.Scan = []
    snapshots.scan_tree(str(root), out, [0], listings)
    return out


def listed(root: Path) -> snapshots.Listings:
    """The listings a scan of ``root`` records."""
    listings: snapshots.Listings = {}
    snapshots.scan_tree(str(root), [], [0], None, listings)
    return listings


def test_saved_listings_give_the_same_scan_for_an_unchanged_tree(tmp_path: Path) -> None:
    """With nothing changed, the scan from saved listings equals a scan that lists every folder."""
    touch(tmp_path / "p" / "a.jsonl", "x")
    touch(tmp_path / "p" / "s" / "subagents" / "b.jsonl", "y")
    age(tmp_path)
    expected = scan(tmp_path)
    assert expected == scan(tmp_path, listed(tmp_path))


def test_saved_listings_are_used_for_unchanged_folders(tmp_path: Path) -> None:
    """An unchanged folder's saved names are what the scan looks at: a made-up name shows."""
    touch(tmp_path / "a.jsonl")
    age(tmp_path)
    listings = listed(tmp_path)
    stamp, folders, _files = listings[str(tmp_path)]
    listings[str(tmp_path)] = (stamp, folders, ("a.jsonl", "invented.jsonl"))
    expected = ("invented.jsonl", None)
    assert expected == scan(tmp_path, listings)[-1]


def test_a_file_added_to_a_saved_folder_is_in_the_scan(tmp_path: Path) -> None:
    """Adding a file moves its folder's times: the folder is listed again and the file shows."""
    touch(tmp_path / "p" / "a.jsonl")
    age(tmp_path)
    listings = listed(tmp_path)
    touch(tmp_path / "p" / "new.jsonl")
    names = [entry[0] for entry in scan(tmp_path, listings)]
    expected = True
    assert expected == ("new.jsonl" in names)


def test_a_file_removed_from_a_saved_folder_is_gone_from_the_scan(tmp_path: Path) -> None:
    """Removing a file moves its folder's times too."""
    touch(tmp_path / "a.jsonl")
    gone = touch(tmp_path / "b.jsonl")
    age(tmp_path)
    listings = listed(tmp_path)
    gone.unlink()
    names = [entry[0] for entry in scan(tmp_path, listings)]
    expected = False
    assert expected == ("b.jsonl" in names)


def test_an_append_to_a_file_of_a_saved_folder_changes_the_scan(tmp_path: Path) -> None:
    """Appends do not touch the folder, yet every file is still looked at: its size shows."""
    log = touch(tmp_path / "a.jsonl", "x")
    age(tmp_path)
    listings = listed(tmp_path)
    before = scan(tmp_path, listings)
    with log.open("a") as f:
        f.write("more")
    expected = False
    assert expected == (before == scan(tmp_path, listings))


def test_a_recently_changed_folder_makes_the_scan_unsettled(tmp_path: Path) -> None:
    """A file deleted just now shows only in its folder's time: the scan is not settled, so
    its saved listings never stand in for anything."""
    touch(tmp_path / "a.jsonl")
    gone = touch(tmp_path / "b.jsonl")
    age(tmp_path)
    gone.unlink()
    newest = [0]
    snapshots.scan_tree(str(tmp_path), [], newest)
    expected = False
    assert expected == snapshots.settled(newest[0], snapshots.now())


@pytest.mark.parametrize("missing", ["root", "folder"])
def test_a_missing_root_or_folder_is_recorded_as_unreadable(tmp_path: Path, missing: str) -> None:
    """A root that is not there is ``(root, None)``, even with listings saved before."""
    root = tmp_path / "root"
    touch(root / "a.jsonl")
    listings = listed(root) if missing == "folder" else None
    (root / "a.jsonl").unlink()
    root.rmdir()
    expected = [(str(root), None)]
    assert expected == scan(root, listings)


def test_a_second_look_at_the_same_inputs_reuses_the_first(tmp_path: Path) -> None:
    """Within one command, looking again at the same inputs costs no second scan."""
    touch(tmp_path / "a.jsonl")
    snapshots.forget_looks()
    first = snapshots.look([str(tmp_path)], str(tmp_path / "state"), [], None)
    touch(tmp_path / "b.jsonl")
    expected = first
    assert expected is snapshots.look([str(tmp_path)], str(tmp_path / "state"), [], None)


def test_after_forget_looks_a_change_shows(tmp_path: Path) -> None:
    """Once a catch-up forgot the looks, the next look scans again and sees the new file."""
    touch(tmp_path / "a.jsonl")
    snapshots.forget_looks()
    snapshots.look([str(tmp_path)], str(tmp_path / "state"), [], None)
    touch(tmp_path / "b.jsonl")
    snapshots.forget_looks()
    _taken_at, scan_now, _newest, _listed = snapshots.look(
        [str(tmp_path)], str(tmp_path / "state"), [], None
    )
    expected = True
    assert expected == any(entry[0] == "b.jsonl" for entry in scan_now)
