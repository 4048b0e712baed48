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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SESSIONS = "sessions"
ARCHIVED = "archived_sessions"
SUFFIX = ".jsonl"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SessionLog:
    """One session log file and the session it records."""

    path: str
    session: str


@dataclass(slots=True)
class LogScan:
    """What one walk of a root found: logs (sorted by path) and directories it could not list,
    so the caller can report them instead of silently missing their data."""

    files: list[SessionLog] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def discover_roots(
    configured: list[str],
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """Candidate ``sessions/`` and ``archived_sessions/`` directories, whether or not they exist.

    Configured entries win; else ``CODEX_HOME`` (a comma-separated list, trimmed, blanks
    dropped, as in Codex and ccusage); else ``~/.codex``. Each entry is a Codex home, or one of
    its ``sessions``/``archived_sessions`` directories (which stands for its home). Every home
    yields ``<home>/sessions`` then ``<home>/archived_sessions``. Missing roots are kept because
    the watcher must notice a root created after start.
    """
    environ = os.environ if env is None else env
    home_dir = Path.home() if home is None else home
    entries = [c for c in configured if c.strip()]
    if not entries:
        entries = [p.strip() for p in environ.get("CODEX_HOME", "").split(",") if p.strip()]
    homes = [_home_of(_expand(e, home_dir)) for e in entries] or [home_dir / ".codex"]
    return _unique(root for h in homes for root in (h / SESSIONS, h / ARCHIVED))


def bare_homes(roots: Iterable[Path]) -> list[Path]:
    """Homes of ``roots`` that exist but hold neither ``sessions/`` nor ``archived_sessions/``.

    ccusage then reads the home itself (recursively): that is where ``codex exec --json``
    output saved as ``*.jsonl`` is found. Decided afresh on every call, like ccusage's scan.
    """
    homes = _unique(root.parent for root in roots if root.name in (SESSIONS, ARCHIVED))
    return [
        home
        for home in homes
        if home.is_dir() and not (home / SESSIONS).is_dir() and not (home / ARCHIVED).is_dir()
    ]


def existing_roots(roots: Iterable[Path]) -> list[Path]:
    """The roots that exist as directories right now, order kept."""
    return [root for root in roots if root.is_dir()]


def find_logs(root: Path) -> LogScan:
    """Every ``*.jsonl`` file below ``root``, recursively, sorted, with its session.

    Symbolic links are not followed (a link loop must not hang the scan; ccusage skips them
    too). A directory that cannot be listed is recorded in ``unreadable``; a root that does not
    exist is simply empty. Under an ``archived_sessions`` root, a file whose twin exists in the
    sibling ``sessions`` root is left out (``shadowed``).
    """
    scan = LogScan()
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(root), ())]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, (*rel, entry.name)))
                    elif _is_log_name(entry.name) and entry.is_file(follow_symlinks=False):
                        parts = (*rel, entry.name)
                        if not shadowed(root, parts):
                            scan.files.append(SessionLog(entry.path, session_of(parts)))
        except FileNotFoundError:
            # A root that is not there yet, or a directory deleted mid-walk: nothing to read.
            continue
        except OSError:
            scan.unreadable.append(directory)
    scan.files.sort(key=lambda log: log.path)
    return scan


def log_at(roots: Iterable[Path], path: str) -> SessionLog | None:
    """The log at ``path`` if it is a ``*.jsonl`` file name under one of ``roots`` (and not a
    shadowed archived copy), else ``None``. Nothing is read from disk but a shadow check."""
    for root in roots:
        try:
            parts = Path(path).relative_to(root).parts
        except ValueError:
            continue
        if parts and _is_log_name(parts[-1]) and not shadowed(root, parts):
            return SessionLog(path, session_of(parts))
    return None


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


def _is_log_name(name: str) -> bool:
    """``x.jsonl`` counts; a bare ``.jsonl`` is a dotfile with no extension, as in Rust's Path."""
    return name.endswith(SUFFIX) and len(name) > len(SUFFIX)


def _home_of(path: Path) -> Path:
    """The Codex home an entry stands for (an entry naming one of its log roots means its home)."""
    return path.parent if path.name in (SESSIONS, ARCHIVED) else path


def _expand(raw: str, home: Path) -> Path:
    """Expand a leading ``~`` against ``home`` (so tests control it); ``~user`` uses the OS."""
    text = raw.strip()
    if text == "~":
        return home
    if text.startswith(("~/", "~" + os.sep)):
        return home / text[2:]
    return Path(text).expanduser()


def _unique(paths: Iterable[Path]) -> list[Path]:
    """Drop repeated roots, keeping the first occurrence."""
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out
