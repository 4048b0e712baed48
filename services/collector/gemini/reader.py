"""Read what changed in one Gemini CLI chat file since its committed cursor.

**JSONL chats** are append-only logs and are read like Claude transcripts (DESIGN.md invariant
4): ``offset`` always sits just after a newline, so a half-written last line is read only once
its newline has arrived; the file's ``dev``/``ino`` and a hash of its first bytes recognise a
replaced, truncated or rewritten file, which is then read again from the start (its records keep
their keys, so nothing is counted twice). The cursor's ``state`` carries the session and the
current model reached at ``offset``, because a line names neither: they come from earlier lines.

**Legacy JSON chats** are one document that Gemini CLI rewrote whole on every message. Such a
file is read again, whole, whenever its identity, size or mtime differs from the cursor's, and
all of its records are emitted every time (their keys are deterministic, so the store counts
each once). Its cursor's ``offset`` is the size read and its ``state`` holds the mtime.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from typing import Final

import msgspec

from bus.messages import FileCursor, SkipCounts, UsageRecord
from services.collector.gemini.records import ChatParser, Collected, SkipReason, parse_document
from services.collector.gemini.roots import ChatLog

HEAD_MAX: Final = 4096
"""How many leading bytes identify a file's content (enough to hold its first line's ids)."""

LINE_CAP: Final = 256 << 20
"""A line (or legacy document) longer than this is skipped and counted instead of held in
memory."""

DEFAULT_MAX_BYTES: Final = 8 << 20


class ChatState(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The parser state a cursor carries (``FileCursor.state``, msgpack)."""

    session: str
    """The session of the next line: the last ``sessionId`` read, or the file stem."""
    model: str | None = None
    """The current model: the last ``model`` read."""
    mtime_ns: int = 0
    """Legacy JSON only: the mtime of the version read."""


_STATE_ENCODER: Final = msgspec.msgpack.Encoder()
_STATE_DECODER: Final = msgspec.msgpack.Decoder(ChatState)


def encode_state(state: ChatState) -> bytes:
    """The bytes of ``state`` for ``FileCursor.state``."""
    return _STATE_ENCODER.encode(state)


def decode_state(cursor: FileCursor, log: ChatLog) -> ChatState:
    """The state a cursor carries; the file's initial state if it carries none (or garbage)."""
    if cursor.state:
        try:
            return _STATE_DECODER.decode(cursor.state)
        except msgspec.DecodeError:
            pass
    return ChatState(session=log.session)


@dataclass(slots=True)
class Increment:
    """The outcome of one read.

    ``after`` is the cursor to commit with ``records``: ``None`` when the file no longer exists,
    the unchanged cursor when it could not be read (``skipped.unreadable`` is then 1). ``more``
    says the read stopped at its byte budget, so the caller should read again right away.
    ``reset`` says the file was replaced or rewritten and was read again from offset 0.
    ``unknown_model`` and ``fallback_timestamp`` are the keys of records that named no model or
    carried no usable timestamp (see ``records``).
    """

    records: list[UsageRecord] = field(default_factory=list)
    after: FileCursor | None = None
    skipped: SkipCounts = field(default_factory=SkipCounts)
    more: bool = False
    reset: bool = False
    unknown_model: set[str] = field(default_factory=set)
    fallback_timestamp: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Tally:
    """Mutable skip counters for one read, frozen into ``SkipCounts`` at the end."""

    malformed_json: int = 0
    invalid_utf8: int = 0
    wrong_shape: int = 0
    oversized_line: int = 0
    rewound: int = 0

    def count(self, reason: SkipReason | None) -> None:
        """Count one rejected line (``None`` is a line that was fine)."""
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


def read_increment(
    log: ChatLog,
    cursor: FileCursor | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    line_cap: int = LINE_CAP,
) -> Increment:
    """Read what changed in ``log`` since ``cursor`` (or all of it).

    For a JSONL chat, at most about ``max_bytes`` are read per call, except that a single line
    longer than that is still read whole (up to ``line_cap``; a longer line is skipped once its
    newline arrives and counted as ``oversized_line``). A legacy JSON chat is read whole (up to
    ``line_cap``).
    """
    path = log.path
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return Increment(after=None)
    except OSError:
        return _unreadable(cursor)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            # A directory, FIFO or device where a chat should be: reading could block or fail.
            return _unreadable(cursor)
        if log.legacy:
            return _read_document(fd, st, log, cursor, line_cap)
        return _read_lines(fd, st, log, cursor, max(1, max_bytes), line_cap)
    except FileNotFoundError:
        return Increment(after=None)
    except OSError:
        return _unreadable(cursor)
    finally:
        os.close(fd)


def unchanged(log: ChatLog, cursor: FileCursor | None) -> bool:
    """Cheap check (one stat, no open) that a file has nothing past its cursor."""
    if cursor is None:
        return False
    try:
        st = os.stat(log.path)
    except OSError:
        return False
    if (st.st_size, st.st_ino, st.st_dev) != (cursor.offset, cursor.ino, cursor.dev):
        return False
    return not log.legacy or st.st_mtime_ns == decode_state(cursor, log).mtime_ns


def _unreadable(cursor: FileCursor | None) -> Increment:
    """Leave the cursor where it was and let the caller report the file."""
    return Increment(after=cursor, skipped=SkipCounts(unreadable=1))


def _finish(
    collected: Collected, after: FileCursor, tally: _Tally, more: bool, reset: bool
) -> Increment:
    """The increment of a finished read."""
    return Increment(
        records=list(collected.records.values()),
        after=after,
        skipped=tally.frozen(),
        more=more,
        reset=reset,
        unknown_model=collected.unknown_model,
        fallback_timestamp=collected.fallback_timestamp,
    )


# -- JSONL -------------------------------------------------------------------------------------


def _read_lines(
    fd: int,
    st: os.stat_result,
    log: ChatLog,
    cursor: FileCursor | None,
    max_bytes: int,
    line_cap: int,
) -> Increment:
    """Read the complete lines after ``cursor`` of an open JSONL chat."""
    tally = _Tally()
    start = 0
    state = ChatState(session=log.session)
    verified = None
    if cursor is not None:
        if _same_file(fd, st, cursor):
            start = cursor.offset
            state = decode_state(cursor, log)
            verified = cursor
        else:
            tally.rewound = 1
    collected = Collected(log.project, sidechain=log.subagent)
    parser = ChatParser(
        collected, state.session, state.model, fallback_ms=st.st_mtime_ns // 1_000_000
    )
    end, more = _consume(fd, start, max_bytes, line_cap, parser, tally)
    after = _cursor_after(fd, log.path, st, end, verified)
    state = ChatState(session=parser.session, model=parser.model)
    after = msgspec.structs.replace(after, state=encode_state(state))
    return _finish(collected, after, tally, more, reset=cursor is not None and verified is None)


def _parse_lines(chunk: bytes, stop: int, base: int, parser: ChatParser, tally: _Tally) -> None:
    """Feed every line of ``chunk[:stop]`` (which ends with a newline) to ``parser``;
    ``base`` is the file offset of ``chunk[0]``."""
    find, feed, count = chunk.find, parser.feed, tally.count
    pos = 0
    while pos < stop:
        end = find(b"\n", pos, stop)
        count(feed(chunk[pos:end], base + pos))
        pos = end + 1


def _consume(
    fd: int, offset: int, max_bytes: int, line_cap: int, parser: ChatParser, tally: _Tally
) -> tuple[int, bool]:
    """Parse the complete lines of one budget-sized chunk; return the new offset and ``more``."""
    chunk = _read_at(fd, max_bytes, offset)
    full = len(chunk) == max_bytes
    last_newline = chunk.rfind(b"\n")
    if last_newline >= 0:
        _parse_lines(chunk, last_newline + 1, offset, parser, tally)
        # A full chunk means the budget, not the file, ended this read.
        return offset + last_newline + 1, full
    if not full:
        # Only a half-written line (or nothing): wait for its newline.
        return offset, False
    line, end = _read_through_newline(fd, offset, chunk, line_cap)
    if end is None:
        return offset, False
    if line is None:
        tally.oversized_line += 1
    else:
        _parse_lines(line, len(line), offset, parser, tally)
    return end, True


def _read_through_newline(
    fd: int, offset: int, head: bytes, line_cap: int
) -> tuple[bytes | None, int | None]:
    """The line starting at ``offset`` (whose first bytes are ``head``) and the offset after its
    newline.

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


# -- legacy JSON -------------------------------------------------------------------------------


def _read_document(
    fd: int, st: os.stat_result, log: ChatLog, cursor: FileCursor | None, line_cap: int
) -> Increment:
    """Read a legacy JSON chat whole, unless it is the version the cursor describes."""
    if cursor is not None and _same_version(st, cursor, log):
        return Increment(after=cursor)
    tally = _Tally()
    collected = Collected(log.project, sidechain=log.subagent)
    session = log.session
    if st.st_size > line_cap:
        tally.oversized_line = 1
        size = st.st_size
    else:
        content = _read_at(fd, st.st_size, 0)
        size = len(content)
        session, reasons = parse_document(
            collected, content, log.session, st.st_mtime_ns // 1_000_000
        )
        for reason in reasons:
            tally.count(reason)
    after = _cursor_after(fd, log.path, st, size, None)
    state = ChatState(session=session, mtime_ns=st.st_mtime_ns)
    after = msgspec.structs.replace(after, state=encode_state(state))
    return _finish(collected, after, tally, more=False, reset=False)


def _same_version(st: os.stat_result, cursor: FileCursor, log: ChatLog) -> bool:
    """True when the open legacy file is the one the cursor describes, unchanged since."""
    if (st.st_dev, st.st_ino, st.st_size) != (cursor.dev, cursor.ino, cursor.offset):
        return False
    return st.st_mtime_ns == decode_state(cursor, log).mtime_ns


# -- bytes -------------------------------------------------------------------------------------


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
