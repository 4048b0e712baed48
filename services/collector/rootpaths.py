"""Shared pieces of finding a provider's log roots and the log files under them.

Each provider's ``roots`` module decides which directories are roots and which files under them
are logs; this module holds what they do alike: splitting and expanding configured entries,
dropping repeated roots, walking a root without following links, and placing a path under the
first root it belongs to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Generic, Protocol, TypeVar

from services.collector.listings import Listings, read_dir

JSONL: Final = ".jsonl"


class HasPath(Protocol):
    """A log file as a provider describes it (``Transcript``, ``SessionLog``, ``ChatLog``)."""

    @property
    def path(self) -> str:
        """Where the file is."""
        ...


F = TypeVar("F", bound=HasPath)


@dataclass(slots=True)
class RootScan(Generic[F]):
    """What one walk of a root found: log files (sorted by path) and directories it could not
    list, so the caller can report them instead of silently missing their data."""

    files: list[F] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def is_jsonl_name(name: str) -> bool:
    """``x.jsonl`` counts; a bare ``.jsonl`` is a dotfile with no extension, as in Rust's Path."""
    return name.endswith(JSONL) and len(name) > len(JSONL)


def walk_tree(
    root: Path,
    wanted: Callable[[str], bool],
    make: Callable[[str, tuple[str, ...]], F | None],
    listings: Listings | None = None,
) -> RootScan[F]:
    """Every regular file below ``root``, recursively, whose name is ``wanted``, as ``make``
    describes it from its path and its path components below ``root`` (``None`` leaves it out).

    Symbolic links are not followed (a link loop must not hang the scan, and ccusage does not
    follow them either). A directory that cannot be listed is recorded in ``unreadable``; a root
    that does not exist is simply empty. ``files`` comes back sorted by path. With ``listings``,
    directories that did not change since its last walk are not read again.
    """
    list_dir = read_dir if listings is None else listings.entries
    scan: RootScan[F] = RootScan()
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(root), ())]
    while stack:
        directory, rel = stack.pop()
        try:
            entries = list_dir(directory)
        except FileNotFoundError:
            # A root that is not there yet, or a directory deleted mid-walk: nothing to read.
            continue
        except OSError:
            scan.unreadable.append(directory)
            continue
        for entry in entries:
            if entry.is_dir:
                stack.append((entry.path, (*rel, entry.name)))
            elif entry.is_file and wanted(entry.name):
                found = make(entry.path, (*rel, entry.name))
                if found is not None:
                    scan.files.append(found)
    scan.files.sort(key=lambda f: f.path)
    return scan


def locate(
    roots: Iterable[Path],
    path: str,
    make: Callable[[Path, tuple[str, ...]], F | None],
) -> F | None:
    """The log file at ``path`` as ``make`` describes it from a root and the path's components
    below that root, trying the roots ``path`` lies under in order; ``None`` if none accepts it.

    Only the path is looked at, not the disk (unless ``make`` looks).
    """
    for root in roots:
        try:
            parts = Path(path).relative_to(root).parts
        except ValueError:
            continue
        found = make(root, parts)
        if found is not None:
            return found
    return None
