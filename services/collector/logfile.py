"""Byte-level reading of an append-only log file, shared by every provider's reader.

The cursor is the contract with the store (DESIGN.md invariant 4): ``offset`` always sits just
after a newline, so a half-written last line is read only once its newline has arrived; the
file's ``dev``/``ino`` and a hash of its first bytes recognise a replaced, truncated or rewritten
file, which the reader then reads again from the start (its records keep their keys, so nothing
is counted twice).

This module knows bytes, identities and lines; what a line means is the provider's business,
handed in as a ``parse`` callback (see ``read_complete_lines``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from bus.messages import FileCursor, Prompt, SkipCounts, UsageRecord

HEAD_MAX: Final = 4096
"""How many leading bytes identify a file's content (enough to hold its first line's ids)."""

LINE_CAP: Final = 256 << 20
"""A line longer than this is skipped (and counted) instead of held in memory."""

DEFAULT_MAX_BYTES: Final = 8 << 20
"""About how many bytes one read takes in before it hands back (see ``read_complete_lines``)."""

LONG_LINE_STEP: Final = 1 << 20
"""The smallest step ``read_through_newline`` reads a long line in."""

OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
"""Read-only, never blocking on a FIFO that stands where a log should be, binary on Windows."""

T = TypeVar("T")

ParseChunk = Callable[[bytes, int, int], int]
"""``parse(chunk, stop, base)``: feed the lines of ``chunk[:stop]`` (which ends with a newline),
whose first byte is at file offset ``base``; return how much was consumed: ``stop``, or the
start of a line that cannot be decided until more of the file is written."""


@dataclass(slots=True)
class Increment:
    """The outcome of one read of a log file (each provider's reader extends it).

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
    prompts: list[Prompt] = field(default_factory=list)
    """User prompts found in the same span (``services.collector.prompts``)."""


def read_regular_file(
    path: str,
    read: Callable[[int, os.stat_result], T],
    *,
    gone: Callable[[], T],
    unreadable: Callable[[], T],
) -> T:
    """``read(fd, st)`` on ``path`` opened read-only, if it is a regular file.

    Returns ``gone()`` when the file does not exist (before or while it is read) and
    ``unreadable()`` when it cannot be opened or read, or is not a regular file (a directory,
    FIFO or device, where reading could block or fail). The descriptor is always closed.
    """
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        return gone()
    except OSError:
        return unreadable()
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return unreadable()
        return read(fd, st)
    except FileNotFoundError:
        return gone()
    except OSError:
        return unreadable()
    finally:
        os.close(fd)


def read_at(fd: int, length: int, offset: int) -> bytes:
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


def head_sha1(fd: int, length: int) -> str:
    """sha1 hex of the file's first ``length`` bytes."""
    head = read_at(fd, length, 0) if length else b""
    return hashlib.sha1(head, usedforsecurity=False).hexdigest()


def same_file(fd: int, st: os.stat_result, cursor: FileCursor) -> bool:
    """True when the open file is the one the cursor describes and still holds what was read."""
    if (st.st_dev, st.st_ino) != (cursor.dev, cursor.ino) or st.st_size < cursor.offset:
        return False
    return head_sha1(fd, cursor.head_len) == cursor.head_sha1


def cursor_after(
    fd: int, path: str, st: os.stat_result, offset: int, verified: FileCursor | None
) -> FileCursor:
    """The cursor for ``offset``; reuses the verified head hash when its length is unchanged.

    ``verified`` is the cursor the read started from, if ``same_file`` accepted it. The result
    carries no ``state``; a reader with parser state adds its own.
    """
    head_len = min(HEAD_MAX, offset)
    if verified is not None and verified.head_len == head_len:
        sha1 = verified.head_sha1
    else:
        sha1 = head_sha1(fd, head_len)
    return FileCursor(
        path=path,
        dev=st.st_dev,
        ino=st.st_ino,
        offset=offset,
        head_len=head_len,
        head_sha1=sha1,
    )


def stat_at_cursor(path: str, cursor: FileCursor | None) -> os.stat_result | None:
    """The stat of ``path`` if it is still the cursor's file and ends exactly at its offset.

    One stat and no open: a cheap way to skip a file with nothing past its cursor. ``None``
    without a cursor, when the file changed, or when it cannot be stat'ed.
    """
    if cursor is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    if (st.st_size, st.st_ino, st.st_dev) != (cursor.offset, cursor.ino, cursor.dev):
        return None
    return st


def unchanged(path: str, cursor: FileCursor | None) -> bool:
    """Cheap check (one stat, no open) that an append-only file has nothing past its cursor."""
    return stat_at_cursor(path, cursor) is not None


def read_complete_lines(
    fd: int,
    offset: int,
    max_bytes: int,
    line_cap: int,
    parse: ParseChunk,
    oversized: Callable[[], None],
) -> tuple[int, bool]:
    """Hand the complete lines of one budget-sized chunk from ``offset`` to ``parse``.

    Returns the offset to resume at (always just after a newline) and whether more may be
    waiting right now. A half-written last line is left for the next read. A single line longer
    than ``max_bytes`` is read whole (``read_through_newline``); one longer than ``line_cap`` is
    not parsed but reported to ``oversized()`` once its newline has arrived. When ``parse``
    consumes less than it was given, the read stops there and says nothing more is waiting.
    """
    chunk = read_at(fd, max_bytes, offset)
    full = len(chunk) == max_bytes
    last_newline = chunk.rfind(b"\n")
    if last_newline >= 0:
        stop = last_newline + 1
        done = parse(chunk, stop, offset)
        if done < stop:
            return offset + done, False
        # A full chunk means the budget, not the file, ended this read.
        return offset + stop, full
    if not full:
        # Only a half-written line (or nothing): wait for its newline.
        return offset, False
    line, end = read_through_newline(fd, offset, chunk, line_cap)
    if end is None:
        return offset, False
    if line is None:
        oversized()
    elif parse(line, len(line), offset) < len(line):
        return offset, False
    return end, True


def read_through_newline(
    fd: int, offset: int, head: bytes, line_cap: int
) -> tuple[bytes | None, int | None]:
    """The line starting at ``offset`` (whose first bytes are ``head``) and the offset after its
    newline.

    Returns ``(None, None)`` while the newline has not arrived, and ``(None, end)`` for a line
    longer than ``line_cap``, whose bytes are scanned but not kept.
    """
    buf = bytearray(head)
    pos = offset + len(head)
    step = max(len(head), LONG_LINE_STEP)
    keep = len(buf) <= line_cap
    while True:
        piece = read_at(fd, step, pos)
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


@dataclass(slots=True)
class SkipTally:
    """Mutable skip counters for one read, frozen into ``SkipCounts`` at the end."""

    malformed_json: int = 0
    invalid_utf8: int = 0
    wrong_shape: int = 0
    oversized_line: int = 0
    rewound: int = 0

    def count(self, reason: str | None) -> None:
        """Count one rejected line under ``reason`` (a field name; ``None`` is a line that was
        fine)."""
        if reason is not None:
            setattr(self, reason, getattr(self, reason) + 1)

    def frozen(self) -> SkipCounts:
        """The counts as the wire type."""
        return SkipCounts(
            malformed_json=self.malformed_json,
            invalid_utf8=self.invalid_utf8,
            wrong_shape=self.wrong_shape,
            oversized_line=self.oversized_line,
            rewound=self.rewound,
        )
