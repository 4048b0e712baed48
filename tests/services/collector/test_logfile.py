"""The byte-level reading every provider's reader shares: opening, identity, cursors, lines."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from bus.messages import FileCursor, SkipCounts
from services.collector.logfile import (
    HEAD_MAX,
    SkipTally,
    cursor_after,
    head_sha1,
    read_at,
    read_complete_lines,
    read_regular_file,
    read_through_newline,
    same_file,
    stat_at_cursor,
    unchanged,
)


def sha1(data: bytes) -> str:
    """sha1 hex of ``data``."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A log of two complete lines and a half-written third."""
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"one\ntwo\nthr")
    return path


@pytest.fixture
def fd(log: Path) -> Iterator[int]:
    """The log, open for reading."""
    descriptor = os.open(log, os.O_RDONLY)
    yield descriptor
    os.close(descriptor)


def replace(cursor: FileCursor, **changes: object) -> FileCursor:
    """``cursor`` with some fields changed."""
    return msgspec.structs.replace(cursor, **changes)


def cursor_at(path: Path, offset: int, head: bytes | None = None) -> FileCursor:
    """A cursor ``offset`` bytes into ``path`` whose head hash covers ``head`` (default: the
    file's own first ``offset`` bytes)."""
    st = path.stat()
    if head is None:
        head = path.read_bytes()[:offset]
    return FileCursor(
        path=str(path),
        dev=st.st_dev,
        ino=st.st_ino,
        offset=offset,
        head_len=len(head),
        head_sha1=sha1(head),
    )


class Lines:
    """A ``parse`` callback that records the lines it is given (and their file offsets)."""

    def __init__(self, stop_before: bytes | None = None) -> None:
        self.lines: list[tuple[int, bytes]] = []
        self.oversized = 0
        self.stop_before = stop_before

    def parse(self, chunk: bytes, stop: int, base: int) -> int:
        """Record every line of ``chunk[:stop]``; stop at a line equal to ``stop_before``."""
        pos = 0
        while pos < stop:
            end = chunk.index(b"\n", pos, stop)
            if chunk[pos:end] == self.stop_before:
                return pos
            self.lines.append((base + pos, chunk[pos:end]))
            pos = end + 1
        return stop

    def skip(self) -> None:
        """Count an oversized line."""
        self.oversized += 1

    def read(
        self, fd: int, offset: int, max_bytes: int = 1 << 20, line_cap: int = 1 << 20
    ) -> tuple[int, bool]:
        """``read_complete_lines`` into this recorder."""
        return read_complete_lines(fd, offset, max_bytes, line_cap, self.parse, self.skip)


# -- read_regular_file ---------------------------------------------------------------------


def test_regular_file_is_handed_to_read(log: Path) -> None:
    """``read`` gets the open file and its stat."""
    expected = (b"one", log.stat().st_size)
    assert expected == read_regular_file(
        str(log),
        lambda fd, st: (read_at(fd, 3, 0), st.st_size),
        gone=lambda: (b"", -1),
        unreadable=lambda: (b"", -2),
    )


def test_missing_file_is_gone(tmp_path: Path) -> None:
    """A path with nothing there gives ``gone()``."""
    expected = "gone"
    assert expected == read_regular_file(
        str(tmp_path / "none.jsonl"), lambda fd, st: "read", gone=lambda: "gone", unreadable=str
    )


def test_directory_is_unreadable(tmp_path: Path) -> None:
    """A directory where a log should be gives ``unreadable()`` without being read."""
    expected = "unreadable"
    assert expected == read_regular_file(
        str(tmp_path), lambda fd, st: "read", gone=str, unreadable=lambda: "unreadable"
    )


def test_error_while_reading_is_unreadable(log: Path) -> None:
    """An ``OSError`` raised by ``read`` gives ``unreadable()``."""

    def fail(fd: int, st: os.stat_result) -> str:
        raise OSError(5, "I/O error")

    expected = "unreadable"
    assert expected == read_regular_file(str(log), fail, gone=str, unreadable=lambda: "unreadable")


def test_file_vanishing_while_read_is_gone(log: Path) -> None:
    """A ``FileNotFoundError`` raised by ``read`` gives ``gone()``."""

    def vanish(fd: int, st: os.stat_result) -> str:
        raise FileNotFoundError(2, "No such file")

    expected = "gone"
    assert expected == read_regular_file(str(log), vanish, gone=lambda: "gone", unreadable=str)


def test_descriptor_is_closed_after_read(log: Path) -> None:
    """The descriptor handed to ``read`` is closed once it returns."""
    seen: list[int] = []
    read_regular_file(str(log), lambda fd, st: seen.append(fd), gone=str, unreadable=str)
    with pytest.raises(OSError):
        os.fstat(seen[0])


# -- read_at and head_sha1 -----------------------------------------------------------------


def test_read_at_reads_from_offset(fd: int) -> None:
    """``read_at`` returns ``length`` bytes starting at ``offset``."""
    expected = b"two"
    assert expected == read_at(fd, 3, 4)


def test_read_at_is_short_only_at_end_of_file(fd: int) -> None:
    """Asking past the end returns what there is."""
    expected = b"thr"
    assert expected == read_at(fd, 100, 8)


def test_read_at_keeps_reading_after_a_short_read(fd: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A short ``os.read`` before the end of the file is followed by another read."""
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda f, n: real_read(f, min(n, 2)))
    expected = b"one\ntw"
    assert expected == read_at(fd, 6, 0)


def test_head_sha1_hashes_the_first_bytes(fd: int) -> None:
    """``head_sha1`` is the sha1 of the file's first ``length`` bytes."""
    expected = sha1(b"one\n")
    assert expected == head_sha1(fd, 4)


def test_head_sha1_of_nothing_is_the_empty_hash(fd: int) -> None:
    """A zero-length head hashes the empty string."""
    expected = sha1(b"")
    assert expected == head_sha1(fd, 0)


# -- same_file and cursor_after ------------------------------------------------------------


def test_same_file_accepts_the_cursors_file(log: Path, fd: int) -> None:
    """Same identity, not shorter, same head: the cursor still applies."""
    expected = True
    assert expected == same_file(fd, os.fstat(fd), cursor_at(log, 8))


def test_same_file_rejects_a_rewritten_head(log: Path, fd: int) -> None:
    """A head that hashes differently means the file was rewritten."""
    expected = False
    assert expected == same_file(fd, os.fstat(fd), cursor_at(log, 4, head=b"ONE\n"))


def test_same_file_rejects_a_truncated_file(log: Path, fd: int) -> None:
    """A file shorter than the cursor's offset was truncated."""
    expected = False
    assert expected == same_file(fd, os.fstat(fd), cursor_at(log, 100, head=b"one\n"))


def test_same_file_rejects_another_inode(log: Path, fd: int) -> None:
    """A different inode is a different (replaced) file."""
    cursor = cursor_at(log, 4)
    cursor = replace(cursor, ino=cursor.ino + 1)
    expected = False
    assert expected == same_file(fd, os.fstat(fd), cursor)


def test_cursor_after_describes_the_file_at_offset(log: Path, fd: int) -> None:
    """The new cursor carries the file's identity, the offset and its head hash."""
    expected = cursor_at(log, 8)
    assert expected == cursor_after(fd, str(log), os.fstat(fd), 8, None)


def test_cursor_after_caps_the_head_at_head_max(tmp_path: Path) -> None:
    """Only the first ``HEAD_MAX`` bytes are hashed, however far the cursor is."""
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * (HEAD_MAX + 10) + b"\n")
    descriptor = os.open(path, os.O_RDONLY)
    try:
        after = cursor_after(descriptor, str(path), os.fstat(descriptor), HEAD_MAX + 11, None)
    finally:
        os.close(descriptor)
    expected = (HEAD_MAX, sha1(b"x" * HEAD_MAX))
    assert expected == (after.head_len, after.head_sha1)


def test_cursor_after_reuses_a_verified_hash_of_the_same_length(log: Path, fd: int) -> None:
    """A verified cursor's hash is kept, not recomputed, when the head length is unchanged."""
    verified = replace(cursor_at(log, 8), head_sha1="kept")
    expected = "kept"
    assert expected == cursor_after(fd, str(log), os.fstat(fd), 8, verified).head_sha1


def test_cursor_after_rehashes_when_the_head_grows(log: Path, fd: int) -> None:
    """A verified cursor's hash of a shorter head is not reused."""
    verified = replace(cursor_at(log, 4), head_sha1="stale")
    expected = sha1(b"one\ntwo\n")
    assert expected == cursor_after(fd, str(log), os.fstat(fd), 8, verified).head_sha1


# -- stat_at_cursor and unchanged ----------------------------------------------------------


def test_unchanged_when_the_file_ends_at_the_cursor(log: Path) -> None:
    """Same identity and size as the cursor: nothing to read."""
    expected = True
    assert expected == unchanged(str(log), cursor_at(log, log.stat().st_size))


def test_changed_when_the_file_grew(log: Path) -> None:
    """A file longer than the cursor's offset has something to read."""
    expected = False
    assert expected == unchanged(str(log), cursor_at(log, 8))


def test_changed_without_a_cursor(log: Path) -> None:
    """A file never read is never unchanged."""
    expected = False
    assert expected == unchanged(str(log), None)


def test_changed_when_the_file_is_gone(log: Path) -> None:
    """A file that cannot be stat'ed is left to the reader to report."""
    cursor = cursor_at(log, log.stat().st_size)
    log.unlink()
    expected = False
    assert expected == unchanged(str(log), cursor)


def test_stat_at_cursor_returns_the_stat(log: Path) -> None:
    """An unchanged file's stat comes back (for callers that check more, e.g. its mtime)."""
    st = stat_at_cursor(str(log), cursor_at(log, log.stat().st_size))
    expected = log.stat().st_mtime_ns
    assert expected == (st.st_mtime_ns if st is not None else None)


# -- read_complete_lines -------------------------------------------------------------------


def test_complete_lines_are_parsed_with_their_offsets(fd: int) -> None:
    """Every complete line reaches ``parse`` with its file offset."""
    lines = Lines()
    lines.read(fd, 0)
    expected = [(0, b"one"), (4, b"two")]
    assert expected == lines.lines


def test_read_stops_after_the_last_newline(fd: int) -> None:
    """The half-written last line is left for later: the offset is after ``two\\n``."""
    expected = (8, False)
    assert expected == Lines().read(fd, 0)


def test_read_resumes_at_the_offset(fd: int) -> None:
    """Reading from an offset parses only the lines after it."""
    lines = Lines()
    lines.read(fd, 4)
    expected = [(4, b"two")]
    assert expected == lines.lines


def test_half_written_line_alone_waits(fd: int) -> None:
    """With only a half-written line left, the offset stays put."""
    expected = (8, False)
    assert expected == Lines().read(fd, 8)


def test_budget_ending_a_read_says_more(fd: int) -> None:
    """A chunk that fills the byte budget means more may be waiting."""
    expected = (4, True)
    assert expected == Lines().read(fd, 0, max_bytes=5)


def test_line_longer_than_the_budget_is_read_whole(tmp_path: Path) -> None:
    """A line longer than ``max_bytes`` is still read, whole."""
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"x" * 50 + b"\nnext\n")
    descriptor = os.open(path, os.O_RDONLY)
    lines = Lines()
    try:
        lines.read(descriptor, 0, max_bytes=10)
    finally:
        os.close(descriptor)
    expected = [(0, b"x" * 50)]
    assert expected == lines.lines


def test_line_longer_than_the_cap_is_reported_oversized(tmp_path: Path) -> None:
    """A line longer than ``line_cap`` is skipped, counted once, and the read moves past it."""
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"x" * 50 + b"\nnext\n")
    descriptor = os.open(path, os.O_RDONLY)
    lines = Lines()
    try:
        end = lines.read(descriptor, 0, max_bytes=10, line_cap=20)
    finally:
        os.close(descriptor)
    expected = ((51, True), 1, [])
    assert expected == (end, lines.oversized, lines.lines)


def test_parse_stopping_early_stops_the_read(fd: int) -> None:
    """When ``parse`` consumes less than it was given, the read resumes at that line later."""
    expected = (4, False)
    assert expected == Lines(stop_before=b"two").read(fd, 0)


# -- read_through_newline ------------------------------------------------------------------


def test_read_through_newline_returns_the_line_and_its_end(fd: int) -> None:
    """The line starting at the offset, newline included, and the offset after it."""
    expected = (b"two\n", 8)
    assert expected == read_through_newline(fd, 4, b"t", 100)


def test_read_through_newline_waits_for_the_newline(fd: int) -> None:
    """A line whose newline has not arrived gives nothing yet."""
    expected = (None, None)
    assert expected == read_through_newline(fd, 8, b"t", 100)


def test_read_through_newline_drops_a_line_over_the_cap(fd: int) -> None:
    """A line longer than ``line_cap`` is scanned to its end but not kept."""
    expected = (None, 8)
    assert expected == read_through_newline(fd, 4, b"t", 2)


# -- SkipTally -----------------------------------------------------------------------------


def test_tally_counts_a_reason() -> None:
    """``count`` adds one under the reason named."""
    tally = SkipTally()
    tally.count("malformed_json")
    tally.count("malformed_json")
    expected = SkipCounts(malformed_json=2)
    assert expected == tally.frozen()


def test_tally_ignores_a_fine_line() -> None:
    """``count(None)`` counts nothing."""
    tally = SkipTally()
    tally.count(None)
    expected = SkipCounts()
    assert expected == tally.frozen()


def test_tally_freezes_every_counter() -> None:
    """``frozen`` carries every counter into ``SkipCounts``."""
    tally = SkipTally(1, 2, 3, 4, 5)
    expected = SkipCounts(
        malformed_json=1, invalid_utf8=2, wrong_shape=3, oversized_line=4, rewound=5
    )
    assert expected == tally.frozen()
