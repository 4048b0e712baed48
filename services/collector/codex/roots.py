"""Where the Codex CLI keeps its session logs, and which files under those roots are logs.

Each Codex home (``$CODEX_HOME``, a comma-separated list, else ``~/.codex``) holds two roots
(FORMATS.md 3.1)::

    sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl    live sessions
    archived_sessions/rollout-…-<uuid>.jsonl                        archived ones (flat)

The session of a log is its path relative to its root without ``.jsonl``
(``2026/05/01/rollout-…-<uuid>``), as ccusage names it. Its project is the ``cwd`` its first
line records, which only the parser knows (``turns.ParserState.cwd``). As in ccusage, a file
present under the same relative path in both roots of one home is read from ``sessions/`` only,
and a home with neither directory is read itself (``bare_homes``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.collector.listings import Listings
from services.collector.rootpaths import JSONL, RootScan, is_jsonl_name, locate, walk_tree
from services.runtime.cli_roots import unique

SESSIONS = "sessions"
ARCHIVED = "archived_sessions"
SUFFIX = JSONL
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SessionLog:
    """One session log file and the session it records."""

    path: str
    session: str


def bare_homes(roots: Iterable[Path]) -> list[Path]:
    """Homes of ``roots`` that exist but hold neither ``sessions/`` nor ``archived_sessions/``.

    ccusage then reads the home itself (recursively): that is where ``codex exec --json``
    output saved as ``*.jsonl`` is found. Decided afresh on every call, like ccusage's scan.
    """
    homes = unique(root.parent for root in roots if root.name in (SESSIONS, ARCHIVED))
    return [
        home
        for home in homes
        if home.is_dir() and not (home / SESSIONS).is_dir() and not (home / ARCHIVED).is_dir()
    ]


def find_logs(root: Path, listings: Listings | None = None) -> RootScan[SessionLog]:
    """Every ``*.jsonl`` file below ``root``, recursively, sorted, with its session.

    Symbolic links are not followed; a directory that cannot be listed is recorded in
    ``unreadable``; a root that does not exist is simply empty (``rootpaths.walk_tree``). Under
    an ``archived_sessions`` root, a file whose twin exists in the sibling ``sessions`` root is
    left out (``shadowed``).
    """
    return walk_tree(
        root, is_jsonl_name, lambda path, parts: _unshadowed(root, path, parts), listings
    )


def log_at(roots: Iterable[Path], path: str) -> SessionLog | None:
    """The log at ``path`` if it is a ``*.jsonl`` file name under one of ``roots`` (and not a
    shadowed archived copy), else ``None``. Nothing is read from disk but a shadow check."""
    return locate(
        roots,
        path,
        lambda root, parts: (
            _unshadowed(root, path, parts) if parts and is_jsonl_name(parts[-1]) else None
        ),
    )


def _unshadowed(root: Path, path: str, parts: tuple[str, ...]) -> SessionLog | None:
    """The log at ``path`` (``parts`` below ``root``), unless it is a shadowed archived copy."""
    return None if shadowed(root, parts) else SessionLog(path, session_of(parts))


def shadowed(root: Path, parts: tuple[str, ...]) -> bool:
    """True for a file under an ``archived_sessions`` root whose relative path also exists as a
    file under the sibling ``sessions`` root: ccusage reads only the ``sessions`` copy."""
    if root.name != ARCHIVED:
        return False
    return root.parent.joinpath(SESSIONS, *parts).is_file()


def session_of(parts: tuple[str, ...]) -> str:
    """The session id of a log from its path components below its root: the relative path
    without ``.jsonl``, ``/``-separated (``unknown`` if that leaves nothing)."""
    if not parts:
        return UNKNOWN
    last = parts[-1][: -len(SUFFIX)] if parts[-1].endswith(SUFFIX) else parts[-1]
    return "/".join((*parts[:-1], last)) or UNKNOWN


def matches_session_id(path: str, session_id: str) -> bool:
    """Whether the file at ``path`` is named after Codex session ``session_id``: its stem is the
    id or ends with ``-<id>`` (``rollout-2026-05-01T10-00-00-<id>.jsonl``), as ccusage matches a
    fork's parent."""
    name = os.path.basename(path)
    if not name.endswith(SUFFIX) or not session_id:
        return False
    stem = name[: -len(SUFFIX)]
    return stem == session_id or stem.endswith("-" + session_id)
