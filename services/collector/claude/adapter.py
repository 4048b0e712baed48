"""The Claude Code adapter as the collector sees it: which files exist, and what is new in one.

It turns a file's increment into a ``UsageBatch`` spanning the cursor it started from to the
cursor it ended at, which is what the store commits atomically (``logadapter.LogAdapter``).
"""

from __future__ import annotations

from bus.messages import FileCursor, UsageBatch
from services.collector.claude.reader import read_increment
from services.collector.claude.roots import Transcript, find_transcripts, transcript_at
from services.collector.logadapter import LogAdapter
from services.collector.logfile import unchanged


class ClaudeAdapter(LogAdapter[Transcript]):
    """Claude Code transcripts under a set of ``projects/`` roots."""

    provider = "claude"

    def all_files(self) -> list[str]:
        """Every transcript under every root, rescanned now (files seen before are kept until a
        read finds them deleted)."""
        for transcript in self._rescan(self.roots, find_transcripts):
            self._known[transcript.path] = transcript
        return sorted(self._known)

    def _locate(self, path: str) -> Transcript | None:
        """The transcript at ``path`` if it lies under one of the roots."""
        return transcript_at(self.roots, path)

    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """The next batch of ``path`` after ``cursor`` (``None`` if nothing new), and whether
        more is waiting right now."""
        transcript = self.lookup(path)
        if transcript is None or unchanged(path, cursor):
            return None, False
        inc = read_increment(
            path, transcript.project, transcript.session, cursor, prompts=self.read_prompts
        )
        return self._finish_read(path, cursor, inc)
