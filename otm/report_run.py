"""Building and printing one ``otm report <kind>``: the one body both ways in run — the typer
command (``otm.cli``) and the fast path (``otm.report_fast``) — so their output cannot differ.

Nothing here imports typer, click or rich up front: rich is loaded for tables and for error
lines only.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from typing import Any

    Opener = Callable[[], tuple[sqlite3.Connection, bool]]
    """Opens an up-to-date database; the connection and whether it is the demo's."""


class CommandError(Exception):
    """A user error the command reports as one ``error:`` line and exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def print_error(message: str) -> None:
    """``error: <message>`` on stderr as one line."""
    from rich.console import Console
    from rich.markup import escape

    # Escaped: a message names settings like "[api] port", which are not markup; soft_wrap
    # keeps it one line (and a path in it whole) whatever the terminal's width.
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False
    )


def check_formats(values: dict[str, Any]) -> None:
    """``CommandError`` if ``--json`` and ``--csv`` are both given (checked before anything is
    opened, so this is the error even where the config is broken too)."""
    if values["json_output"] and values["csv_output"]:
        raise CommandError("--json and --csv exclude each other: pick one")


def run_report(kind: str, values: dict[str, Any], open_database: Opener) -> dict[str, Any]:
    """Build report ``kind`` with the options in ``values`` (``otm.report_args`` names) from
    the database ``open_database`` gives, and print it as JSON, CSV or a table; the report.
    Raises ``CommandError`` for a bad option."""
    from services.queries.reports.build import ReportOptions, build_report
    from services.queries.reports.common import ReportError
    from services.queries.reports.timezones import UnknownTimezone, local_timezone_name

    json_output, csv_output, provider = (
        values["json_output"],
        values["csv_output"],
        values["provider"],
    )
    check_formats(values)
    zone_name = values["tz"] or local_timezone_name()
    options = ReportOptions(
        provider=provider,
        tz=zone_name,
        since=values["since"],
        until=values["until"],
        order=values["order"],
        start_of_week=values["start_of_week"],
        token_limit=values["token_limit"],
        machine=values["machine"],
    )
    conn, demo = open_database()
    try:
        report = build_report(conn, kind, options)
    except (ReportError, UnknownTimezone) as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    if json_output:
        import json

        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return report
    if csv_output:
        from otm.csvout import to_csv

        sys.stdout.write(to_csv(kind, report, provider))
        for item in report.get("unpriced", []):
            sys.stderr.write(
                f"unpriced: {item['model']} ({item['tokens']} tokens), cost not included\n"
            )
        return report
    from otm.render import render_report

    given = [f"--{name} {values[name]}" for name in ("since", "until") if values[name]]
    render_report(kind, report, provider, zone_name, demo=demo, dates=" ".join(given))
    return report
