"""Read what was appended to one Claude Code transcript since its committed cursor.

The cursor is the contract with the store (DESIGN.md invariant 4): ``offset`` always sits just
after a newline, so a half-written last line is read only once its newline has arrived; the
file's ``dev``/``ino`` and a hash of its first bytes recognise a replaced, truncated or rewritten
file, which is then read again from the start (its records keep their keys, so nothing is
counted twice).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from typing import Final

from bus.messages import FileCursor, SkipCounts, UsageRecord
from services.collector.claude.records import USAGE_MARKER, parse_marked_line

HEAD_MAX: Final = 4096
"""How many leading bytes identify a file's content (enough to hold its first line's ids)."""

LINE_CAP: Final = 256 << 20
"""A line longer than this is skipped (and counted) instead of held in memory."""

DEFAULT_MAX_BYTES: Final = 8 << 20


@dataclass(slots=True)
class Increment:
    """The outcome of one read.

    ``after`` is the cursor to commit with ``records``: ``None`` when the file no longer exists,
    the unchanged cursor when it could not be read (``skipped.unreadable`` is then 1). ``more``
    says the read stopped at its byte budget, so the caller should read again right away.
    ``reset`` says the file was replaced or rewritten and was read again from offset 0.
    """

    records: list[UsageRecord] = field(default_factory=list)
    after: FileCursor | None = None
    skipped: SkipCounts = field(default_factory=SkipCounts)
    more: bool = False
    reset: bool = False


@dataclass(slots=True)
class _Tally:
    """Mutable skip counters for one read, frozen into ``SkipCounts`` at the end."""

    malformed_json: int = 0
    invalid_utf8: int = 0
    wrong_shape: int = 0
    oversized_line: int = 0
    rewound: int = 0

    def frozen(self) -> SkipCounts:
        """The counts as the wire type."""
        return SkipCounts(
            malformed_json=self.malformed_json,
            invalid_utf8=self.invalid_utf8,
            wrong_shape=self.wrong_shape,
            oversized_line=self.oversized_line,
            rewound=self.rewound,
        )


@dataclass(slots=True)
class _Batch:
    """Where one read puts what it parses: records, and skips by reason."""

    project: str
    session: str
    records: list[UsageRecord] = field(default_factory=list)
    tally: _Tally = field(default_factory=_Tally)

    def parse_lines(self, chunk: bytes, stop: int) -> None:
        """Parse every usage line in ``chunk[:stop]`` (which ends with a newline).

        Rather than splitting the chunk into lines, jump from one ``"usage":{`` marker to the
        next and cut out only the lines that hold one: most bytes (tool output, user turns) are
        never copied or looked at in Python.
        """
        find, rfind = chunk.find, chunk.rfind
        project, session, tally = self.project, self.session, self.tally
        append = self.records.append
        pos = 0
        while (hit := find(USAGE_MARKER, pos, stop)) >= 0:
            line_start = rfind(b"\n", pos, hit) + 1 or pos
            line_end = find(b"\n", hit, stop)
            result = parse_marked_line(chunk[line_start:line_end], project, session)
            if isinstance(result, str):
                setattr(tally, result, getattr(tally, result) + 1)
            elif result is not None:
                append(result)
            pos = line_end + 1


def read_increment(
    path: str,
    project: str,
    session: str,
    cursor: FileCursor | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    line_cap: int = LINE_CAP,
) -> Increment:
    """Read complete lines appended to ``path`` since ``cursor`` (or from the start).

    At most about ``max_bytes`` are read per call, except that a single line longer than that is
    still read whole (up to ``line_cap``; a longer line is skipped once its newline arrives and
    counted as ``oversized_line``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return Increment(after=None)
    except OSError:
        return _unreadable(cursor)
    try:
        return _read_open(fd, path, project, session, cursor, max(1, max_bytes), line_cap)
    except FileNotFoundError:
        return Increment(after=None)
    except OSError:
        return _unreadable(cursor)
    finally:
        os.close(fd)


def _unreadable(cursor: FileCursor | None) -> Increment:
    """Leave the cursor where it was and let the caller report the file."""
    return Increment(after=cursor, skipped=SkipCounts(unreadable=1))


def _read_open(
    fd: int,
    path: str,
    project: str,
    session: str,
    cursor: FileCursor | None,
    max_bytes: int,
    line_cap: int,
) -> Increment:
    """``read_increment`` on an open descriptor."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        # A directory, FIFO or device where a transcript should be: reading could block or fail.
        return _unreadable(cursor)
    batch = _Batch(project, session)
    start = 0
    reset = False
    if cursor is not None:
        if _same_file(fd, st, cursor):
            start = cursor.offset
        else:
            reset = True
            batch.tally.rewound = 1
    end, more = _consume(fd, start, max_bytes, line_cap, batch)
    after = _cursor_after(fd, path, st, end, None if reset else cursor)
    return Increment(batch.records, after, batch.tally.frozen(), more, reset)


def _read_at(fd: int, length: int, offset: int) -> bytes:
    """Up to ``length`` bytes from ``offset``; fewer only at the end of the file.

    ``os.pread`` would do, but it does not exist on Windows. ``os.read`` may return short, so
    keep reading: a short chunk must mean "end of file", never "the kernel felt like it".
    """
    os.lseek(fd, offset, os.SEEK_SET)
    data = os.read(fd, length)
    if len(data) == length or not data:
        return data
    parts = [data]
    got = len(data)
    while got < length:
        more = os.read(fd, length - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _same_file(fd: int, st: os.stat_result, cursor: FileCursor) -> bool:
    """True when the open file is the one the cursor describes and still holds what was read."""
    if (st.st_dev, st.st_ino) != (cursor.dev, cursor.ino) or st.st_size < cursor.offset:
        return False
    return _head_sha1(fd, cursor.head_len) == cursor.head_sha1


def _head_sha1(fd: int, length: int) -> str:
    """sha1 hex of the file's first ``length`` bytes."""
    head = _read_at(fd, length, 0) if length else b""
    return hashlib.sha1(head, usedforsecurity=False).hexdigest()


def _cursor_after(
    fd: int, path: str, st: os.stat_result, offset: int, verified: FileCursor | None
) -> FileCursor:
    """The cursor for ``offset``; reuses the verified head hash when its length is unchanged."""
    head_len = min(HEAD_MAX, offset)
    if verified is not None and verified.head_len == head_len:
        head_sha1 = verified.head_sha1
    else:
        head_sha1 = _head_sha1(fd, head_len)
    return FileCursor(
        path=path,
        dev=st.st_dev,
        ino=st.st_ino,
        offset=offset,
        head_len=head_len,
        head_sha1=head_sha1,
    )


def _consume(
    fd: int, offset: int, max_bytes: int, line_cap: int, batch: _Batch
) -> tuple[int, bool]:
    """Parse the complete lines of one budget-sized chunk; return the new offset and ``more``."""
    chunk = _read_at(fd, max_bytes, offset)
    full = len(chunk) == max_bytes
    last_newline = chunk.rfind(b"\n")
    if last_newline >= 0:
        batch.parse_lines(chunk, last_newline + 1)
        # A full chunk means the budget, not the file, ended this read.
        return offset + last_newline + 1, full
    if not full:
        # Only a half-written line (or nothing): wait for its newline.
        return offset, False
    return _consume_long_line(fd, offset, chunk, line_cap, batch)


def _consume_long_line(
    fd: int, offset: int, head: bytes, line_cap: int, batch: _Batch
) -> tuple[int, bool]:
    """Read one line longer than the budget, whose first bytes are ``head``."""
    line, end = _read_through_newline(fd, offset, head, line_cap)
    if end is None:
        return offset, False
    if line is None:
        batch.tally.oversized_line += 1
    else:
        batch.parse_lines(line, len(line))
    return end, True


def _read_through_newline(
    fd: int, offset: int, head: bytes, line_cap: int
) -> tuple[bytes | None, int | None]:
    """The line starting at ``offset`` and the offset after its newline.

    Returns ``(None, None)`` while the newline has not arrived, and ``(None, end)`` for a line
    longer than ``line_cap``, whose bytes are scanned but not kept.
    """
    buf = bytearray(head)
    pos = offset + len(head)
    step = max(len(head), 1 << 20)
    keep = len(buf) <= line_cap
    while True:
        piece = _read_at(fd, step, pos)
        if not piece:
            return None, None
        newline = piece.find(b"\n")
        taken = piece if newline < 0 else piece[: newline + 1]
        if keep and len(buf) + len(taken) <= line_cap:
            buf += taken
        else:
            keep = False
            buf = bytearray()
        pos += len(taken)
        if newline >= 0:
            return (bytes(buf) if keep else None), pos
