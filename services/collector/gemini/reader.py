"""Read what changed in one Gemini CLI chat file since its committed cursor.

**JSONL chats** are append-only logs, read with ``logfile`` (DESIGN.md invariant
4): ``offset`` always sits just after a newline, so a half-written last line is read only once
its newline has arrived; the file's ``dev``/``ino`` and a hash of its first bytes recognise a
replaced, truncated or rewritten file, which is then read again from the start (its records keep
their keys, so nothing is counted twice). The cursor's ``state`` carries the session and the
current model reached at ``offset``, because a line names neither: they come from earlier lines.

**Legacy JSON chats** are one document that Gemini CLI rewrote whole on every message. Such a
file is read again, whole, whenever its identity, size or mtime differs from the cursor's, and
all of its records and prompts are emitted every time (their keys are deterministic, so the
store keeps each once). Its cursor's ``offset`` is the size read and its ``state`` holds the mtime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

import msgspec

from bus.messages import FileCursor, SkipCounts
from services.collector import logfile
from services.collector.gemini.records import ChatParser, Collected, parse_document
from services.collector.gemini.roots import ChatLog
from services.collector.logfile import (
    DEFAULT_MAX_BYTES,
    LINE_CAP,
    SkipTally,
    cursor_after,
    read_at,
    read_complete_lines,
    read_regular_file,
    same_file,
    stat_at_cursor,
)


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
class Increment(logfile.Increment):
    """The outcome of one read (``logfile.Increment``, its ``prompts`` included), and the keys
    of records that named no model (``unknown_model``) or carried no usable timestamp
    (``fallback_timestamp``; see ``records``)."""

    unknown_model: set[str] = field(default_factory=set)
    fallback_timestamp: set[str] = field(default_factory=set)


def read_increment(
    log: ChatLog,
    cursor: FileCursor | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    line_cap: int = LINE_CAP,
    prompts: bool = True,
) -> Increment:
    """Read what changed in ``log`` since ``cursor`` (or all of it), with the user prompts
    among it unless ``prompts`` is false.

    For a JSONL chat, at most about ``max_bytes`` are read per call, except that a single line
    longer than that is still read whole (up to ``line_cap``; a longer line is skipped once its
    newline arrives and counted as ``oversized_line``). A legacy JSON chat is read whole (up to
    ``line_cap``). A legacy chat read again gives all of its prompts again, under the same keys.
    """

    def read(fd: int, st: os.stat_result) -> Increment:
        """``read_increment`` on an open regular file."""
        collected = Collected(log.project, sidechain=log.subagent, read_prompts=prompts)
        if log.legacy:
            return _read_document(fd, st, log, cursor, line_cap, collected)
        return _read_lines(fd, st, log, cursor, max(1, max_bytes), line_cap, collected)

    return read_regular_file(
        log.path,
        read,
        gone=lambda: Increment(after=None),
        unreadable=lambda: Increment(after=cursor, skipped=SkipCounts(unreadable=1)),
    )


def unchanged(log: ChatLog, cursor: FileCursor | None) -> bool:
    """Cheap check (one stat, no open) that a file has nothing past its cursor (for a legacy
    chat, rewritten in place, its mtime must match too)."""
    st = stat_at_cursor(log.path, cursor)
    if st is None or cursor is None:
        return False
    return not log.legacy or st.st_mtime_ns == decode_state(cursor, log).mtime_ns


def _finish(
    collected: Collected, after: FileCursor, tally: SkipTally, more: bool, reset: bool
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
        prompts=list(collected.prompts.values()),
    )


# -- JSONL -------------------------------------------------------------------------------------


def _read_lines(
    fd: int,
    st: os.stat_result,
    log: ChatLog,
    cursor: FileCursor | None,
    max_bytes: int,
    line_cap: int,
    collected: Collected,
) -> Increment:
    """Read the complete lines after ``cursor`` of an open JSONL chat into ``collected``."""
    tally = SkipTally()
    start = 0
    state = ChatState(session=log.session)
    verified = None
    if cursor is not None:
        if same_file(fd, st, cursor):
            start = cursor.offset
            state = decode_state(cursor, log)
            verified = cursor
        else:
            tally.rewound = 1
    parser = ChatParser(
        collected, state.session, state.model, fallback_ms=st.st_mtime_ns // 1_000_000
    )

    def oversized() -> None:
        """Count a line too long to hold."""
        tally.oversized_line += 1

    end, more = read_complete_lines(
        fd,
        start,
        max_bytes,
        line_cap,
        lambda chunk, stop, base: _parse_lines(chunk, stop, base, parser, tally),
        oversized,
    )
    after = cursor_after(fd, log.path, st, end, verified)
    state = ChatState(session=parser.session, model=parser.model)
    after = msgspec.structs.replace(after, state=encode_state(state))
    return _finish(collected, after, tally, more, reset=cursor is not None and verified is None)


def _parse_lines(chunk: bytes, stop: int, base: int, parser: ChatParser, tally: SkipTally) -> int:
    """Feed every line of ``chunk[:stop]`` (which ends with a newline) to ``parser``;
    ``base`` is the file offset of ``chunk[0]``. Returns ``stop``: a chat line never waits for
    the next (``logfile.ParseChunk``)."""
    find, feed, count = chunk.find, parser.feed, tally.count
    pos = 0
    while pos < stop:
        end = find(b"\n", pos, stop)
        count(feed(chunk[pos:end], base + pos))
        pos = end + 1
    return stop


# -- legacy JSON -------------------------------------------------------------------------------


def _read_document(
    fd: int,
    st: os.stat_result,
    log: ChatLog,
    cursor: FileCursor | None,
    line_cap: int,
    collected: Collected,
) -> Increment:
    """Read a legacy JSON chat whole into ``collected``, unless it is the version the cursor
    describes."""
    if cursor is not None and _same_version(st, cursor, log):
        return Increment(after=cursor)
    tally = SkipTally()
    session = log.session
    if st.st_size > line_cap:
        tally.oversized_line = 1
        size = st.st_size
    else:
        content = read_at(fd, st.st_size, 0)
        size = len(content)
        session, reasons = parse_document(
            collected, content, log.session, st.st_mtime_ns // 1_000_000
        )
        for reason in reasons:
            tally.count(reason)
    after = cursor_after(fd, log.path, st, size, None)
    state = ChatState(session=session, mtime_ns=st.st_mtime_ns)
    after = msgspec.structs.replace(after, state=encode_state(state))
    return _finish(collected, after, tally, more=False, reset=False)


def _same_version(st: os.stat_result, cursor: FileCursor, log: ChatLog) -> bool:
    """True when the open legacy file is the one the cursor describes, unchanged since."""
    if (st.st_dev, st.st_ino, st.st_size) != (cursor.dev, cursor.ino, cursor.offset):
        return False
    return st.st_mtime_ns == decode_state(cursor, log).mtime_ns
