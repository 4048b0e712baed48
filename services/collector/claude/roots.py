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
from dataclasses import dataclass, field
from pathlib import Path

PROJECTS = "projects"
SUFFIX = ".jsonl"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Transcript:
    """One transcript file and the project and session it belongs to."""

    path: str
    project: str
    session: str


@dataclass(slots=True)
class TranscriptScan:
    """What one walk of a root found: transcripts (sorted by path) and directories it could not
    list, so the caller can report them instead of silently missing their data."""

    files: list[Transcript] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


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
        entries = _split_env_list(environ.get("CLAUDE_CONFIG_DIR", ""))
    if entries:
        candidates = [_projects_dir(_expand(e, home_dir)) for e in entries]
    else:
        xdg = environ.get("XDG_CONFIG_HOME", "").strip()
        config_home = _expand(xdg, home_dir) if xdg else home_dir / ".config"
        candidates = [config_home / "claude" / PROJECTS, home_dir / ".claude" / PROJECTS]
    return _unique(candidates)


def existing_roots(roots: Iterable[Path]) -> list[Path]:
    """The roots that exist as directories right now, order kept."""
    return [root for root in roots if root.is_dir()]


def find_transcripts(root: Path) -> TranscriptScan:
    """Every ``*.jsonl`` file below ``root``, recursively, with its project and session.

    Symbolic links are not followed (a link loop must not hang the scan, and ccusage does not
    follow them either). A directory that cannot be listed is recorded in ``unreadable``; a root
    that does not exist is simply empty.
    """
    scan = TranscriptScan()
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(root), ())]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    _visit(entry, rel, stack, scan)
        except FileNotFoundError:
            # A root that is not there yet, or a directory deleted mid-walk: nothing to read.
            continue
        except OSError:
            scan.unreadable.append(directory)
    scan.files.sort(key=lambda t: t.path)
    return scan


def _visit(
    entry: os.DirEntry[str],
    rel: tuple[str, ...],
    stack: list[tuple[str, tuple[str, ...]]],
    scan: TranscriptScan,
) -> None:
    """Queue a subdirectory or record a transcript file."""
    name = entry.name
    if entry.is_dir(follow_symlinks=False):
        stack.append((entry.path, (*rel, name)))
    elif _is_transcript_name(name) and entry.is_file(follow_symlinks=False):
        parts = (*rel, name)
        scan.files.append(Transcript(entry.path, project_of(parts), session_of(parts)))


def _is_transcript_name(name: str) -> bool:
    """``x.jsonl`` counts; a bare ``.jsonl`` is a dotfile with no extension, as in Rust's Path."""
    return name.endswith(SUFFIX) and len(name) > len(SUFFIX)


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


def _split_env_list(value: str) -> list[str]:
    """Non-empty, trimmed entries of a comma-separated list."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _expand(raw: str, home: Path) -> Path:
    """Expand a leading ``~`` against ``home`` (so tests control it); ``~user`` uses the OS."""
    text = raw.strip()
    if text == "~":
        return home
    if text.startswith(("~/", "~" + os.sep)):
        return home / text[2:]
    return Path(text).expanduser()


def _projects_dir(path: Path) -> Path:
    """The ``projects/`` directory for an entry naming either it or the config dir holding it."""
    return path if path.name == PROJECTS else path / PROJECTS


def _unique(paths: Iterable[Path]) -> list[Path]:
    """Drop repeated roots, keeping the first occurrence (a root read twice counts nothing twice,
    but it would cost a second walk)."""
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out
