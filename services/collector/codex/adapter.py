"""The Codex CLI adapter as the collector sees it: which files exist, and what is new in one.

It turns a file's increment into a ``UsageBatch`` spanning the cursor it started from to the
cursor it ended at (parser state included), with the rate-limit windows found on the way, which
is what the store commits atomically. It also serves forked sessions their parent's usage
stream and user messages (``turns`` explains why), found by session id among the logs under the
same roots.

A rollout present in both ``sessions/`` and ``archived_sessions/`` gives the same record and
prompt keys from both files. Its records belong to the live copy (revision 1 wins in the store);
its prompts are sent from the live copy only, so they sit in the session its replies are counted
under whichever file is read first (a prompt is kept once, by key, with the session it came with).
Besides its roots it scans any Codex home that holds neither of them (``roots.bare_homes``),
where ccusage finds ``codex exec --json`` output; the watcher does not watch such a home, so its
files are picked up by the scheduled rescans.

``problems`` counts, for status: ``unreadable_dirs``, ``unreadable_files`` (current numbers) and
``fallback_models`` (records read so far whose model no line named, reported as ``gpt-5`` as
ccusage does with ``isFallback``; a file read again counts again).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import msgspec

from bus.messages import FileCursor, UsageBatch
from services.collector.codex.reader import History, history, read_increment
from services.collector.codex.records import Usage
from services.collector.codex.roots import (
    SessionLog,
    bare_homes,
    find_logs,
    log_at,
    matches_session_id,
)
from services.collector.logadapter import LogAdapter
from services.collector.logfile import unchanged

_StatKey = tuple[int, int, int, int]


class CodexAdapter(LogAdapter[SessionLog]):
    """Codex CLI session logs under a set of ``sessions/`` and ``archived_sessions/`` roots."""

    provider = "codex"

    def __init__(self, roots: Sequence[Path]) -> None:
        super().__init__(roots)
        self._streams: dict[str, tuple[_StatKey, History]] = {}
        self._prefixes: dict[tuple[str, _StatKey, int | None], tuple[Usage, ...]] = {}
        self._prompt_prefixes: dict[tuple[str, _StatKey, int | None], tuple[str, ...]] = {}
        self._rescanned: set[str] = set()
        self._index: dict[str, list[str]] = {}
        self._index_of: object = None
        self._index_size = -1
        self._bare: list[Path] | None = None
        self._parents: dict[tuple[str, str], str] = {}

    def all_files(self) -> list[str]:
        """Every session log under every root, rescanned now."""
        found: dict[str, SessionLog] = {}
        self._bare = None  # a rescan looks for bare homes afresh
        self._parents.clear()
        for log in self._rescan(self.scanned_roots(), find_logs):
            found.setdefault(log.path, log)
        # Forget logs that vanished or became shadowed; keep the ones seen since (events).
        self._known = found
        return sorted(found)

    def scanned_roots(self) -> list[Path]:
        """The roots, plus any Codex home holding neither of them (``roots.bare_homes``).

        The bare homes are looked up once per rescan: this runs for every fork-parent lookup.
        """
        if self._bare is None:
            self._bare = bare_homes(self.roots)
        return self.roots + self._bare

    def _locate(self, path: str) -> SessionLog | None:
        """The session log at ``path`` if it lies under one of the scanned roots."""
        return log_at(self.scanned_roots(), path)

    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """The next batch of ``path`` after ``cursor`` (``None`` if nothing new), and whether
        more is waiting right now."""
        log = self.lookup(path)
        if log is None or unchanged(path, cursor):
            return None, False
        inc = read_increment(
            path,
            log.session,
            cursor,
            parent_usage=lambda parent_id, forked_at: self.parent_usage(path, parent_id, forked_at),
            parent_prompts=lambda parent_id, at: self.parent_prompts(path, parent_id, at),
            prompts=self.read_prompts,
        )
        self.problems["fallback_models"] += inc.fallback_models
        if _is_live(path, self.roots):
            # The same event in sessions/ and archived_sessions/ counts once, and under the
            # live session as ccusage attributes it, whichever file happens to be read first.
            inc.records[:] = [msgspec.structs.replace(r, revision=1) for r in inc.records]
        elif inc.prompts and self.live_twin(path) is not None:
            inc.prompts.clear()  # the live copy sends them, in the session of their replies
        return self._finish_read(path, cursor, inc, limits=tuple(inc.limits))

    # -- forked sessions ---------------------------------------------------------------------

    def parent_usage(self, child: str, parent_id: str, forked_at_ms: int | None) -> Sequence[Usage]:
        """The counted usage of session ``parent_id`` up to ``forked_at_ms`` (events after the
        fork were never replayed), or nothing when its log is not found."""
        found = self._parent(child, parent_id)
        if found is None:
            return ()
        parent, key = found
        cached = self._prefixes.get((parent, key, forked_at_ms))
        if cached is not None:
            return cached
        prefix = _up_to(self._stream(parent, key).usage, forked_at_ms)
        self._prefixes = {k: v for k, v in self._prefixes.items() if k[0] != parent}
        self._prefixes[(parent, key, forked_at_ms)] = prefix
        return prefix

    def parent_prompts(self, child: str, parent_id: str, forked_at_ms: int | None) -> Sequence[str]:
        """The user messages (``turns.prompt_mark``) of session ``parent_id`` up to
        ``forked_at_ms``, or nothing when its log is not found."""
        found = self._parent(child, parent_id)
        if found is None:
            return ()
        parent, key = found
        cached = self._prompt_prefixes.get((parent, key, forked_at_ms))
        if cached is not None:
            return cached
        prefix = _up_to(self._stream(parent, key).user_messages, forked_at_ms)
        self._prompt_prefixes = {k: v for k, v in self._prompt_prefixes.items() if k[0] != parent}
        self._prompt_prefixes[(parent, key, forked_at_ms)] = prefix
        return prefix

    def live_twin(self, path: str) -> str | None:
        """Another known log of the same name under a ``sessions/`` root (the live copy of an
        archived rollout), or ``None``."""
        stem = os.path.basename(path).removesuffix(".jsonl")
        twins = (p for p in self._logs_named(stem) if p != path and _is_live(p, self.roots))
        return next(twins, None)

    def _parent(self, child: str, parent_id: str) -> tuple[str, _StatKey] | None:
        """The log of session ``parent_id`` (not ``child``) and its current version."""
        parent = self.find_session(parent_id, exclude=child)
        if parent is None:
            return None
        try:
            return parent, _stat_key(os.stat(parent))
        except OSError:
            return None

    def find_session(self, session_id: str, *, exclude: str = "") -> str | None:
        """The log named after Codex session ``session_id`` (``roots.matches_session_id``),
        preferring earlier roots; rescans the roots once per id before giving up."""
        known = self._parents.get((session_id, exclude))
        if known is not None:
            return known
        found = self._find_session(session_id, exclude)
        if found is not None:
            self._parents[(session_id, exclude)] = found
        return found

    def _find_session(self, session_id: str, exclude: str) -> str | None:
        for attempt in range(2):
            named = [p for p in self._logs_named(session_id) if p != exclude]
            for root in self.scanned_roots():
                candidates = sorted(p for p in named if _is_under(p, root))
                if candidates:
                    return candidates[0]
            if attempt or session_id in self._rescanned:
                break
            self._rescanned.add(session_id)
            self.all_files()
        return None

    def _logs_named(self, session_id: str) -> list[str]:
        """Known logs whose name matches ``session_id``, through an index of file names.

        A fork's parent is looked up on every read of the fork, so a scan of every known file
        per lookup would cost more than reading the logs themselves.
        """
        if self._index_of is not self._known or self._index_size != len(self._known):
            index: dict[str, list[str]] = {}
            for path in self._known:
                stem = os.path.basename(path).removesuffix(".jsonl")
                for candidate in {stem, *_id_suffixes(stem)}:
                    index.setdefault(candidate, []).append(path)
            self._index, self._index_of, self._index_size = index, self._known, len(self._known)
        return [p for p in self._index.get(session_id, []) if matches_session_id(p, session_id)]

    def _stream(self, path: str, key: _StatKey) -> History:
        """A parent log's usage stream and user messages, parsed once per version of the file."""
        cached = self._streams.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        stream = history(path)
        self._streams[path] = (key, stream)
        return stream


_T = TypeVar("_T")


def _up_to(stream: Sequence[tuple[int, _T]], forked_at_ms: int | None) -> tuple[_T, ...]:
    """The items of a time-ordered ``(epoch ms, item)`` stream written at or before the fork
    (everything when its time is unknown)."""
    cut = len(stream)
    if forked_at_ms is not None:
        cut = next((i for i, (ts, _) in enumerate(stream) if ts > forked_at_ms), cut)
    return tuple(item for _, item in stream[:cut])


def _id_suffixes(stem: str) -> list[str]:
    """Every ``x`` such that ``stem`` ends with ``-x`` (the ids a file could be named after)."""
    return [stem[i + 1 :] for i, char in enumerate(stem) if char == "-"]


def _is_live(path: str, roots: Sequence[Path]) -> bool:
    """Whether ``path`` lies under a ``sessions/`` root (not ``archived_sessions/``)."""
    return any(root.name == "sessions" and _is_under(path, root) for root in roots)


def _stat_key(st: os.stat_result) -> _StatKey:
    """What identifies one version of a file."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _is_under(path: str, root: Path) -> bool:
    """Whether ``path`` lies below ``root``."""
    try:
        Path(path).relative_to(root)
    except ValueError:
        return False
    return True
