"""What the collector needs from a provider adapter (Claude Code, Codex CLI, Gemini CLI).

An adapter knows where its CLI writes, which files are its logs, and how to turn the bytes after
a committed cursor into a ``UsageBatch``: records with deterministic keys, skip counts, rate-limit
windows found on the way, and the cursor (with any parser state) the batch ends at.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Protocol

from bus.messages import FileCursor, UsageBatch


class Adapter(Protocol):
    """One provider's local logs."""

    provider: str
    """``claude``, ``codex`` or ``gemini``: the topic suffix and the ``provider`` of records."""
    roots: list[Path]
    """Folders to watch and scan (whether or not they exist yet)."""
    problems: Counter[str]
    """Counts of trouble for status (``unreadable_dirs``, ``unreadable_files``, ...)."""

    def all_files(self) -> list[str]:
        """Every log file under every root, rescanned now."""
        ...

    def owns(self, path: str) -> bool:
        """Whether ``path`` (e.g. from a file event) is one of this adapter's log files."""
        ...

    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """The next batch of ``path`` after ``cursor`` (``None`` if nothing new), and whether
        more is waiting right now."""
        ...
