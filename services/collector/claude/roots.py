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

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.collector.rootpaths import (
    JSONL,
    RootScan,
    expand_home,
    is_jsonl_name,
    locate,
    split_env_list,
    unique,
    walk_tree,
)
from services.collector.rootpaths import existing_roots as existing_roots

PROJECTS = "projects"
SUFFIX = JSONL
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Transcript:
    """One transcript file and the project and session it belongs to."""

    path: str
    project: str
    session: str


def discover_roots(
    configured: list[str],
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """Candidate ``projects/`` directories, in priority order, whether or not they exist yet.

    Configured entries win; else ``CLAUDE_CONFIG_DIR`` (a comma-separated list, which replaces
    the defaults as in Claude Code and ccusage); else ``$XDG_CONFIG_HOME/claude`` (default
    ``~/.config/claude``) followed by ``~/.claude``. Every entry may name a config directory or
    its ``projects/`` directory. Missing roots are kept because the watcher must notice a root
    that is created after start.
    """
    environ = os.environ if env is None else env
    home_dir = Path.home() if home is None else home
    entries = [c for c in configured if c.strip()]
    if not entries:
        entries = split_env_list(environ.get("CLAUDE_CONFIG_DIR", ""))
    if entries:
        candidates = [_projects_dir(expand_home(e, home_dir)) for e in entries]
    else:
        xdg = environ.get("XDG_CONFIG_HOME", "").strip()
        config_home = expand_home(xdg, home_dir) if xdg else home_dir / ".config"
        candidates = [config_home / "claude" / PROJECTS, home_dir / ".claude" / PROJECTS]
    return unique(candidates)


def find_transcripts(root: Path) -> RootScan[Transcript]:
    """Every ``*.jsonl`` file below ``root``, recursively, with its project and session.

    Symbolic links are not followed; a directory that cannot be listed is recorded in
    ``unreadable``; a root that does not exist is simply empty (``rootpaths.walk_tree``).
    """
    return walk_tree(root, is_jsonl_name, transcript_of)


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


def _projects_dir(path: Path) -> Path:
    """The ``projects/`` directory for an entry naming either it or the config dir holding it."""
    return path if path.name == PROJECTS else path / PROJECTS
