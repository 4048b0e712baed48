"""Answers of ``otm report`` kept for as long as they stay true: the printed output of one
command line over one state of the database.

A report is a pure function of the projections (themselves a pure function of the event log, so
of its head ``seq`` in a given database file), of the options, of the code that builds and draws
it and of where it is printed (rich reads the terminal and the environment). The key holds all of
these: the parsed options, the database's identity and head, the machine's zone (the default of
``--tz``), the whole environment, whether each standard stream is a terminal and the terminal's
size, and the modification time of every source file of ``otm`` and ``services.queries``. A
report that depends on the clock (``blocks`` while a block is active) is never kept.

A hit costs reading one small file instead of importing the report builder, the table library
and rendering (for a table, some 150 ms of a 200 ms command). Entries live in
``<state>/run/answers/`` (private, like the rest of the state folder); the oldest are removed
beyond `MAX_ENTRIES`.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

FORMAT = 1
MAX_ENTRIES = 64
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = (
    HERE,
    os.path.join(os.path.dirname(HERE), "services", "queries"),
    os.path.join(os.path.dirname(HERE), "services", "queries", "reports"),
)
"""Every module that builds or draws a report lives in one of these folders."""


def answers_dir(state: str) -> str:
    """``<state>/run/answers``."""
    return os.path.join(state, "run", "answers")


def _code() -> list[tuple[str, int]]:
    out = []
    for folder in SOURCES:
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    out.append((entry.name, entry.stat().st_mtime_ns))
    out.sort()
    return out


def _terminal() -> tuple[Any, ...]:
    ttys = tuple(_isatty(stream) for stream in (sys.stdin, sys.stdout, sys.stderr))
    try:
        size: tuple[int, int] | None = tuple(os.get_terminal_size())  # type: ignore[assignment]
    except OSError:
        size = None
    return (ttys, size)


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def key_of(
    kind: str, values: dict[str, Any], db: tuple[int, int] | None, head: int, demo: bool
) -> tuple[Any, ...]:
    """Everything the output of ``otm report <kind>`` with ``values`` depends on, over the
    database ``db`` (its identity) at ``head``."""
    try:
        zone = os.path.realpath("/etc/localtime")
    except OSError:
        zone = None
    return (
        FORMAT,
        sys.version,
        kind,
        tuple(sorted(values.items())),
        db,
        head,
        demo,
        zone,
        tuple(sorted(os.environ.items())),
        _terminal(),
        tuple(_code()),
    )


def _path(state: str, key: tuple[Any, ...]) -> str:
    digest = zlib.crc32(marshal.dumps(key))
    return os.path.join(answers_dir(state), f"{digest:08x}")


def lookup(state: str, key: tuple[Any, ...]) -> tuple[str, str] | None:
    """The kept ``(stdout, stderr)`` of ``key``, or ``None``."""
    try:
        with open(_path(state, key), "rb") as f:
            saved = marshal.loads(f.read())  # one read: marshal.load reads piece by piece
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(saved, tuple) or len(saved) != 3 or saved[0] != key:
        return None
    out, err = saved[1], saved[2]
    return (out, err) if isinstance(out, str) and isinstance(err, str) else None


def keep(state: str, key: tuple[Any, ...], out: str, err: str) -> None:
    """Keep an answer (a failure to write only costs the next hit), pruning the oldest."""
    folder = answers_dir(state)
    target = _path(state, key)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(temporary, "wb") as f:
            marshal.dump((key, out, err), f)
        os.replace(temporary, target)
        _prune(folder)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _prune(folder: str) -> None:
    with os.scandir(folder) as entries:
        found = [(e.stat().st_mtime_ns, e.path) for e in entries if e.is_file()]
    found.sort()
    for _, path in found[: max(0, len(found) - MAX_ENTRIES)]:
        with contextlib.suppress(OSError):
            os.unlink(path)


class Recording:
    """A standard stream that also records what is written to it; everything else (``isatty``,
    ``encoding``, ``fileno``...) is the stream's own, so rich draws exactly as it would."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        """Write ``text`` through, and record it."""
        self.parts.append(text)
        return self.stream.write(text)

    def writelines(self, lines: list[str]) -> None:
        """Write each line through, and record it."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    @property
    def text(self) -> str:
        """Everything written so far."""
        return "".join(self.parts)
