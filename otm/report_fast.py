"""``otm report <kind> ...`` without typer: the fast path ``otm.entry`` takes for the options
``otm.report_args.parse`` understands (everything else, ``--help`` included, goes to typer).

It runs the typer command's own body (``otm.report_run``) and fails the way it does (the same
``error:`` line and exit status, the same one line for a damaged database or a full disk). The
database is opened from the last catch-up's snapshot when that is still valid (no config loaded,
nothing read); otherwise exactly as the typer command opens it. An answer printed before over the
same database state, options and terminal is printed again as it was (``otm.report_answers``).
"""

from __future__ import annotations

import sys

from otm import report_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any


def run(argv: list[str]) -> int | None:
    """Run ``otm report <argv>`` and return its exit status, or ``None`` (having done nothing)
    when typer must handle this command line."""
    parsed = report_args.parse(argv)
    if parsed is None:
        return None
    kind, values = parsed
    from otm.report_run import CommandError, print_error

    try:
        _answer(kind, values)
    except CommandError as exc:
        print_error(exc.message)
        return exc.code
    except Exception as exc:
        # As otm.cli.main: a damaged database or a full disk is one line and exit status 1.
        from otm.faults import database_trouble, fail

        message = database_trouble(exc)
        if message is None:
            raise
        return fail(message)
    return 0


def _answer(kind: str, values: dict[str, Any]) -> None:
    """Print the kept answer if there is one, else build, print and keep it."""
    from otm import report_answers as answers
    from otm.report_run import check_formats, run_report
    from services.queries import catchup_snapshot as snapshots

    check_formats(values)
    state = state_directory()
    conn, demo, db = _open_database(state)
    try:
        key = answers.key_of(kind, values, snapshots.identity(db), snapshots.head_of(conn), demo)
    except Exception:
        conn.close()
        raise
    kept = answers.lookup(state, key)
    if kept is not None:
        conn.close()
        sys.stdout.write(kept[0])
        sys.stderr.write(kept[1])
        return
    out, err = answers.Recording(sys.stdout), answers.Recording(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        report = run_report(kind, values, lambda: (conn, demo))
    finally:
        sys.stdout, sys.stderr = out.stream, err.stream
    from services.queries.reports.build import ROWS_KEY

    if not report[ROWS_KEY[kind]]:
        # An empty report names the roots of the config file, which the key does not cover.
        return
    if not (kind == "blocks" and any(b["isActive"] for b in report["blocks"])):
        # An active block's burn rate and projection change with the clock: never kept.
        answers.keep(state, key, out.text, err.text)


def state_directory() -> str:
    """``bus.endpoints.state_dir()`` without its imports: ``$OTM_HOME``, else the platform's
    user data dir."""
    import os

    env = os.environ.get("OTM_HOME")
    if env:
        return os.path.expanduser(env)
    import platformdirs

    return str(platformdirs.user_data_dir("opentokenmonitor", appauthor=False))


def _open_database(state: str) -> tuple[sqlite3.Connection, bool, str]:
    """The connection, whether it is the demo's and the database's path: from the snapshot
    if it is still current, else the typer command's way (load the runtime, whose config
    errors are the command's, and open it for a report, catching up first)."""
    from services.queries.reports.open import open_from_snapshot

    opened = open_from_snapshot(state)
    if opened is not None:
        return opened
    from otm.report_run import CommandError
    from services.queries.reports.open import open_for_report
    from services.runtime.config import ConfigError
    from services.runtime.installation import load_runtime

    try:
        runtime = load_runtime()
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    return open_for_report(runtime), runtime.demo, str(runtime.db_path)
