"""Where each CLI keeps its logs, by its own conventions and variables, resolved the same way
by every process (the runtime decides demo mode from them, the watcher watches them, the
collector reads them). Which files under a root are logs is each adapter's business
(``services.collector.<cli>.roots``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

CLAUDE_PROJECTS = "projects"
CODEX_SESSIONS = "sessions"
CODEX_ARCHIVED = "archived_sessions"
GEMINI_HOME_DIR = ".gemini"
GEMINI_TMP = "tmp"


def claude_roots(
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
        candidates = [
            config_home / "claude" / CLAUDE_PROJECTS,
            home_dir / ".claude" / CLAUDE_PROJECTS,
        ]
    return unique(candidates)


def codex_roots(
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
        entries = split_env_list(environ.get("CODEX_HOME", ""))
    homes = [codex_home_of(expand_home(e, home_dir)) for e in entries] or [home_dir / ".codex"]
    return unique(root for h in homes for root in (h / CODEX_SESSIONS, h / CODEX_ARCHIVED))


def gemini_roots(
    configured: list[str],
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """Candidate ``tmp/`` directories, in priority order, whether or not they exist yet.

    Configured entries win; each names a ``.gemini`` directory (its ``tmp/`` is used) or a chats
    root used as is (a ``tmp/`` directory, or any folder laid out like one, as ccusage's
    ``GEMINI_DATA_DIR``). Else every entry of ``GEMINI_DATA_DIR`` (a comma list, each a chats
    root used as is: ccusage reads it so, and a ccusage user who set it expects the same data);
    else ``$GEMINI_CLI_HOME/.gemini/tmp`` (Gemini CLI reads ``GEMINI_CLI_HOME`` as its home
    directory); else ``~/.gemini/tmp``. Missing roots are kept because the watcher must notice a
    root that is created after start.
    """
    environ = os.environ if env is None else env
    home_dir = Path.home() if home is None else home
    entries = [c for c in configured if c.strip()]
    if entries:
        return unique(_tmp_dir(expand_home(e, home_dir)) for e in entries)
    data_dirs = split_env_list(environ.get("GEMINI_DATA_DIR", ""))
    if data_dirs:
        return unique(expand_home(e, home_dir) for e in data_dirs)
    cli_home = environ.get("GEMINI_CLI_HOME", "").strip()
    base = expand_home(cli_home, home_dir) if cli_home else home_dir
    return [base / GEMINI_HOME_DIR / GEMINI_TMP]


def split_env_list(value: str) -> list[str]:
    """Non-empty, trimmed entries of a comma-separated list."""
    return [part.strip() for part in value.split(",") if part.strip()]


def expand_home(raw: str, home: Path) -> Path:
    """Expand a leading ``~`` against ``home`` (so tests control it); ``~user`` uses the OS."""
    text = raw.strip()
    if text == "~":
        return home
    if text.startswith(("~/", "~" + os.sep)):
        return home / text[2:]
    return Path(text).expanduser()


def unique(paths: Iterable[Path]) -> list[Path]:
    """Drop repeated roots, keeping the first occurrence (a root read twice counts nothing twice,
    since records keep their keys, but it would cost a second walk)."""
    seen: set[Path] = set()
    out: list[Path] = []
    for path in paths:
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out


def existing_roots(roots: Iterable[Path]) -> list[Path]:
    """The roots that exist as directories right now, order kept."""
    return [root for root in roots if root.is_dir()]


def _projects_dir(path: Path) -> Path:
    """The ``projects/`` directory for an entry naming either it or the config dir holding it."""
    return path if path.name == CLAUDE_PROJECTS else path / CLAUDE_PROJECTS


def codex_home_of(path: Path) -> Path:
    """The Codex home an entry stands for (an entry naming one of its log roots means its home)."""
    return path.parent if path.name in (CODEX_SESSIONS, CODEX_ARCHIVED) else path


def _tmp_dir(path: Path) -> Path:
    """The chats root for a configured entry: a ``.gemini`` directory means its ``tmp/``."""
    return path / GEMINI_TMP if path.name == GEMINI_HOME_DIR else path
