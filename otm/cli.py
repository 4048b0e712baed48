"""The ``otm`` command: one sub-command per process, ``up`` for the stack, and user commands.

Imports are deferred into each command so that quick commands (``otm report daily --json`` on
a warm store) pay only for what they use.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import click
import typer
from typer.core import TyperGroup

from otm import report_args
from services.processes import PROCESSES, Process

if TYPE_CHECKING:
    import sqlite3

    from services.runtime.installation import Runtime

USER_COMMANDS = (
    "report",
    "limits",
    "status",
    "top",
    "tail",
    "statusline",
    "alerts",
    "refresh",
    "doctor",
    "up",
    "service",
    "schema",
)
"""``otm --help`` lists these first, in this order (what a person runs most comes first); any
other command follows them, and the processes come last, in start order, in a panel of their
own."""
REPORT_KINDS = ("daily", "weekly", "monthly", "session", "project", "blocks", "machines")
"""``otm report --help`` in this order: the periods from short to long, then the rest."""
PROCESS_PANEL = "Processes of the stack: otm up runs them all (run one alone to debug it)"


def ordered(names: Sequence[str]) -> type[TyperGroup]:
    """A command group listing ``names`` first, in that order, then the rest as registered."""
    rank = {name: i for i, name in enumerate(names)}

    class Ordered(TyperGroup):
        """typer's group, listing its commands in the order given."""

        def list_commands(self, ctx: click.Context) -> list[str]:
            """The sub-commands, ``names`` first (``sorted`` keeps the others' order)."""
            listed = super().list_commands(ctx)
            return sorted(listed, key=lambda name: rank.get(name, len(rank)))

    return Ordered


app = typer.Typer(
    cls=ordered(USER_COMMANDS + tuple(p.name for p in PROCESSES)),
    help="OpenTokenMonitor: tokens, dollars and limits of AI coding CLIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
report_app = typer.Typer(
    cls=ordered(REPORT_KINDS),
    short_help="Tokens and dollars per day, week, month, session, project or 5-hour block.",
    help="Tokens and dollars per day, week, month, session, project or 5-hour block, from the "
    "projections (nothing is rescanned). Each report takes --json or --csv, --provider, "
    "--since/--until, --tz, --order and --machine: see `otm report daily --help`.",
)
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
app.add_typer(store_app, name="store", rich_help_panel=PROCESS_PANEL)
app.add_typer(api_app, name="api", rich_help_panel=PROCESS_PANEL)
GROUPS = {"store": store_app, "api": api_app}
"""Processes that also have sub-commands (``otm store rebuild``, ``otm api token``)."""


def version_line() -> str:
    """``otm <version>``, the version of the installed distribution."""
    from importlib.metadata import version

    return f"otm {version('opentokenmonitor')}"


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """OpenTokenMonitor: tokens, dollars and limits of AI coding CLIs."""


def _runtime() -> Runtime:
    from services.runtime.config import ConfigError
    from services.runtime.installation import load_runtime

    try:
        return load_runtime()
    except ConfigError as exc:
        _fail(str(exc))


PROVIDER_CHOICES = ("claude", "codex", "gemini", "all")


def _check_provider(provider: str) -> None:
    """Exit 2 naming the valid values unless ``provider`` is one of ``PROVIDER_CHOICES``."""
    if provider not in PROVIDER_CHOICES:
        _fail(f"--provider {provider!r}: use one of {', '.join(PROVIDER_CHOICES)}")


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: <message>`` on stderr as one line and exit with ``code``."""
    from otm.report_run import print_error

    print_error(message)
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
        app.command(process.name, rich_help_panel=PROCESS_PANEL)(command)


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
def api_token_command(
    new: Annotated[
        bool,
        typer.Option("--new", help="Print a new random token for [api] token (changes nothing)."),
    ] = False,
) -> None:
    """Print the api's token: [api] token if set, else the one it keeps in the state folder
    (made if there is none yet). Clients send it as 'Authorization: Bearer <token>'."""
    if new:
        import secrets

        from services.runtime.config import config_path

        # No runtime: this is how a config still missing its token gets one.
        typer.echo(secrets.token_urlsafe(32))
        typer.echo(f'put it in {config_path()} under [api] as token = "<it>"', err=True)
        return
    from services.api.owner import effective_token

    runtime = _runtime()
    typer.echo(effective_token(runtime.state, runtime.config.api.token))


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
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="hub: bus, store, notifier and api, listening on [bus] listen; agent: "
            "watcher, scheduler and collector, sending to [bus] connect. Default: everything.",
        ),
    ] = None,
) -> None:
    """Run the whole stack (the same as `honcho start` in the repository); Ctrl-C stops it."""
    from otm.up import role_problem, run

    runtime = _runtime()
    problem = role_problem(runtime, role)
    if problem is not None:
        _fail(problem, 2)
    raise typer.Exit(run(runtime, verbose, role))


keys_app = typer.Typer(
    help='CURVE keys for a hub and its agents (README, "Several machines").',
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


@keys_app.command("init")
def keys_init() -> None:
    """Make this machine's key pair (once) and print its public key."""
    from otm.keys import init

    raise typer.Exit(init())


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="A name for the agent, e.g. laptop.")],
    public_key: Annotated[str, typer.Argument(help="The key `otm keys init` printed there.")],
) -> None:
    """On the hub: admit an agent's public key (a running hub takes it at once)."""
    from otm.keys import add

    raise typer.Exit(add(name, public_key))


@keys_app.command("list")
def keys_list() -> None:
    """This machine's public key and the agents it admits (name, key, added)."""
    from otm.keys import show

    raise typer.Exit(show())


# -- reports ----------------------------------------------------------------------------------
# Spellings, help and defaults come from otm.report_args, which the fast path (otm.report_fast)
# parses with: the two cannot drift apart.


def _option(opt: report_args.Opt) -> Any:
    return typer.Option(*opt.flags, help=opt.help)


JsonOption = Annotated[bool, _option(report_args.JSON)]
CsvOption = Annotated[bool, _option(report_args.CSV)]
TzOption = Annotated[str | None, _option(report_args.TZ)]
SinceOption = Annotated[str | None, _option(report_args.SINCE)]
UntilOption = Annotated[str | None, _option(report_args.UNTIL)]
OrderOption = Annotated[str | None, _option(report_args.ORDER)]
ProviderOption = Annotated[str, _option(report_args.PROVIDER)]
StartOfWeekOption = Annotated[str, _option(report_args.START_OF_WEEK)]
TokenLimitOption = Annotated[str | None, _option(report_args.TOKEN_LIMIT)]
MachineOption = Annotated[str | None, _option(report_args.MACHINE)]


def _report(kind: str, values: dict[str, Any]) -> None:
    """Build one report from the projections and print it as JSON, CSV or a table."""
    from otm.report_run import CommandError, run_report

    def open_database() -> tuple[sqlite3.Connection, bool]:
        from services.queries.reports.open import open_for_report

        runtime = _runtime()
        return open_for_report(runtime), runtime.demo

    options = report_args.defaults()
    options.update((name, value) for name, value in values.items() if name in options)
    try:
        run_report(kind, options, open_database)
    except CommandError as exc:
        _fail(exc.message, exc.code)


def _plain_report_command(kind: str) -> None:
    """Register ``otm report <kind>``: the reports that take only the common options."""

    def command(
        json_output: JsonOption = report_args.JSON.default,
        csv_output: CsvOption = report_args.CSV.default,
        provider: ProviderOption = report_args.PROVIDER.default,
        tz: TzOption = report_args.TZ.default,
        since: SinceOption = report_args.SINCE.default,
        until: UntilOption = report_args.UNTIL.default,
        order: OrderOption = report_args.ORDER.default,
        machine: MachineOption = report_args.MACHINE.default,
    ) -> None:
        _report(kind, dict(locals()))

    command.__doc__ = report_args.KINDS[kind][0]
    report_app.command(kind)(command)


for _kind in ("daily", "monthly", "session", "project", "machines"):
    _plain_report_command(_kind)


@report_app.command("weekly", help=report_args.KINDS["weekly"][0])
def report_weekly(
    json_output: JsonOption = report_args.JSON.default,
    csv_output: CsvOption = report_args.CSV.default,
    provider: ProviderOption = report_args.PROVIDER.default,
    tz: TzOption = report_args.TZ.default,
    since: SinceOption = report_args.SINCE.default,
    until: UntilOption = report_args.UNTIL.default,
    order: OrderOption = report_args.ORDER.default,
    machine: MachineOption = report_args.MACHINE.default,
    start_of_week: StartOfWeekOption = report_args.START_OF_WEEK.default,
) -> None:
    """Weekly report (help: ``report_args.KINDS``)."""
    _report("weekly", dict(locals()))


@report_app.command("blocks", help=report_args.KINDS["blocks"][0])
def report_blocks(
    json_output: JsonOption = report_args.JSON.default,
    csv_output: CsvOption = report_args.CSV.default,
    provider: ProviderOption = report_args.PROVIDER.default,
    tz: TzOption = report_args.TZ.default,
    since: SinceOption = report_args.SINCE.default,
    until: UntilOption = report_args.UNTIL.default,
    order: OrderOption = report_args.ORDER.default,
    machine: MachineOption = report_args.MACHINE.default,
    token_limit: TokenLimitOption = report_args.TOKEN_LIMIT.default,
) -> None:
    """Blocks report (help: ``report_args.KINDS``)."""
    _report("blocks", dict(locals()))


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

    _check_provider(provider)
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

    _check_provider(provider)
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

    _check_provider(provider)
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
    prefix: Annotated[
        str,
        typer.Argument(
            help="Topic prefix: evt.usage., evt.limits., evt.alert. (committed events); "
            "sys. or cmd. show heartbeats or refresh requests live."
        ),
    ] = "evt.",
    from_seq: Annotated[
        int | None, typer.Option("--from", help="Replay committed events after this seq first.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="The raw events, one JSON line each.")
    ] = False,
) -> None:
    """Follow the stream live: one line per event (time, provider, model, tokens, dollars for
    usage); --json prints the raw events as JSON lines.

    PREFIX picks the topics: evt. (every committed event), evt.usage., evt.limits.,
    evt.alert.; sys. (heartbeats) and cmd. (refresh requests) are seen live only."""
    from otm.tail import committed, tail

    if from_seq is not None and not committed(prefix):
        _fail(f"--from replays committed events (evt.…); {prefix!r} is only seen live")
    tail(_runtime(), prefix, from_seq, json_output)


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


# -- the stack in the background: one registration block (otm/service.py) -------------------
from otm.service import service_app  # noqa: E402

app.add_typer(service_app, name="service")


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
