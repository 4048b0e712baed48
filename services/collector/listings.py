"""Directory listings kept from one rescan of the log roots to the next.

The scheduler asks for a full rescan every minute, a safety net under the watcher's events. With
a thousand transcripts that walk lists some hundreds of directories, and an idle kernel soon
drops directory blocks from its cache while keeping their inodes: each listing is then a disk
read the collector sleeps on, a hundred or more wake-ups a minute for a history that did not
change. A directory's own inode says whether its entries changed (adding, removing or renaming
an entry, or a ``chmod``, moves its ctime), so a kept listing is used again while a ``stat`` of
the directory shows the same inode and times, and the directory is read afresh otherwise.

A listing is kept only once its directory has been still for ``SETTLED_NS``: a file system
stamps times with a coarse clock, so an entry added in the same tick as the listing could
leave the times unchanged. The same rule as Git's "racily clean" index entries.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

SETTLED_NS = 2_000_000_000
"""How long a directory must have been unchanged before its listing is kept."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a directory, as ``os.scandir`` saw it (links not followed)."""

    name: str
    path: str
    is_dir: bool
    """A directory (a link to one is not)."""
    is_file: bool
    """A regular file (a link to one is not)."""


@dataclass(frozen=True, slots=True)
class _Kept:
    stamp: tuple[int, int, int, int]
    entries: tuple[Entry, ...]


def read_dir(directory: str) -> tuple[Entry, ...]:
    """The entries of ``directory`` read from disk now; raises ``OSError`` as ``os.scandir``."""
    with os.scandir(directory) as found:
        return tuple(
            Entry(e.name, e.path, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False))
            for e in found
        )


class Listings:
    """Listings of the directories walked, read again only for a directory that changed."""

    def __init__(self, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._now_ns = now_ns
        self._kept: dict[str, _Kept] = {}
        self._seen: set[str] = set()
        self.reads = 0
        """Directories read from disk so far (the rest were kept listings)."""

    def entries(self, directory: str) -> tuple[Entry, ...]:
        """The entries of ``directory``: kept if it did not change, else read now. Raises
        ``OSError`` (a missing or unlistable directory) as ``os.scandir`` does."""
        self._seen.add(directory)
        # The stamp is taken before the listing: a change made while listing moves the times
        # past it, so the next call reads the directory again.
        st = os.stat(directory)
        stamp = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        kept = self._kept.get(directory)
        if kept is not None and kept.stamp == stamp:
            return kept.entries
        self._kept.pop(directory, None)
        entries = read_dir(directory)
        self.reads += 1
        if self._now_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= SETTLED_NS:
            self._kept[directory] = _Kept(stamp, entries)
        return entries

    def forget_unseen(self) -> None:
        """Drop the listings of directories not asked for since the last call: a walk calls
        this when it is done, so deleted or moved trees are not kept for ever."""
        for directory in set(self._kept) - self._seen:
            del self._kept[directory]
        self._seen = set()
