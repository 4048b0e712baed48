"""Where Gemini CLI keeps its chats, and which files under those roots are chats.

A *root* is a ``tmp/`` directory of a Gemini home (``~/.gemini/tmp``). Chats sit below it in
three layouts (FORMATS.md section 4.1)::

    tmp/<project-id>/chats/session-<when>-<id8>.jsonl       current append-only chat
    tmp/<project-id>/chats/session-<when>-<id8>.json        legacy chat (one JSON document)
    tmp/<project-id>/chats/<parentSessionId>/<sessionId>.jsonl   subagent chat

``<project-id>`` is a slug (current builds) or a sha256 hex (older builds); it is the project of
every record in the file. Everything else (``logs.json``, checkpoints, ``tmp/bin``) is skipped.
The session is the ``sessionId`` written inside the file; the file stem only stands in until one
is read (see ``reader``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from services.collector.listings import Entry, Listings, read_dir
from services.collector.rootpaths import JSONL, RootScan, is_jsonl_name, locate

CHATS = "chats"
TMP = "tmp"
GEMINI_DIR = ".gemini"
JSON = ".json"
MAIN_PREFIX = "session-"


@dataclass(frozen=True, slots=True)
class ChatLog:
    """One chat file: its project, the session to use until the file names one, its format."""

    path: str
    project: str
    session: str
    """The file stem: the session until a line (or the document) carries a ``sessionId``."""
    legacy: bool = False
    """A single JSON document (rewritten whole) rather than an append-only JSONL log."""
    subagent: bool = False
    """A subagent's chat, under ``chats/<parentSessionId>/``."""


def find_logs(root: Path, listings: Listings | None = None) -> RootScan[ChatLog]:
    """Every chat file below ``root`` (the three layouts in this module's docstring).

    Only ``<project>/chats/`` and its direct subdirectories are listed, so unrelated trees under
    ``tmp/`` are never walked. Symbolic links are not followed. A directory that cannot be listed
    is recorded in ``unreadable``; one that does not exist is simply empty. With ``listings``,
    directories that did not change since its last walk are not read again.
    """
    scan: RootScan[ChatLog] = RootScan()
    list_dir = read_dir if listings is None else listings.entries
    for project_entry in _list(list_dir, os.fspath(root), scan):
        if not project_entry.is_dir:
            continue
        project = project_entry.name
        chats = os.path.join(project_entry.path, CHATS)
        for entry in _list(list_dir, chats, scan):
            if entry.is_dir:
                for sub in _list(list_dir, entry.path, scan):
                    log = chat_log_of((project, CHATS, entry.name, sub.name), sub.path)
                    if log is not None and sub.is_file:
                        scan.files.append(log)
            else:
                log = chat_log_of((project, CHATS, entry.name), entry.path)
                if log is not None and entry.is_file:
                    scan.files.append(log)
    scan.files.sort(key=lambda log: log.path)
    return scan


def chat_log_of(parts: tuple[str, ...], path: str) -> ChatLog | None:
    """The chat at ``path`` from its path components below the root, or ``None`` if the path is
    not a chat file in one of the three layouts."""
    if len(parts) < 3 or parts[1] != CHATS or not parts[0].strip():
        return None
    name = parts[-1]
    if len(parts) == 3 and name.startswith(MAIN_PREFIX):
        if name.endswith(JSONL):
            return ChatLog(path, parts[0], name[: -len(JSONL)])
        if name.endswith(JSON):
            return ChatLog(path, parts[0], name[: -len(JSON)], legacy=True)
    if len(parts) == 4 and is_jsonl_name(name):
        return ChatLog(path, parts[0], name[: -len(JSONL)], subagent=True)
    return None


def chat_log_at(roots: Iterable[Path], path: str) -> ChatLog | None:
    """The chat at ``path`` if it is a chat file name under one of ``roots`` (``chat_log_of``),
    else ``None``. Nothing is read from disk."""
    return locate(roots, path, lambda root, parts: chat_log_of(parts, path))


def _list(
    list_dir: Callable[[str], tuple[Entry, ...]], directory: str, scan: RootScan[ChatLog]
) -> tuple[Entry, ...]:
    """The entries of ``directory``: none if it does not exist, none (and reported) if it
    cannot be listed."""
    try:
        return list_dir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return ()
    except OSError:
        scan.unreadable.append(directory)
        return ()
