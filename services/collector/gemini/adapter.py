"""The Gemini CLI adapter as the collector sees it: which chat files exist, and what is new in one.

It turns a file's increment into a ``UsageBatch`` spanning the cursor it started from to the
cursor it ended at, which is what the store commits atomically (``logadapter.LogAdapter``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from bus.messages import FileCursor, UsageBatch
from services.collector.gemini.reader import read_increment, unchanged
from services.collector.gemini.roots import ChatLog, chat_log_at, find_logs
from services.collector.logadapter import LogAdapter
from services.collector.tracker import batch_id


class GeminiAdapter(LogAdapter[ChatLog]):
    """Gemini CLI chats under a set of ``tmp/`` roots.

    ``problems`` counts, for status: ``unreadable_dirs`` and ``unreadable_files`` (now), and
    ``unknown_model`` and ``fallback_timestamp``: the records seen since start that named no
    model (counted as ``unknown``) or had no usable timestamp (dated by the file instead).
    """

    provider = "gemini"

    def __init__(self, roots: Sequence[Path]) -> None:
        super().__init__(roots)
        self.unknown_model: set[str] = set()
        self.fallback_timestamp: set[str] = set()

    def all_files(self) -> list[str]:
        """Every chat file under every root, rescanned now (files seen before are kept until a
        read finds them deleted)."""
        for log in self._rescan(self.roots, find_logs):
            self._known[log.path] = log
        return sorted(self._known)

    def _locate(self, path: str) -> ChatLog | None:
        """The chat file at ``path`` if it lies under one of the roots."""
        return chat_log_at(self.roots, path)

    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """The next batch of ``path`` after ``cursor`` (``None`` if nothing new), and whether
        more is waiting right now."""
        log = self.lookup(path)
        if log is None or unchanged(log, cursor):
            return None, False
        inc = read_increment(log, cursor, prompts=self.read_prompts)
        self.unknown_model |= inc.unknown_model
        self.fallback_timestamp |= inc.fallback_timestamp
        self.problems["unknown_model"] = len(self.unknown_model)
        self.problems["fallback_timestamp"] = len(self.fallback_timestamp)
        return self._finish_read(
            path, cursor, inc, make_id=lambda _, before, after: _batch_id(log, before, after)
        )


def _batch_id(log: ChatLog, before: FileCursor | None, after: FileCursor) -> str:
    """The same id for the same span of the same file, so a re-send is recognised.

    A legacy JSON chat is rewritten in place, so two different versions can share the offsets
    and head that ``batch_id`` looks at; its mtime (in the cursor state) tells them apart.
    """
    base = batch_id(log.path, before, after)
    if not log.legacy:
        return base
    states = (b"" if before is None else before.state) + b"\0" + after.state
    return hashlib.sha1(base.encode() + b"\0" + states, usedforsecurity=False).hexdigest()[:20]
