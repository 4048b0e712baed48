"""The Gemini CLI adapter as the collector sees it: which chat files exist, and what is new in one.

It turns a file's increment into a ``UsageBatch`` spanning the cursor it started from to the
cursor it ended at, which is what the store commits atomically.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bus.messages import FileCursor, UsageBatch
from services.collector.gemini.reader import read_increment, unchanged
from services.collector.gemini.roots import ChatLog, chat_log_of, find_logs
from services.collector.tracker import batch_id


class GeminiAdapter:
    """Gemini CLI chats under a set of ``tmp/`` roots.

    ``problems`` counts, for status: ``unreadable_dirs`` and ``unreadable_files`` (now), and
    ``unknown_model`` and ``fallback_timestamp``: the records seen since start that named no
    model (counted as ``unknown``) or had no usable timestamp (dated by the file instead).
    """

    provider = "gemini"

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self._known: dict[str, ChatLog] = {}
        self.problems: Counter[str] = Counter()
        self.unreadable: set[str] = set()
        self.unreadable_files: set[str] = set()
        self.unknown_model: set[str] = set()
        self.fallback_timestamp: set[str] = set()

    def all_files(self) -> list[str]:
        """Every chat file under every root, rescanned now."""
        unreadable: set[str] = set()
        for root in self.roots:
            scan = find_logs(root)
            unreadable.update(scan.unreadable)
            for log in scan.files:
                self._known[log.path] = log
        self.unreadable = unreadable
        self.problems["unreadable_dirs"] = len(unreadable)
        return sorted(self._known)

    def chat_log(self, path: str) -> ChatLog | None:
        """The chat file at ``path`` if it lies under one of the roots, else ``None``."""
        known = self._known.get(path)
        if known is not None:
            return known
        for root in self.roots:
            try:
                parts = Path(path).relative_to(root).parts
            except ValueError:
                continue
            found = chat_log_of(parts, path)
            if found is not None:
                self._known[path] = found
                return found
        return None

    def owns(self, path: str) -> bool:
        """Whether ``path`` is a chat file under one of the roots."""
        return self.chat_log(path) is not None

    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """The next batch of ``path`` after ``cursor`` (``None`` if nothing new), and whether
        more is waiting right now."""
        log = self.chat_log(path)
        if log is None or unchanged(log, cursor):
            return None, False
        inc = read_increment(log, cursor)
        if inc.skipped.unreadable:
            self.unreadable_files.add(path)
        else:
            self.unreadable_files.discard(path)
        self.problems["unreadable_files"] = len(self.unreadable_files)
        self.unknown_model |= inc.unknown_model
        self.fallback_timestamp |= inc.fallback_timestamp
        self.problems["unknown_model"] = len(self.unknown_model)
        self.problems["fallback_timestamp"] = len(self.fallback_timestamp)
        if inc.after is None or (inc.after == cursor and not inc.records):
            if inc.after is None and not inc.skipped.unreadable:
                self._known.pop(path, None)  # deleted: its records stay counted
            return None, False
        batch = UsageBatch(
            batch_id=_batch_id(log, cursor, inc.after),
            provider=self.provider,
            source=path,
            before=cursor,
            after=inc.after,
            records=tuple(inc.records),
            skipped=inc.skipped,
        )
        return batch, inc.more


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
