"""What every provider adapter does alike, as a base class for them.

An adapter (``services.collector.adapter.Adapter``) knows its log files and turns what a reader
found in one of them into a ``UsageBatch``. This base keeps the files found so far, the trouble
counts for status (``unreadable_dirs``, ``unreadable_files``), and builds the batch spanning the
cursor a read started from to the cursor it ended at, which is what the store commits
atomically. A provider supplies how a path maps to one of its files (``_locate``), how its roots
are scanned (``all_files``) and how a file is read (``read``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from bus.messages import FileCursor, LimitWindow, Prompt, UsageBatch
from services.collector.listings import Listings
from services.collector.logfile import Increment
from services.collector.rootpaths import HasPath, RootScan
from services.collector.tracker import batch_id

L = TypeVar("L", bound=HasPath)

BatchId = Callable[[str, FileCursor | None, FileCursor], str]
"""``batch_id(source, before, after)``: the id of a batch (``tracker.batch_id`` by default)."""


class LogAdapter(ABC, Generic[L]):
    """One provider's log files (described as ``L``) under a set of roots."""

    provider: str
    """``claude``, ``codex`` or ``gemini``: set by each subclass."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self._known: dict[str, L] = {}
        self.problems: Counter[str] = Counter()
        self.unreadable: set[str] = set()
        """Directories the last scan could not list."""
        self.unreadable_files: set[str] = set()
        """Files whose last read failed."""
        self.read_prompts = True
        """``[activity] enabled``: when false, batches carry no prompts."""
        self.listings = Listings()
        """Directory listings kept between rescans."""

    @abstractmethod
    def all_files(self) -> list[str]:
        """Every log file under every root, rescanned now."""

    @abstractmethod
    def read(self, path: str, cursor: FileCursor | None) -> tuple[UsageBatch | None, bool]:
        """The next batch of ``path`` after ``cursor`` (``None`` if nothing new), and whether
        more is waiting right now."""

    @abstractmethod
    def _locate(self, path: str) -> L | None:
        """The log file at ``path`` if it lies under one of the roots, from its path alone."""

    def lookup(self, path: str) -> L | None:
        """The log file at ``path`` if it lies under one of the roots, else ``None``: a file
        scanned or looked up before, else ``_locate`` (and remembered)."""
        known = self._known.get(path)
        if known is not None:
            return known
        found = self._locate(path)
        if found is not None:
            self._known[path] = found
        return found

    def owns(self, path: str) -> bool:
        """Whether ``path`` (e.g. from a file event) is one of this adapter's log files."""
        return self.lookup(path) is not None

    def _rescan(
        self, roots: Iterable[Path], find: Callable[[Path, Listings], RootScan[L]]
    ) -> list[L]:
        """Walk ``roots`` in order with ``find``; return every file found, root by root, and
        count the directories that could not be listed (``unreadable_dirs``). Directories that
        did not change since the last rescan are not read again (``listings``)."""
        unreadable: set[str] = set()
        files: list[L] = []
        for root in roots:
            scan = find(root, self.listings)
            unreadable.update(scan.unreadable)
            files.extend(scan.files)
        self.listings.forget_unseen()
        self.unreadable = unreadable
        self.problems["unreadable_dirs"] = len(unreadable)
        return files

    def _finish_read(
        self,
        path: str,
        before: FileCursor | None,
        inc: Increment,
        *,
        limits: tuple[LimitWindow, ...] = (),
        make_id: BatchId = batch_id,
    ) -> tuple[UsageBatch | None, bool]:
        """Account for one read of ``path`` from ``before`` and turn it into ``read``'s answer.

        Counts the file in ``unreadable_files`` while its reads fail, forgets a deleted file
        (its records stay counted), and returns ``None`` when the read moved nothing: no records,
        no ``limits``, no prompts and the same cursor. Otherwise the batch from ``before`` to
        ``inc.after`` (carrying the prompts only while ``read_prompts`` is on).
        """
        if inc.skipped.unreadable:
            self.unreadable_files.add(path)
        else:
            self.unreadable_files.discard(path)
        self.problems["unreadable_files"] = len(self.unreadable_files)
        prompts: tuple[Prompt, ...] = tuple(inc.prompts) if self.read_prompts else ()
        moved = inc.records or limits or prompts
        if inc.after is None or (inc.after == before and not moved):
            if inc.after is None and not inc.skipped.unreadable:
                self._known.pop(path, None)  # deleted: its records stay counted
            return None, False
        batch = UsageBatch(
            batch_id=make_id(path, before, inc.after),
            provider=self.provider,
            source=path,
            before=before,
            after=inc.after,
            records=tuple(inc.records),
            skipped=inc.skipped,
            limits=limits,
            prompts=prompts,
        )
        return batch, inc.more
