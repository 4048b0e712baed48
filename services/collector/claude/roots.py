"""Where Claude Code keeps its transcripts, and which files under those roots are transcripts.

A *root* here is always a ``projects/`` directory. Transcripts sit below it in three layouts
(FORMATS.md section 2.1)::

    projects/<project>/<session>.jsonl                      main transcript
    projects/<project>/<session>/subagents/<agent>.jsonl    Task/Agent subagent
    projects/<project>/<session>/chat.jsonl                 older nested layout

Project and session names are derived from the path the way ccusage derives them, so our session
report rows line up with ``ccusage claude session``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.collector.listings import Listings
from services.collector.rootpaths import JSONL, RootScan, is_jsonl_name, locate, walk_tree

PROJECTS = "projects"
SUFFIX = JSONL
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Transcript:
    """One transcript file and the project and session it belongs to."""

    path: str
    project: str
    session: str


def find_transcripts(root: Path, listings: Listings | None = None) -> RootScan[Transcript]:
    """Every ``*.jsonl`` file below ``root``, recursively, with its project and session.

    Symbolic links are not followed; a directory that cannot be listed is recorded in
    ``unreadable``; a root that does not exist is simply empty (``rootpaths.walk_tree``).
    """
    return walk_tree(root, is_jsonl_name, transcript_of, listings)


def transcript_at(roots: Iterable[Path], path: str) -> Transcript | None:
    """The transcript at ``path`` if it is a ``*.jsonl`` file name under one of ``roots``, else
    ``None``. Nothing is read from disk."""
    return locate(
        roots,
        path,
        lambda root, parts: (
            transcript_of(path, parts) if parts and parts[-1].endswith(SUFFIX) else None
        ),
    )


def transcript_of(path: str, parts: tuple[str, ...]) -> Transcript:
    """The transcript at ``path`` from its path components below ``projects/``."""
    return Transcript(path, project_of(parts), session_of(parts))


def project_of(parts: tuple[str, ...]) -> str:
    """The project of a transcript from its path components below ``projects/``: the first one."""
    if not parts or not parts[0].strip():
        return UNKNOWN
    return parts[0]


def session_of(parts: tuple[str, ...]) -> str:
    """The session of a transcript from its path components below ``projects/``.

    ``P/S.jsonl`` gives ``S``; ``P/S/subagents/A.jsonl`` gives ``S`` (subagent spend belongs to the
    session that started it); any other layout gives the parent directory's name, which is the
    session directory in the older ``P/S/chat.jsonl`` layout.
    """
    if len(parts) == 2:
        stem = parts[1][: -len(SUFFIX)] if parts[1].endswith(SUFFIX) else ""
        if stem:
            return stem
    if len(parts) >= 4 and parts[-2] == "subagents":
        return parts[-3]
    if not parts:
        return UNKNOWN
    # ccusage takes the component before the file name; with a file directly in projects/ that
    # index clamps to 0, i.e. the file name itself. Kept for parity.
    return parts[max(len(parts) - 2, 0)]
