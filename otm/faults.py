"""What ``otm`` says when the database is damaged or the disk is full, and ``otm store recover``.

Every command ends the same way on either: one line naming the file and the fix, exit status
1, no traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from services.queries.catchup import CatchUp
from services.runtime.installation import Runtime
from services.store.trouble import DISK_FULL, classify_at, describe

PROGRESS_SECONDS = 1.0


def database_trouble(exc: BaseException) -> str | None:
    """The one line for a damaged database or a full disk, None for any other error."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None or not isinstance(exc, sqlite3.Error | OSError):
        return None
    path = _db_path()
    kind = classify_at(exc, path)
    if kind is None:
        return None
    message = describe(kind, path, exc)
    if kind == DISK_FULL:
        message += "; free some space and run the command again"
    return message


def _db_path() -> Path:
    from services.runtime.config import ConfigError
    from services.runtime.installation import load_runtime

    try:
        return load_runtime().db_path
    except (ConfigError, OSError):
        return Path("otm.db")


def fail(message: str, code: int = 1) -> int:
    """Print ``error: <message>`` on stderr; the exit status."""
    Console(stderr=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
    )
    return code


def show_recover(runtime: Runtime, force: bool) -> int:
    """``otm store recover``: refuse while the store runs, move the damaged database aside,
    rebuild from the logs with progress lines, print the result; the exit status."""
    from bus.lock import AlreadyRunning
    from services.queries.recover import NothingToRecover, recover

    console = Console(highlight=False, soft_wrap=True)
    db = runtime.db_path
    console.print(f"checking {escape(str(db))} (PRAGMA quick_check) ...")
    last = [time.monotonic()]

    def moved(moves: list[tuple[Path, Path]]) -> None:
        for source, destination in moves:
            console.print(f"moved {escape(str(source))} -> {escape(str(destination))}")
        if not moves:
            console.print(f"no database at {escape(str(db))}: building one")
        console.print("rebuilding from the CLIs' logs ...")

    def progress(done: CatchUp) -> None:
        if time.monotonic() - last[0] >= PROGRESS_SECONDS:
            last[0] = time.monotonic()
            console.print(f"  {done.records} records read from the logs so far")

    try:
        recovered = recover(runtime, force=force, moved=moved, progress=progress)
    except AlreadyRunning:
        return fail(
            "the store is running: stop the stack first (Ctrl-C in `otm up`, or stop "
            "`otm store`), then run `otm store recover` again"
        )
    except NothingToRecover:
        console.print(
            f"{escape(str(db))} passed PRAGMA quick_check: nothing to recover "
            "(`otm store recover --force` rebuilds it from the logs anyway)"
        )
        return 0
    done = recovered.done
    console.print(
        f"recovered: {done.records} records in {done.batches} batches from the logs into "
        f"{escape(str(db))} (head seq {done.head_seq}, {recovered.seconds:.1f} s)"
    )
    if recovered.moved:
        console.print(
            f"the damaged copy stays at {escape(str(recovered.moved[0][1]))}: delete it once "
            "you no longer need it. What only it held (the live limits history, the alerts "
            "log) is not rebuilt; live limits come back with the next poll."
        )
    return 0
