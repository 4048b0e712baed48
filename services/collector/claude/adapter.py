"""The Claude Code adapter as the collector sees it: which files exist, and what is new in one.

It turns a file's increment into a ``UsageBatch`` spanning the cursor it started from to the
cursor it ended at, which is what the store commits atomically.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bus.messages import FileCursor, UsageBatch
from services.collector.claude.reader import read_increment
from services.collector.claude.roots import Transcript, find_transcripts, project_of, session_of
from services.collector.tracker import batch_id


class ClaudeAdapter:
    """Claude Code transcripts under a set of ``projects/`` roots."""

    provider = "claude"

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self._known: dict[str, Transcript] = {}
        self.problems: Counter[str] = Counter()
        self.unreadable: set[str] = set()
        self.unreadable_files: set[str] = set()

    def all_files(self) -> list[str]:
        """Every transcript under every root, rescanned now."""
        unreadable: set[str] = set()
        for root in self.roots:
            scan = find_transcripts(root)
            unreadable.update(scan.unreadable)
            for transcript in scan.files:
                self._known[transcript.path] = transcript
        self.unreadable = unreadable
        self.problems["unreadable_dirs"] = len(unreadable)
        return sorted(self._known)

    def transcript(self, path: str) -> Transcript | None:
        """The transcript at ``path`` if it lies under one of the roots, else ``None``."""
        known = self._known.get(path)
        if known is not None:
            return known
        for root in self.roots:
            try:
                parts = Path(path).relative_to(root).parts
            except ValueError:
                continue
            if parts and parts[-1].endswith(".jsonl"):
                found = Transcript(path, project_of(parts), session_of(parts))
                self._known[path] = found
                return found
        return None

    def owns(self, path: str) -> bool:
        """Whether ``path`` is a transcript under one of the roots."""
        return self.transcript(path) is not None

    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """The next batch of ``path`` after ``cursor`` (``None`` if nothing new), and whether
        more is waiting right now."""
        transcript = self.transcript(path)
        if transcript is None or _unchanged(path, cursor):
            return None, False
        inc = read_increment(path, transcript.project, transcript.session, cursor)
        if inc.skipped.unreadable:
            self.unreadable_files.add(path)
        else:
            self.unreadable_files.discard(path)
        self.problems["unreadable_files"] = len(self.unreadable_files)
        if inc.after is None or (inc.after == cursor and not inc.records):
            if inc.after is None and not inc.skipped.unreadable:
                self._known.pop(path, None)  # deleted: its records stay counted
            return None, False
        batch = UsageBatch(
            batch_id=batch_id(path, cursor, inc.after),
            provider=self.provider,
            source=path,
            before=cursor,
            after=inc.after,
            records=tuple(inc.records),
            skipped=inc.skipped,
        )
        return batch, inc.more


def _unchanged(path: str, cursor: FileCursor | None) -> bool:
    """Cheap check (one stat, no open) that a file has nothing past its cursor."""
    if cursor is None:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size == cursor.offset and st.st_ino == cursor.ino and st.st_dev == cursor.dev
