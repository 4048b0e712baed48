"""The ``otm`` command: one sub-command per process, ``up`` for the stack, and user commands.

Imports are deferred into each command so that quick commands (``otm report daily --json`` on
a warm store) pay only for what they use.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from services.processes import PROCESSES, Process

if TYPE_CHECKING:
    from services.runtime.installation import Runtime

app = typer.Typer(
    help="OpenTokenMonitor: tokens, dollars and limits of AI coding CLIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
report_app = typer.Typer(help="Usage reports (from projections; nothing is rescanned).")
store_app = typer.Typer(
    help="Run the store process, or maintain its database.", invoke_without_command=True
)
alerts_app = typer.Typer(
    help="Recent alerts and how each channel delivered them; test or snooze the channels.",
    invoke_without_command=True,
)
api_app = typer.Typer(
    help="Run the api process (HTTP queries, the live stream, the dashboard); or print its token.",
    invoke_without_command=True,
)
app.add_typer(report_app, name="report")
app.add_typer(alerts_app, name="alerts")
app.add_typer(store_app, name="store")
app.add_typer(api_app, name="api")
GROUPS = {"store": store_app, "api": api_app}
"""Processes that also have sub-commands (``otm store rebuild``, ``otm api token``)."""


def _runtime() -> Runtime:
    from services.runtime.config import ConfigError
    from services.runtime.installation import load_runtime

    try:
        return load_runtime()
    except ConfigError as exc:
        _fail(str(exc))


PROVIDER_CHOICES = ("claude", "codex", "gemini", "all")


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: <message>`` on stderr as one line and exit with ``code``."""
    from rich.console import Console
    from rich.markup import escape

    # Escaped: a message names settings like "[api] port", which are not markup; soft_wrap
    # keeps it one line (and a path in it whole) whatever the terminal's width.
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False
    )
    raise typer.Exit(code)


def _quiet_logs() -> None:
    """One-shot commands: only warnings, and on stderr, so stdout stays the answer."""
    import logging

    from services.runtime.logs import configure

    configure("otm", logging.WARNING)


def _serve(process: str, run: Callable[[Runtime], None]) -> None:
    from services.runtime.runner import main

    code = main(process, run)
    if code:
        raise typer.Exit(code)


def _process_command(process: Process) -> None:
    """Register ``otm <name>``: run one process of the stack (its module imported on use)."""

    def command() -> None:
        _serve(process.name, _process_run(process))

    command.__doc__ = process.summary
    if process.name in GROUPS:
        GROUPS[process.name].callback()(_group_callback(command))
    else:
        app.command(process.name)(command)


def _process_run(process: Process) -> Callable[[Runtime], None]:
    import importlib

    run: Callable[[Runtime], None] = importlib.import_module(process.module).run
    return run


def _group_callback(command: Callable[[], None]) -> Callable[[typer.Context], None]:
    def group_command(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            command()

    group_command.__doc__ = command.__doc__
    return group_command


for _process in PROCESSES:
    _process_command(_process)


@store_app.command("rebuild")
def store_rebuild() -> None:
    """Replay the event log into fresh projections (the store must be stopped)."""
    from rich.console import Console

    from bus.lock import AlreadyRunning, ProcessLock
    from services.store.database import rebuild

    runtime = _runtime()
    try:
        with ProcessLock(runtime.lock_path("store")):
            events = rebuild(str(runtime.db_path))
    except AlreadyRunning:
        _fail("the store is running: stop the stack first (rebuild needs the only write access)")
    Console().print(f"rebuilt projections from {events} events in {runtime.db_path}")


@api_app.command("token")
def api_token_command() -> None:
    """Print the api's token (made if there is none yet), for clients where the api cannot
    tell who is asking: send it as 'Authorization: Bearer <token>'."""
    from services.api.owner import api_token

    typer.echo(api_token(_runtime().state))


@store_app.command("recover")
def store_recover(
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even a database that looks sound.")
    ] = False,
) -> None:
    """Move a damaged database aside (otm.db.damaged-<UTC time>) and rebuild a fresh one from
    the CLIs' logs (the store must be stopped)."""
    from otm.faults import show_recover

    raise typer.Exit(show_recover(_runtime(), force))


@app.command("up")
def up_command(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show every process's log lines.")
    ] = False,
) -> None:
    """Run the whole stack (the same as `honcho start` in the repository); Ctrl-C stops it."""
    from otm.up import run

    raise typer.Exit(run(_runtime(), verbose))


# -- reports ----------------------------------------------------------------------------------

JsonOption = Annotated[bool, typer.Option("--json", help="JSON (ccusage's field names).")]
CsvOption = Annotated[bool, typer.Option("--csv", help="CSV: one line per row.")]
TzOption = Annotated[
    str | None, typer.Option("--tz", "-z", help="IANA zone for dates (default: this machine's).")
]
SinceOption = Annotated[
    str | None, typer.Option("--since", "-s", help="First local date, YYYYMMDD or YYYY-MM-DD.")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", "-u", help="Last local date, YYYYMMDD or YYYY-MM-DD.")
]
OrderOption = Annotated[
    str | None, typer.Option("--order", "-o", help="asc or desc (default: the report's own).")
]
ProviderOption = Annotated[
    str, typer.Option("--provider", "-p", help="claude, codex, gemini or all.")
]


def _report(
    kind: str,
    json_output: bool,
    csv_output: bool,
    provider: str,
    tz: str | None,
    since: str | None,
    until: str | None,
    order: str | None,
    start_of_week: str = "sunday",
    token_limit: str | None = None,
) -> None:
    """Build one report from the projections and print it as JSON, CSV or a table."""
    from services.queries.reports.build import ReportOptions, build_report
    from services.queries.reports.common import ReportError
    from services.queries.reports.open import open_for_report
    from services.queries.reports.timezones import UnknownTimezone, local_timezone_name

    if json_output and csv_output:
        _fail("--json and --csv exclude each other: pick one")
    zone_name = tz or local_timezone_name()
    options = ReportOptions(
        provider=provider,
        tz=zone_name,
        since=since,
        until=until,
        order=order,
        start_of_week=start_of_week,
        token_limit=token_limit,
    )
    runtime = _runtime()
    conn = open_for_report(runtime)
    try:
        report = build_report(conn, kind, options)
    except (ReportError, UnknownTimezone) as exc:
        _fail(str(exc))
    finally:
        conn.close()
    if json_output:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    if csv_output:
        from otm.csvout import to_csv

        sys.stdout.write(to_csv(kind, report, provider))
        for item in report.get("unpriced", []):
            sys.stderr.write(
                f"unpriced: {item['model']} ({item['tokens']} tokens), cost not included\n"
            )
        return
    from otm.render import render_report

    render_report(kind, report, provider, zone_name, demo=runtime.demo)


def _plain_report_command(kind: str, summary: str) -> None:
    """Register ``otm report <kind>``: the reports that take only the common options."""

    def command(
        json_output: JsonOption = False,
        csv_output: CsvOption = False,
        provider: ProviderOption = "all",
        tz: TzOption = None,
        since: SinceOption = None,
        until: UntilOption = None,
        order: OrderOption = None,
    ) -> None:
        _report(kind, json_output, csv_output, provider, tz, since, until, order)

    command.__doc__ = summary
    report_app.command(kind)(command)


for _kind, _summary in (
    ("daily", "Tokens and dollars per local day, per model."),
    ("monthly", "Tokens and dollars per month, per model."),
    ("session", "Tokens and dollars per session, most expensive first (dates: last activity)."),
    ("project", "Tokens and dollars per project, most expensive first (dates: last activity)."),
):
    _plain_report_command(_kind, _summary)


@report_app.command("weekly")
def report_weekly(
    json_output: JsonOption = False,
    csv_output: CsvOption = False,
    provider: ProviderOption = "all",
    tz: TzOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    order: OrderOption = None,
    start_of_week: Annotated[
        str, typer.Option("--start-of-week", "-w", help="sunday or monday.")
    ] = "sunday",
) -> None:
    """Tokens and dollars per week (named by its first day), per model."""
    _report("weekly", json_output, csv_output, provider, tz, since, until, order, start_of_week)


@report_app.command("blocks")
def report_blocks(
    json_output: JsonOption = False,
    csv_output: CsvOption = False,
    provider: ProviderOption = "all",
    tz: TzOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    order: OrderOption = None,
    token_limit: Annotated[
        str | None,
        typer.Option("--token-limit", "-t", help="Tokens per block, or 'max' (largest so far)."),
    ] = None,
) -> None:
    """Five-hour blocks (ccusage's rules), with burn rate and projection for the active one."""
    _report(
        "blocks",
        json_output,
        csv_output,
        provider,
        tz,
        since,
        until,
        order,
        token_limit=token_limit,
    )


@app.command("limits")
def limits_command(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    provider: Annotated[
        str, typer.Option("--provider", "-p", help="claude|codex|gemini|all.")
    ] = "all",
) -> None:
    """Rate-limit windows as the providers reported them, with live reset countdowns."""
    from services.queries.reports.limits import limits_report, stale_after
    from services.queries.reports.open import open_for_report

    if provider not in PROVIDER_CHOICES:
        _fail(f"--provider {provider!r}: use one of {', '.join(PROVIDER_CHOICES)}")
    runtime = _runtime()
    conn = open_for_report(runtime)
    try:
        report = limits_report(
            conn, provider, stale_seconds=stale_after(runtime.config.limits.poll_seconds)
        )
    finally:
        conn.close()
    if json_output:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    from otm.render import render_limits

    render_limits(report)


@alerts_app.callback()
def alerts_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 20,
) -> None:
    """Recent alerts (newest first), which are still active, and each channel's delivery."""
    if ctx.invoked_subcommand is not None:
        return
    from services.queries.alerts import alerts_report
    from services.queries.reports.open import open_for_report

    runtime = _runtime()
    conn = open_for_report(runtime)
    try:
        report = alerts_report(conn, runtime, max(1, limit))
    finally:
        conn.close()
    if json_output:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    from otm.alerts_view import show_alerts

    show_alerts(report)


@alerts_app.command("test")
def alerts_test_command(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """Send one test alert through every configured channel and show what each answered."""
    from services.notifier.trial import send_trial_alert

    runtime = _runtime()
    _quiet_logs()
    answers = send_trial_alert(runtime)
    if json_output:
        sys.stdout.write(json.dumps(answers, indent=2) + "\n")
        return
    from otm.alerts_view import show_test_answers

    show_test_answers(answers)
    if not all(a["ok"] for a in answers):
        raise typer.Exit(1)


@alerts_app.command("snooze")
def alerts_snooze_command(
    duration: Annotated[str, typer.Argument(help="How long: 30m, 2h, 1d; or off.")],
) -> None:
    """Hold every alert channel for a while (one summary afterwards), or lift it with off."""
    from datetime import datetime

    from services.notifier.delivery import parse_duration, snooze

    runtime = _runtime()
    if duration == "off":
        snooze(runtime.state, None)
        typer.echo("alerts: snooze lifted")
        return
    seconds = parse_duration(duration)
    if seconds is None:
        _fail(f"snooze {duration!r}: write a duration like 30m, 2h or 1d, or off")
    until = snooze(runtime.state, seconds)
    assert until is not None
    when = datetime.fromtimestamp(until).strftime("%a %H:%M")
    typer.echo(f"alerts: snoozed until {when} (one summary then); `otm alerts snooze off` ends it")


@app.command("refresh")
def refresh_command(
    provider: Annotated[
        str, typer.Option("--provider", "-p", help="claude|codex|gemini|all.")
    ] = "all",
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """Ask the providers' live limits endpoints now (politely: not more often than
    [limits] min_interval_seconds), then show the limits."""
    from services.queries.refresh import refresh

    if provider not in PROVIDER_CHOICES:
        _fail(f"--provider {provider!r}: use one of {', '.join(PROVIDER_CHOICES)}")
    _quiet_logs()
    outcome = refresh(_runtime(), provider)
    from rich.console import Console

    for name, what in outcome.items():  # on stderr, so --json output stays pure JSON
        Console(stderr=True, highlight=False).print(f"{name}: {what}", markup=False)
    limits_command(json_output=json_output, provider=provider)


@app.command("doctor")
def doctor_command(
    provider: Annotated[
        str, typer.Option("--provider", "-p", help="claude|codex|gemini|all.")
    ] = "all",
    live: Annotated[bool, typer.Option("--live", help="Ask the endpoints now first.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """For each provider: what was found where, what works, what fails and how to fix it."""
    from otm.health import show_doctor

    if provider not in PROVIDER_CHOICES:
        _fail(f"--provider {provider!r}: use one of {', '.join(PROVIDER_CHOICES)}")
    _quiet_logs()
    show_doctor(_runtime(), provider, live, json_output)


@app.command("statusline")
def statusline_command() -> None:
    """A Claude Code statusline: reads its JSON on stdin, prints one line (model, today's
    cost, 5-hour and weekly use). Set it in Claude Code's settings as
    {"statusLine": {"type": "command", "command": "otm statusline"}}."""
    from otm.statusline import run

    raise typer.Exit(run())


@app.command("tail")
def tail_command(
    prefix: Annotated[str, typer.Argument(help="Topic prefix, e.g. evt.usage.")] = "evt.",
    from_seq: Annotated[
        int | None, typer.Option("--from", help="Replay events after this seq first.")
    ] = None,
) -> None:
    """Print committed events as JSON lines, live (replaying from --from first)."""
    from otm.tail import tail

    tail(_runtime(), prefix, from_seq)


@app.command("top")
def top_command() -> None:
    """A live full-screen view: windows, today's and the block's cost, activity, alerts.
    Keys: 1/2/3 claude/codex/gemini, a or 0 all, q quit. When stdout is not a terminal it
    prints one snapshot and exits 0."""
    from otm.top import run_top

    raise typer.Exit(run_top(_runtime()))


@app.command("status")
def status_command(
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """Each process, the head seq, roots found and skipped input."""
    from otm.health import show_status

    raise typer.Exit(show_status(_runtime(), json_output))


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of every message on the bus."""
    from bus.codec import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def main() -> None:
    """Entry point of the ``otm`` script."""
    try:
        app()
    except Exception as exc:
        # A damaged database or a full disk, wherever it surfaces: one line, exit status 1.
        from otm.faults import database_trouble, fail

        message = database_trouble(exc)
        if message is None:
            raise
        sys.exit(fail(message))
