"""Read what was appended to one Codex session log since its committed cursor.

The cursor contract is ``logfile``'s (DESIGN.md invariant 4): ``offset`` always sits just
after a newline, so a half-written last line waits for its newline; ``dev``/``ino`` and a hash of
the first bytes recognise a replaced, truncated or rewritten file, which is then read again from
offset 0 with a fresh parser state (its records keep their keys, so nothing counts twice). What
Codex adds is parser state: running totals, current model, session facts and fork-replay
progress travel in ``FileCursor.state`` (see ``turns.ParserState``), so the next read continues
the same computation instead of starting over.

Only lines holding one of ``turns.MARKERS`` are decoded (``turns.USAGE_MARKERS`` while prompts
are not read); everything else (responses, tool output, reasoning) is skipped without being
copied or parsed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Final

import msgspec

from bus.messages import FileCursor, LimitWindow, SkipCounts, UsageRecord
from services.collector import logfile
from services.collector.codex.records import Usage
from services.collector.codex.turns import (
    MARKERS,
    USAGE_MARKERS,
    FileParser,
    ParentPrompts,
    ParentUsage,
    decode_state,
    encode_state,
    usage_second,
)
from services.collector.logfile import (
    DEFAULT_MAX_BYTES,
    LINE_CAP,
    cursor_after,
    read_at,
    read_complete_lines,
    read_regular_file,
    same_file,
)

IDLE_SECONDS: Final = 3.0
"""A fork whose replay burst cannot be told yet waits for more lines, unless its file has not
been written for this long (Codex writes a replayed history in one go, within milliseconds)."""

PEEK_STEP: Final = 1 << 20


@dataclass(slots=True)
class Increment(logfile.Increment):
    """The outcome of one read (``logfile.Increment``; the ``state`` of ``after`` is the parser
    state at its offset), the rate-limit windows found on the way (committed with the records),
    and how many records no line named a model for (``fallback_models``, reported as
    ``gpt-5``)."""

    limits: list[LimitWindow] = field(default_factory=list)
    fallback_models: int = 0
    user_messages: list[tuple[int, str]] = field(default_factory=list)
    """Every user message read that was not replayed (``turns.FileParser.user_messages``)."""


def read_increment(
    path: str,
    session: str,
    cursor: FileCursor | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    line_cap: int = LINE_CAP,
    parent_usage: ParentUsage | None = None,
    parent_prompts: ParentPrompts | None = None,
    replays: bool = True,
    idle_seconds: float = IDLE_SECONDS,
    prompts: bool = True,
) -> Increment:
    """Read complete lines appended to ``path`` since ``cursor`` (or from the start).

    At most about ``max_bytes`` are read per call, except that a single line longer than that is
    still read whole (up to ``line_cap``; a longer one is skipped and counted as
    ``oversized_line``). ``parent_usage`` and ``parent_prompts`` find a fork's parent stream
    (``turns.ParentUsage``, ``turns.ParentPrompts``); ``replays=False`` reads without skipping
    fork replays (for a parent's own stream); ``prompts=False`` (``[activity] enabled = false``)
    reads no user message at all.
    """
    options = _Options(
        max(1, max_bytes),
        line_cap,
        _Parent(parent_usage, parent_prompts),
        replays,
        idle_seconds,
        prompts,
    )
    return read_regular_file(
        path,
        lambda fd, st: _read_open(fd, st, path, session, cursor, options),
        gone=lambda: Increment(after=None),
        unreadable=lambda: Increment(after=cursor, skipped=SkipCounts(unreadable=1)),
    )


@dataclass(slots=True)
class History:
    """What a forked child is matched against, from its parent's whole file in file order:
    every counted event as ``(epoch ms, usage)`` and every user message as ``(epoch ms,
    turns.prompt_mark)``."""

    usage: list[tuple[int, Usage]] = field(default_factory=list)
    user_messages: list[tuple[int, str]] = field(default_factory=list)


def history(path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> History:
    """The ``History`` of a whole file, read without skipping fork replays (ccusage reads the
    parent the same way)."""
    out = History()
    cursor: FileCursor | None = None
    more = True
    while more:
        inc = read_increment(path, "", cursor, max_bytes, replays=False)
        if inc.after is None or inc.skipped.unreadable:
            break
        out.usage.extend((r.ts_ms, _usage_of(r)) for r in inc.records)
        out.user_messages.extend(inc.user_messages)
        cursor, more = inc.after, inc.more
    return out


def usage_stream(path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[tuple[int, Usage]]:
    """Every counted event of a whole file, as ``(epoch ms, usage)`` in file order, without
    skipping fork replays: the stream a forked child is matched against."""
    return history(path, max_bytes=max_bytes).usage


def _usage_of(record: UsageRecord) -> Usage:
    """The usage tuple a record was built from (``input`` back to cache-inclusive)."""
    total = record.total if record.total is not None else record.input + record.output
    written = record.cache_write_5m
    return Usage(
        record.input + record.cache_read + written,
        record.cache_read,
        record.output,
        record.reasoning,
        total,
        written,
    )


@dataclass(frozen=True, slots=True)
class _Parent:
    """How a fork finds its parent's usage and user messages."""

    usage: ParentUsage | None
    prompts: ParentPrompts | None


@dataclass(frozen=True, slots=True)
class _Options:
    """The knobs of one read."""

    max_bytes: int
    line_cap: int
    parent: _Parent
    replays: bool
    idle_seconds: float
    prompts: bool


def _read_open(
    fd: int,
    st: os.stat_result,
    path: str,
    session: str,
    cursor: FileCursor | None,
    options: _Options,
) -> Increment:
    """``read_increment`` on an open regular file."""
    start = 0
    state = None
    if cursor is not None and same_file(fd, st, cursor):
        state = decode_state(cursor.state)
        if state is not None:
            start = cursor.offset
    reset = cursor is not None and state is None
    parser = FileParser(
        session=session,
        replays=options.replays,
        read_prompts=options.prompts,
        idle=time.time() - st.st_mtime >= options.idle_seconds,
        peek=lambda offset: _peek_usage_second(fd, offset),
        mtime_ms=st.st_mtime_ns // 1_000_000,
    )
    if state is not None:
        parser.state = state
    if options.parent.usage is not None:
        parser.parent_usage = options.parent.usage
    if options.parent.prompts is not None:
        parser.parent_prompts = options.parent.prompts
    end, more = _consume(fd, start, options, parser)
    after = cursor_after(fd, path, st, end, None if reset else cursor)
    after = msgspec.structs.replace(after, state=encode_state(parser.state))
    skipped = parser.skipped + _rewind_counts(reset, parser)
    return Increment(
        records=parser.records,
        limits=parser.limits,
        after=after,
        skipped=skipped,
        more=more,
        reset=reset,
        fallback_models=parser.fallback_models,
        prompts=parser.prompts,
        user_messages=parser.user_messages,
    )


def _rewind_counts(reset: bool, parser: FileParser) -> SkipCounts:
    """The read-level counts: a rewind, and oversized lines seen by ``_consume``."""
    return SkipCounts(rewound=int(reset), oversized_line=parser.oversized)


def _consume(fd: int, offset: int, options: _Options, parser: FileParser) -> tuple[int, bool]:
    """Parse the complete lines of one budget-sized chunk; return the new offset and ``more``.

    A fork whose replay burst cannot be told yet stops the read at its line (``parse_chunk``
    returns less than it was given): the decision waits for more lines.
    """

    def oversized() -> None:
        """Count a line too long to hold."""
        parser.oversized += 1

    return read_complete_lines(
        fd,
        offset,
        options.max_bytes,
        options.line_cap,
        lambda chunk, stop, base: parse_chunk(parser, chunk, stop, base),
        oversized,
    )


def parse_chunk(parser: FileParser, chunk: bytes, stop: int, base: int) -> int:
    """Feed every line of ``chunk[:stop]`` (which ends with a newline) that holds a marker;
    ``base`` is the chunk's file offset. Returns how much of the chunk was consumed: ``stop``,
    or the start of a line the parser could not decide yet.

    Rather than splitting the chunk into lines, find the markers and cut out only the lines that
    hold one, so the bulk of a log (responses, tool output) is never copied or looked at.
    """
    markers = MARKERS if parser.read_prompts else USAGE_MARKERS
    for start in _marked_line_starts(chunk, stop, markers):
        end = chunk.find(b"\n", start, stop)
        if not parser.feed(chunk[start:end], base + start, base + end + 1):
            return start
    return stop


def _marked_line_starts(chunk: bytes, stop: int, markers: tuple[bytes, ...]) -> list[int]:
    """Start offsets, in order, of the lines in ``chunk[:stop]`` holding any of ``markers``."""
    find, rfind = chunk.find, chunk.rfind
    starts: set[int] = set()
    for marker in markers:
        pos = find(marker, 0, stop)
        while pos >= 0:
            starts.add(rfind(b"\n", 0, pos) + 1)
            pos = find(marker, find(b"\n", pos, stop) + 1, stop)
    return sorted(starts)


def _peek_usage_second(fd: int, offset: int) -> int | None:
    """The epoch second of the next complete usage-bearing token_count line at or after
    ``offset``, or ``None`` if none has been written (yet). Reads ahead in 1 MiB steps."""
    carry = b""
    while True:
        piece = read_at(fd, PEEK_STEP, offset)
        if not piece:
            return None
        offset += len(piece)
        data = carry + piece
        last_newline = data.rfind(b"\n")
        if last_newline < 0:
            carry = data
            continue
        pos = data.find(b"token_count", 0, last_newline)
        while pos >= 0:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            second = usage_second(data[start:end])
            if second is not None:
                return second
            pos = data.find(b"token_count", end + 1, last_newline)
        carry = data[last_newline + 1 :]
