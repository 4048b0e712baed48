"""Read what was appended to one Claude Code transcript since its committed cursor.

The cursor contract (offset after a newline, file identity and head hash, rewind on a replaced or
rewritten file) is ``services.collector.logfile``'s; this module adds what a transcript line
means: only lines holding a ``"usage":{`` marker are cut out and parsed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bus.messages import FileCursor, Prompt, SkipCounts, UsageRecord
from services.collector.claude.prompts import TOOL_RESULT_MARKER, USER_MARKER, parse_prompt
from services.collector.claude.records import USAGE_MARKER, parse_marked_line
from services.collector.logfile import (
    DEFAULT_MAX_BYTES,
    LINE_CAP,
    Increment,
    SkipTally,
    cursor_after,
    read_complete_lines,
    read_regular_file,
    same_file,
)


@dataclass(slots=True)
class _Batch:
    """Where one read puts what it parses: records, and skips by reason."""

    project: str
    session: str
    records: list[UsageRecord] = field(default_factory=list)
    tally: SkipTally = field(default_factory=SkipTally)
    prompts: list[Prompt] = field(default_factory=list)
    read_prompts: bool = True

    def parse(self, chunk: bytes, stop: int, base: int) -> int:
        """Parse every usage line and every user prompt in ``chunk[:stop]`` (which ends with a
        newline) and return ``stop``: a transcript line never waits for the next
        (``logfile.ParseChunk``; the chunk's file offset ``base`` keys prompts without an id).

        Rather than splitting the chunk into lines, jump from one ``"usage":{`` marker to the
        next and cut out only the lines that hold one: most bytes (tool output, user turns) are
        never copied or looked at in Python.
        """
        find, rfind = chunk.find, chunk.rfind
        project, session, count = self.project, self.session, self.tally.count
        append = self.records.append
        pos = 0
        while (hit := find(USAGE_MARKER, pos, stop)) >= 0:
            line_start = rfind(b"\n", pos, hit) + 1 or pos
            line_end = find(b"\n", hit, stop)
            result = parse_marked_line(chunk[line_start:line_end], project, session)
            if isinstance(result, str):
                count(result)
            elif result is not None:
                append(result)
            pos = line_end + 1
        pos = 0 if self.read_prompts else stop
        while (hit := find(USER_MARKER, pos, stop)) >= 0:
            line_start = rfind(b"\n", pos, hit) + 1 or pos
            line_end = find(b"\n", hit, stop)
            pos = line_end + 1
            if find(TOOL_RESULT_MARKER, line_start, line_end) >= 0:
                continue  # tool output, never a prompt: not copied or decoded
            prompt = parse_prompt(chunk[line_start:line_end], project, session, base + line_start)
            if prompt is not None:
                self.prompts.append(prompt)
        return stop

    def oversized(self) -> None:
        """Count a line too long to hold."""
        self.tally.oversized_line += 1


def read_increment(
    path: str,
    project: str,
    session: str,
    cursor: FileCursor | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    line_cap: int = LINE_CAP,
    prompts: bool = True,
) -> Increment:
    """Read complete lines appended to ``path`` since ``cursor`` (or from the start), with the
    user prompts among them unless ``prompts`` is false.

    At most about ``max_bytes`` are read per call, except that a single line longer than that is
    still read whole (up to ``line_cap``; a longer line is skipped once its newline arrives and
    counted as ``oversized_line``).
    """
    return read_regular_file(
        path,
        lambda fd, st: _read_open(
            fd,
            st,
            path,
            _Batch(project, session, read_prompts=prompts),
            cursor,
            max(1, max_bytes),
            line_cap,
        ),
        gone=lambda: Increment(after=None),
        unreadable=lambda: Increment(after=cursor, skipped=SkipCounts(unreadable=1)),
    )


def _read_open(
    fd: int,
    st: os.stat_result,
    path: str,
    batch: _Batch,
    cursor: FileCursor | None,
    max_bytes: int,
    line_cap: int,
) -> Increment:
    """``read_increment`` on an open regular file, parsed into ``batch``."""
    start = 0
    reset = False
    if cursor is not None:
        if same_file(fd, st, cursor):
            start = cursor.offset
        else:
            reset = True
            batch.tally.rewound = 1
    end, more = read_complete_lines(fd, start, max_bytes, line_cap, batch.parse, batch.oversized)
    after = cursor_after(fd, path, st, end, None if reset else cursor)
    return Increment(batch.records, after, batch.tally.frozen(), more, reset, batch.prompts)
