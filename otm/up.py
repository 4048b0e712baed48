"""``otm up``: the whole stack under honcho's manager, talking to people.

Process output goes to ``<state>/logs/stack.log`` (honcho-style prefixed lines; ``--verbose``
also shows it here); the terminal gets a banner, one line per notable event and, at the end,
"stack stopped: <n> processes" (or which process failed).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.queues
import os
import re
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from honcho.manager import KILL_WAIT, Manager
from rich.console import Console

from otm.up_progress import Bar, IngestWatch, listen
from otm.up_stops import Stops
from services.runtime.cli_roots import existing_roots
from services.runtime.installation import Runtime

DEMO = "demo"
"""The process that feeds the demo history: `otm up` starts it only in demo mode."""
NEXT_COMMANDS = ("otm top", "otm report daily", "otm limits", "otm alerts", "otm status")
SIGNAL_LINES = ("SIGINT received", "SIGTERM received")
"""What honcho's manager prints when a signal stops the stack."""
TICK_SECONDS = 1.0
"""The longest honcho's manager waits for an event before looking at its processes again."""
LABELS = {"claude": "Claude Code", "codex": "Codex", "gemini": "Gemini"}
HANGUP: signal.Signals | None = getattr(signal, "SIGHUP", None)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *((HANGUP,) if HANGUP is not None else ()))
"""What stops the stack: Ctrl-C, SIGTERM and, where there is one, the terminal hanging up."""
HONCHO_STOP = re.compile(r"(?P<name>\S+) stopped \(rc=(?P<code>-?\d+)\)\s*")
"""honcho's line for a process that exited, whatever the cause."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when ``host``:<port> (the api's ``[api] host``) cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def running_message(runtime: Runtime, port: int) -> str | None:
    """The line for a second ``otm up`` on a state folder whose stack already runs, else
    ``None``: the store's lock says whether one does, whatever holds the port."""
    from bus.lock import is_held

    lock = runtime.lock_path("store")
    if not is_held(lock):
        return None
    pid = lock.read_text(errors="replace").strip() or "?"
    return (
        f"already running for {tilde(runtime.state)} (store pid {pid}): the dashboard is "
        f"http://127.0.0.1:{port}/ — stop that one first (Ctrl-C where it runs) to start anew"
    )


def port_message(port: int, config_path: Path) -> str:
    """The one line for a busy API port."""
    return f"port {port} is in use: set OTM_API_PORT or [api] port in {config_path}"


def tilde(path: Path) -> str:
    """``path`` with the home directory written ``~``."""
    home = Path.home()
    return "~/" + str(path.relative_to(home)) if path.is_relative_to(home) else str(path)


def source_lines(runtime: Runtime, looked_at: Mapping[str, Sequence[Path]]) -> list[str]:
    """Where the numbers come from: the roots found per CLI, or demo data and where it looked
    (one line per CLI, so the list fits 80 columns)."""
    if runtime.demo:
        if os.environ.get("OTM_DEMO") == "1":
            return ["demo data (OTM_DEMO=1 is set)"]
        lines = ["demo data, because no CLI logs were found in:"]
        for looked in looked_at.values():
            if looked:
                lines.append("  " + ", ".join(tilde(p) for p in looked))
        return lines
    lines = []
    for provider, roots in runtime.roots.items():
        found = existing_roots(roots)
        if found:
            lines.append(f"{LABELS[provider]}: {', '.join(tilde(r) for r in found)}")
    return lines or ["your logs: none found yet"]


def dashboard_url(
    state: Path, port: int, uid_check: bool, host: str = "127.0.0.1", token: str = ""
) -> str:
    """The dashboard's address; with the api's token in it where the api cannot tell by
    itself that the browser is this user's, and always beyond loopback (``host``, with
    ``token``: ``[api] token``); the page then keeps it in a cookie."""
    from services.runtime.api_host import base_url, is_loopback

    base = base_url(host, port)
    if uid_check and is_loopback(host):
        return f"{base}/"
    from services.api.owner import effective_token

    return f"{base}/?token={effective_token(state, token)}"


def banner_lines(
    runtime: Runtime,
    port: int,
    log_path: Path,
    looked_at: Mapping[str, Sequence[Path]],
    url: str | None = None,
) -> list[str]:
    """The banner's lines, plain text (``url``: the dashboard's, if not the plain one)."""
    data = source_lines(runtime, looked_at)
    return [
        "OpenTokenMonitor is running (Ctrl-C stops it)",
        f"dashboard  {url or f'http://127.0.0.1:{port}/'}",
        f"data       {data[0]}",
        *(f"           {line}" for line in data[1:]),
        f"log        {tilde(log_path)}",
        "           (otm up --verbose shows it here)",
        "next       " + ", ".join(NEXT_COMMANDS),
    ]


def clock(at: float) -> str:
    """HH:MM local time."""
    return time.strftime("%H:%M", time.localtime(at))


def _cut(line: str, width: int = 80) -> str:
    return line if len(line) <= width else line[: max(width - 1, 0)].rstrip() + "…"


def alert_line(at: float, title: str, body: str) -> str:
    """One alert: time, title — body, wrapped under the time at 80 columns rather than cut, so
    the part that matters (when the window resets, what to do) is never lost."""
    import textwrap

    text = f"{clock(at)} {title} — {body}" if body else f"{clock(at)} {title}"
    return "\n".join(textwrap.wrap(text, width=80, subsequent_indent=" " * 6))


def live_line(
    at: float, provider: str, state: str, reason: str, fix: str, first: bool = False
) -> str:
    """A provider's live limits changed state: one line, the reason and the fix each cut to
    share what is left of 80 columns."""
    if state == "ok":
        return _cut(f"{clock(at)} {provider}: live limits {'' if first else 'now '}available")
    text = f"{clock(at)} {provider}: live limits {'' if first else 'now '}unavailable"
    reason, fix = reason.strip().rstrip("."), fix.strip().rstrip(".")
    room = 80 - len(text) - (len(" — ") if reason else 0) - (len("; fix: ") if fix else 0)
    if reason and fix and len(reason) + len(fix) > room:
        # The fix is what a person acts on: it gets at least half of the room.
        fix = _cut(fix, max(room // 2, room - len(reason)))
        reason = _cut(reason, room - len(fix))
    elif reason and not fix:
        reason = _cut(reason, room)
    if reason:
        text += f" — {reason}"
    if fix:
        text += f"; fix: {fix}"
    return _cut(text)


def day_total_line(at: float, day: str, cost: float) -> str:
    """A new local day began: the total of the day that ended."""
    return _cut(f"{clock(at)} {day} total: ${cost:,.2f}")


def day_cost(runtime: Runtime, day: str) -> float:
    """Every provider's cost on local ``day`` (YYYY-MM-DD), read from the projections."""
    from services.queries.reports import periods
    from services.queries.reports.timezones import local_timezone_name
    from services.store.database import connect_reader

    conn = connect_reader(str(runtime.db_path))
    try:
        report = periods.daily(conn, "all", local_timezone_name(), day, day)
    finally:
        conn.close()
    return float(report["totals"]["totalCost"])


class DayWatch:
    """Notices the local day rolling over."""

    def __init__(self, today: date) -> None:
        self.today = today

    def ended(self, today: date) -> date | None:
        """The day that just ended, once, when ``today`` is a later day."""
        if today <= self.today:
            return None
        ended, self.today = self.today, today
        return ended


QUIET_FIRST_STATES = ("ok", "unconfigured")
"""A provider's first live state is news only when it is a failure: working limits, or a CLI
this machine is not signed in to, are the normal state of things."""


class EventLines:
    """Turns committed events into lines for people (alerts, live state changes)."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def line(self, message: Any) -> str | None:
        """The line for one committed event, or None when it is not notable."""
        from bus.messages import AlertCommitted, LimitsCommitted

        if isinstance(message, AlertCommitted):
            a = message.alert
            return alert_line(a.raised_at, a.title, a.body)
        if isinstance(message, LimitsCommitted) and message.status is not None:
            s = message.status
            if s.state == "waiting":  # a poll not yet due: no news
                return None
            before = self.states.get(s.provider)
            self.states[s.provider] = s.state
            if before == s.state or (before is None and s.state in QUIET_FIRST_STATES):
                return None
            return live_line(s.checked_at, s.provider, s.state, s.reason, s.fix, before is None)
        return None


class TeePrinter:
    """honcho's printer writing to the log file, and to the terminal with ``--verbose``."""

    def __init__(
        self, log: TextIO, verbose: bool, on_signal: Callable[[], None] | None = None
    ) -> None:
        from honcho.printer import Printer

        self.file = Printer(output=log, width=9, colour=False)
        self.term = Printer(output=sys.stdout, width=9) if verbose else None
        self.on_signal = on_signal

    def write(self, message: Any) -> None:
        """Write one honcho message; honcho's own "SIGINT received" calls ``on_signal``."""
        self.file.write(message)
        if self.term is not None:
            try:
                self.term.write(message)
            except OSError:
                # The terminal is gone (`otm up -v | grep` after Ctrl-C, a closed window): the
                # log carries on alone, and the stop still reaches every process.
                self.term = None
        signalled = message.name == "system" and str(message.data).strip() in SIGNAL_LINES
        if signalled and self.on_signal is not None:
            self.on_signal()
            self.on_signal = None


class EventQueue(multiprocessing.queues.Queue):  # type: ignore[type-arg]
    """honcho's event queue, waited on for a second at a time instead of 0.1 s: a message
    still wakes the manager at once, so only its idle wake-ups (and a last empty wait before
    it returns) change."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """One event, waiting at least a second for it when honcho asks for a timed wait."""
        return super().get(block, None if timeout is None else max(timeout, TICK_SECONDS))


class StackManager(Manager):  # type: ignore[misc]
    """honcho's manager with two fixes. A signal that comes before every process has started
    (honcho's handler would fail on the pids it does not know yet, leaving orphans) is held
    and delivered once they all have; ``hold`` starts holding (before the banner). And an exit
    reads as what caused it (``otm.up_stops``): "watcher stopped" after Ctrl-C, not
    "watcher stopped (rc=-15)"; a failure still as a failure."""

    def __init__(self, printer: TeePrinter) -> None:
        super().__init__(printer=printer)
        self.events = EventQueue(ctx=multiprocessing.get_context())
        self.held: list[int] = []
        self.saved: dict[int, Any] = {}
        self.stops = Stops()

    def _killall(self, force: bool = False) -> None:
        remaining = {n for n, p in self._processes.items() if "returncode" not in p}
        (self.stops.killed if force else self.stops.asked).update(remaining)
        super()._killall(force)

    def hold(self) -> None:
        """Hold SIGINT, SIGTERM (and SIGHUP) until every process has started."""
        for sig in STOP_SIGNALS:
            previous = signal.signal(sig, lambda n, _f: self.held.append(n))
            self.saved.setdefault(sig, previous)

    def _start(self) -> None:
        # honcho's loop has just put its handlers in place: hold on to them until all started.
        self.saved.update({sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)})
        if HANGUP is not None:
            # honcho ignores a hang-up (the terminal window closed), which would end this
            # process and leave every other one running: it stops the stack as SIGTERM does.
            terminate = self.saved[signal.SIGTERM]
            self.saved[HANGUP] = lambda _n, frame: terminate(signal.SIGTERM, frame)
        self.hold()
        super()._start()

    def _system_print(self, data: str) -> None:
        if data.strip() in SIGNAL_LINES:
            self.stops.signalled = True
        elif (stop := HONCHO_STOP.fullmatch(data)) is not None:
            name, code = stop["name"], int(stop["code"])
            data = self.stops.text(name, code, KILL_WAIT) + "\n"
        super()._system_print(data)
        if self.saved and self._all_started():
            for sig, handler in self.saved.items():
                signal.signal(sig, handler)
            self.saved = {}
            if self.held:
                os.kill(os.getpid(), self.held[0])


def _follow(runtime: Runtime, say: Any, stop: threading.Event) -> None:
    from bus.client import EventFollower, ReplayClient, StoreUnavailable

    head = 0
    replay = ReplayClient(runtime.endpoints)
    try:
        while not stop.is_set():
            try:
                head = replay.fetch(0, limit=1).head
                break
            except StoreUnavailable:
                stop.wait(0.5)
    finally:
        replay.close()
    lines = EventLines()
    days = DayWatch(date.today())
    with EventFollower(
        prefixes=("evt.alert.", "evt.limits."), after=head, where=runtime.endpoints
    ) as follower:
        while not stop.is_set():
            for _topic, message in follower.poll(1000):
                text = lines.line(message)
                if text:
                    say(text)
            ended = days.ended(date.today())
            if ended is not None:
                with contextlib.suppress(sqlite3.Error, ValueError, KeyError):
                    cost = day_cost(runtime, ended.isoformat())
                    say(day_total_line(time.time(), ended.isoformat(), cost))


class StackConsole(Console):
    """rich's console, except that a reader gone away (``otm up | grep`` stopped with Ctrl-C)
    makes it quiet instead of exiting on the spot (rich's ``SystemExit``), which would leave
    every process of the stack running."""

    def on_broken_pipe(self) -> None:
        """Print nothing from now on; the stack stops as it would anyway."""
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def show(console: Any, text: str, **options: Any) -> None:
    """Print ``text`` as it is: no markup, no highlighting."""
    console.print(text, markup=False, highlight=False, **options)


def run(runtime: Runtime, verbose: bool, role: str | None = None) -> int:
    """Run the stack until Ctrl-C, SIGTERM or a process dies; the exit code."""
    from rich.control import Control

    console = StackConsole(width=80) if not sys.stdout.isatty() else StackConsole()

    def stopping() -> None:
        with contextlib.suppress(OSError):  # a terminal gone must not keep the stack running
            if console.is_terminal:  # over the "^C" the terminal echoed
                console.control(Control.move_to_column(0))
            show(console, f"{clock(time.time())} stopping…")

    logs = runtime.state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "stack.log"
    log = log_path.open("a", encoding="utf-8")
    manager = StackManager(TeePrinter(log, verbose, stopping))
    manager.hold()  # a Ctrl-C from now on stops the stack once it has started
    try:
        return _run(runtime, verbose, console, manager, log_path, role)
    finally:
        log.close()


def role_problem(runtime: Runtime, role: str | None) -> str | None:
    """Why ``otm up --role ROLE`` cannot run with this config, with the fix; None if it can."""
    if role is None:
        return None
    if role == "hub" and runtime.listen is None:
        return (
            'a hub listens for its agents: set [bus] listen = "tcp://0.0.0.0:5750" in '
            f"{runtime.state / 'config.toml'} (and run `otm keys init` once)"
        )
    if role == "agent" and runtime.endpoints.curve is None:
        return (
            'an agent sends to its hub: set [bus] connect = "tcp://HUB:5750" and [bus] '
            f'hub_key = "<the hub\'s public key>" in {runtime.state / "config.toml"}'
        )
    if role not in ("hub", "agent"):
        return f"--role is hub or agent, not {role!r} (without --role: the whole stack)"
    return None


def agent_banner(runtime: Runtime, log_path: Path) -> list[str]:
    """The banner of an agent: where it sends, what it reads, where its log is."""
    data = source_lines(runtime, runtime.roots)
    return [
        "OpenTokenMonitor agent is running (Ctrl-C stops it)",
        f"hub        {runtime.endpoints.publish} (CURVE)",
        f"data       {data[0]}",
        *(f"           {line}" for line in data[1:]),
        f"log        {tilde(log_path)}",
    ]


def _run(
    runtime: Runtime,
    verbose: bool,
    console: Any,
    manager: StackManager,
    log_path: Path,
    role: str | None = None,
) -> int:
    from services.runtime.config import config_path
    from services.runtime.installation import without_demo

    if role == "agent":
        lines = agent_banner(runtime, log_path)
        return _run_processes(runtime, verbose, console, manager, log_path, role, lines)
    port = runtime.config.api_port
    api = runtime.config.api
    if (running := running_message(runtime, port)) is not None:
        print(running, flush=True)
        return 1
    if port_in_use(port, api.host):
        print(port_message(port, config_path(runtime.state)), flush=True)
        return 2
    from services.api.peer import uid_check_available

    looked_at = without_demo(runtime).roots  # in demo mode, where real logs were looked for
    url = dashboard_url(runtime.state, port, uid_check_available(), api.host, api.token)
    lines = banner_lines(runtime, port, log_path, looked_at, url)
    if role == "hub" and runtime.listen is not None:
        lines[0] = "OpenTokenMonitor hub is running (Ctrl-C stops it)"
        lines.insert(1, f"agents     {runtime.listen.publish} (CURVE, `otm keys list`)")
    return _run_processes(runtime, verbose, console, manager, log_path, role, lines)


def _run_processes(
    runtime: Runtime,
    verbose: bool,
    console: Any,
    manager: StackManager,
    log_path: Path,
    role: str | None,
    lines: list[str],
) -> int:
    from services.processes import processes_for

    for i, line in enumerate(lines):
        # soft_wrap: a long path stays whole (and copyable) on its line
        show(console, line, style="bold green" if i == 0 else None, soft_wrap=True)
    scripts = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    stop = threading.Event()
    for process in processes_for(role):
        if process.name == DEMO and not runtime.demo:
            # With real data the demo only idles (it is in the Procfile so that honcho, which
            # stops the stack when one process ends, runs the same file either way): ~30 MB and
            # a process's start-up, spared.
            continue
        manager.add_process(process.name, process.command, env=env, cwd=os.getcwd())
    follower = threading.Thread(
        target=_follow,
        args=(runtime, lambda text: show(console, text), stop),
        daemon=True,
    )
    follower.start()

    def say(text: str) -> None:
        show(console, f"{clock(time.time())} {text}")

    bar = Bar(console, say, live=console.is_terminal and not verbose)
    ingest = threading.Thread(
        target=listen,
        args=(runtime.endpoints, IngestWatch(bar, say, time.monotonic), stop),
        daemon=True,
    )
    ingest.start()
    manager.loop()
    stop.set()
    ingest.join(1.0)
    for failure in manager.stops.failures():
        show(console, f"{clock(time.time())} {failure}: see {tilde(log_path)}", soft_wrap=True)
    show(console, f"{clock(time.time())} {manager.stops.summary()}")
    return 0 if manager.stops.signalled and not manager.stops.failed else 1
