"""``otm report <kind> ...`` without typer: the fast path ``otm.entry`` takes for the options
``otm.report_args.parse`` understands (everything else, ``--help`` included, goes to typer).

It runs the typer command's own body (``otm.report_run``) and fails the way it does (the same
``error:`` line and exit status, the same one line for a damaged database or a full disk). The
database is opened from the last catch-up's snapshot when that is still valid (no config loaded,
nothing read); otherwise exactly as the typer command opens it.
"""

from __future__ import annotations

from otm import report_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3


def run(argv: list[str]) -> int | None:
    """Run ``otm report <argv>`` and return its exit status, or ``None`` (having done nothing)
    when typer must handle this command line."""
    parsed = report_args.parse(argv)
    if parsed is None:
        return None
    kind, values = parsed
    from otm.report_run import CommandError, print_error, run_report

    try:
        run_report(kind, values, _open_database)
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


def state_directory() -> str:
    """``bus.endpoints.state_dir()`` without its imports: ``$OTM_HOME``, else the platform's
    user data dir."""
    import os

    env = os.environ.get("OTM_HOME")
    if env:
        return os.path.expanduser(env)
    import platformdirs

    return str(platformdirs.user_data_dir("opentokenmonitor", appauthor=False))


def _open_database() -> tuple[sqlite3.Connection, bool]:
    """The snapshot's database if it is still current, else the typer command's way: load the
    runtime (its config errors are the command's) and open it for a report."""
    from services.queries.reports.open import open_from_snapshot

    opened = open_from_snapshot(state_directory())
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
    return open_for_report(runtime), runtime.demo
