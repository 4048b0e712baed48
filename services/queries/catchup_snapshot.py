"""What the last one-shot catch-up saw, so the next one-shot command can tell in a few stats that
nothing changed since and skip building the adapters at all.

A catch-up reads every log file from its committed cursor; when no file under any root changed
(same names, inodes, sizes and modification times), no spool file changed and the database is
the one the catch-up left (same file, same head ``seq``), reading again would find nothing. The
snapshot is taken *before* the catch-up reads, so bytes appended while it reads make the next
check differ (and catch up again): a stale snapshot only ever costs a catch-up, never a miss.

It also records where that command found everything (state folder, database, store lock, demo
mode) under a key of what decides it (the environment variables ``load_runtime`` reads, the
config file), so ``otm report`` can answer without loading the config.

Only the standard library is imported here (``marshal`` for the file: fast, built in; its format
is tied to the Python version, which is part of the key).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import time
from collections.abc import Iterable, Sequence

FILE_NAME = "catchup-snapshot"
"""In the state folder's ``run/`` directory."""
FORMAT = 2
QUIET_SECONDS = 5.0
"""A file written less than this long before the snapshot may be read differently later at the
same size: the Codex reader waits ``codex.reader.IDLE_SECONDS`` (3 s) of quiet before judging a
forked session's replay. Such a snapshot is kept for its place but never skips a catch-up."""
ENV_PREFIXES = ("OTM_", "CLAUDE_", "CODEX_", "GEMINI_", "XDG_")
ENV_NAMES = ("HOME", "USERPROFILE", "APPDATA", "LOCALAPPDATA")
"""The environment ``load_runtime`` reads (state folder, config overrides, roots, demo mode)."""

Entry = tuple[object, ...]
Scan = list[Entry]
Stamp = tuple[int, int, int, int]
Listing = tuple[Stamp, tuple[str, ...], tuple[str, ...]]
"""A directory's ``(st_dev, st_ino, st_mtime_ns, st_ctime_ns)`` when listed, the names of its
subdirectories and of everything else in it."""
Listings = dict[str, Listing]
Look = tuple[float, Scan, int, Listings]
"""One scan of the inputs: when it began, what it saw, the newest time, the listings it made."""
RECENT_SECONDS = 1.0

_recent: dict[tuple[object, ...], Look] = {}
"""This process's last look at each set of inputs: a one-shot command that finds a change looks
twice (the fast path, then the full rule) before snapshotting what it will read, and one look
does for all three. A look taken earlier is as safe as one taken just before reading (a change
after it shows at the next check); ``forget_looks`` ends its use, ``RECENT_SECONDS`` at most."""


def snapshot_path(state: str) -> str:
    """``<state>/run/catchup-snapshot``."""
    return os.path.join(state, "run", FILE_NAME)


def place_key(state: str) -> tuple[object, ...]:
    """What decides the runtime a report uses: Python, the relevant environment and the config
    file (its identity, size and modification time)."""
    env = tuple(
        sorted(
            (k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) or k in ENV_NAMES
        )
    )
    return (FORMAT, sys.version, state, env, _stat_of(os.path.join(state, "config.toml")))


def _stat_of(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def scan_tree(
    root: str,
    out: Scan,
    newest: list[int],
    listings: Listings | None = None,
    listed: Listings | None = None,
) -> None:
    """Append every directory and file below ``root`` (links not followed) to ``out``: a
    directory as ``(path,)``, a file as ``(name, inode, size, mtime_ns)``; a missing or
    unreadable root as ``(root, None)``. ``newest[0]`` becomes the newest modification time
    seen, of a file or a directory (a deleted file shows only in its directory's).

    A directory whose stamp is the one in ``listings`` is not listed again: its saved names
    are used (a ``stat`` costs a fourth of a listing, and every file is looked at anyway).
    Each directory's listing goes into ``listed``. Saved names are right only if the directory
    was still well before they were saved (an entry added in the same tick of the file
    system's clock could leave its modification time as it was; one added later moves it):
    ``settled`` checks that of the scan saved."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            st = os.stat(directory)
            stamp = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
            kept = None if listings is None else listings.get(directory)
            listing = kept if kept is not None and kept[0] == stamp else _list(directory, stamp)
        except OSError:
            out.append((directory, None))
            continue
        if listed is not None:
            listed[directory] = listing
        out.append((directory,))
        newest[0] = max(newest[0], st.st_mtime_ns)
        _, subdirectories, others = listing
        for name in others:
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                out.append((name, None))
                continue
            out.append((name, st.st_ino, st.st_size, st.st_mtime_ns))
            if st.st_mtime_ns > newest[0]:
                newest[0] = st.st_mtime_ns
        stack.extend(os.path.join(directory, name) for name in subdirectories)


def _list(directory: str, stamp: Stamp) -> Listing:
    subdirectories: list[str] = []
    others: list[str] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            (subdirectories if is_dir else others).append(entry.name)
    return (stamp, tuple(subdirectories), tuple(others))


def scan_inputs(
    roots: Iterable[str],
    state: str,
    extra: Sequence[str] = (),
    listings: Listings | None = None,
    listed: Listings | None = None,
) -> tuple[Scan, int]:
    """Every file a catch-up reads from (the roots' trees, the spool) and the stat of each of
    ``extra`` (what prices depend on); with the newest modification time among them. The
    directories' listings as ``scan_tree`` uses and fills them."""
    out: Scan = []
    newest = [0]
    for root in roots:
        scan_tree(root, out, newest, listings, listed)
    scan_tree(os.path.join(state, "spool"), out, newest, listings, listed)
    for path in extra:
        out.append((path, _stat_of(path)))
    return out, newest[0]


def look(roots: Sequence[str], state: str, extra: Sequence[str], listings: Listings | None) -> Look:
    """The inputs as they are now: this process's look of the last ``RECENT_SECONDS`` at the
    same inputs if ``forget_looks`` was not called since, else a new scan."""
    key = (tuple(roots), state, tuple(extra))
    found = _recent.get(key)
    if found is not None and now() - found[0] <= RECENT_SECONDS:
        return found
    taken_at = now()
    listed: Listings = {}
    scan, newest = scan_inputs(roots, state, extra, listings, listed)
    _recent[key] = (taken_at, scan, newest, listed)
    return _recent[key]


def forget_looks() -> None:
    """Look afresh from now on (a catch-up is done with what the looks so far saw)."""
    _recent.clear()


def saved_listings(saved: dict[str, object]) -> Listings | None:
    """The directory listings of a saved snapshot whose scan settled (only those are saved:
    their directories were still long enough for a stamp to tell), else ``None``."""
    listings = saved.get("listings")
    if saved.get("inputs") is None or not isinstance(listings, dict):
        return None
    return listings


def identity(path: str) -> tuple[int, int] | None:
    """A file's ``(st_dev, st_ino)``, ``None`` if it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def unchanged_inputs(saved: dict[str, object], state: str) -> bool:
    """Whether every file the saved catch-up saw is as it was, and the database is the same
    file (its head ``seq`` is for the caller to check, on its own connection)."""
    inputs = saved.get("inputs")
    roots, extra, place = saved.get("roots"), saved.get("extra"), saved.get("place")
    if inputs is None or not isinstance(roots, list) or not isinstance(extra, list):
        return False
    if not isinstance(place, dict):
        return False
    _taken_at, scan, _newest, _listed = look(roots, state, extra, saved_listings(saved))
    return scan == inputs and identity(str(place.get("db"))) == saved.get("db")


def head_of(conn: object) -> int:
    """The database's head ``seq`` (``services.store.log.head``)."""
    (value,) = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()  # type: ignore[attr-defined]
    return int(value)


def load(state: str) -> dict[str, object] | None:
    """The saved snapshot, or ``None`` (none, unreadable, another format)."""
    try:
        with open(snapshot_path(state), "rb") as f:
            # One read, then loads: marshal.load on a file reads object by object, which made
            # it 25x slower (50 ms for a 1 GB history's 6,000 entries, against 2 ms).
            value = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def save(state: str, snapshot: dict[str, object]) -> None:
    """Replace the snapshot atomically; a failure (a full disk) only costs the next skip."""
    target = snapshot_path(state)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f:
            marshal.dump(snapshot, f)
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def settled(newest_mtime_ns: int, taken_at: float) -> bool:
    """Whether every file was last written `QUIET_SECONDS` or more before the snapshot."""
    return newest_mtime_ns <= (taken_at - QUIET_SECONDS) * 1e9


def now() -> float:
    """The wall clock, as file modification times use it."""
    return time.time()
