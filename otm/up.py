"""``otm up``: the whole stack under honcho's manager, talking to people.

Process output goes to ``<state>/logs/stack.log`` (honcho-style prefixed lines; ``--verbose``
also shows it here); the terminal gets a banner, one line per notable event and "stopped".
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from services.runtime.installation import Runtime

NEXT_COMMANDS = ("otm top", "otm report daily", "otm limits", "otm alerts", "otm status")
LABELS = {"claude": "Claude Code", "codex": "Codex", "gemini": "Gemini"}


def port_in_use(port: int) -> bool:
    """True when 127.0.0.1:<port> cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def port_message(port: int, config_path: Path) -> str:
    """The one line for a busy API port."""
    return f"port {port} is in use: set OTM_API_PORT or [api] port in {config_path}"


def source_lines(runtime: Runtime, looked_at: list[Path]) -> list[str]:
    """Where the numbers come from: the roots found per CLI, or demo data."""
    if runtime.demo:
        where = ", ".join(str(p) for p in looked_at) or "the default folders"
        return [f"demo data: no Claude Code, Codex or Gemini logs were found in {where}"]
    lines = []
    for provider, roots in runtime.roots.items():
        found = [str(r) for r in roots if r.exists()]
        if found:
            lines.append(f"{LABELS[provider]}: {', '.join(found)}")
    return lines or ["your logs: none found yet"]


def banner_lines(runtime: Runtime, port: int, log_path: Path, looked_at: list[Path]) -> list[str]:
    """The banner's lines, plain text."""
    return [
        "OpenTokenMonitor is running",
        f"dashboard  http://127.0.0.1:{port}/",
        *(f"data       {line}" for line in source_lines(runtime, looked_at)),
        f"log        {log_path}",
        "next       " + ", ".join(NEXT_COMMANDS),
    ]


def clock(at: float) -> str:
    """HH:MM local time."""
    return time.strftime("%H:%M", time.localtime(at))


def _cut(line: str, width: int = 80) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def alert_line(at: float, title: str, body: str) -> str:
    """One alert: time, title — body."""
    return _cut(f"{clock(at)} {title} — {body}" if body else f"{clock(at)} {title}")


def live_line(at: float, provider: str, state: str, reason: str, fix: str) -> str:
    """A provider's live limits state changed."""
    text = f"{clock(at)} {provider} live limits: {state}"
    if reason:
        text += f" — {reason}"
    if fix:
        text += f" (fix: {fix})"
    return _cut(text)


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
            if self.states.get(s.provider) == s.state:
                return None
            self.states[s.provider] = s.state
            return live_line(s.checked_at, s.provider, s.state, s.reason, s.fix)
        return None


class TeePrinter:
    """honcho's printer writing to the log file, and to the terminal with ``--verbose``."""

    def __init__(self, log: TextIO, verbose: bool) -> None:
        from honcho.printer import Printer

        self.file = Printer(output=log, width=9, colour=False)
        self.term = Printer(output=sys.stdout, width=9) if verbose else None

    def write(self, message: Any) -> None:
        """Write one honcho message."""
        self.file.write(message)
        if self.term is not None:
            self.term.write(message)


def _follow(runtime: Runtime, say: Any, stop: threading.Event) -> None:
    from bus.client import EventFollower, ReplayClient, StoreUnavailable

    head = 0
    while not stop.is_set():
        try:
            replay = ReplayClient(runtime.endpoints)
            head = replay.fetch(0, limit=1).head
            replay.close()
            break
        except StoreUnavailable:
            replay.close()
            stop.wait(0.5)
    lines = EventLines()
    with EventFollower(
        prefixes=("evt.alert.", "evt.limits."), after=head, where=runtime.endpoints
    ) as follower:
        while not stop.is_set():
            for _topic, message in follower.poll(500):
                text = lines.line(message)
                if text:
                    say(text)


def run(runtime: Runtime, verbose: bool) -> int:
    """Run the stack until Ctrl-C, SIGTERM or a process dies; the exit code."""
    from honcho.manager import Manager
    from rich.console import Console

    from services.processes import PROCESSES
    from services.runtime.installation import discovered_roots

    console = Console(width=80) if not sys.stdout.isatty() else Console()
    port = runtime.config.api_port
    if port_in_use(port):
        print(port_message(port, runtime.state / "config.toml"), flush=True)
        return 2
    logs = runtime.state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "stack.log"
    claude, codex, gemini = discovered_roots(runtime.config)
    for i, line in enumerate(banner_lines(runtime, port, log_path, [*claude, *codex, *gemini])):
        console.print(
            line,
            style="bold green" if i == 0 else None,
            markup=False,
            highlight=False,
            overflow="fold",
        )
    scripts = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    stop = threading.Event()
    with log_path.open("a", encoding="utf-8") as log:
        manager = Manager(printer=TeePrinter(log, verbose))
        for process in PROCESSES:
            manager.add_process(process.name, process.command, env=env, cwd=os.getcwd())
        follower = threading.Thread(
            target=_follow,
            args=(runtime, lambda s: console.print(s, markup=False, highlight=False), stop),
            daemon=True,
        )
        follower.start()
        manager.loop()
        stop.set()
    signalled = manager.returncode in (130, 143) or manager._terminating
    died = [
        n
        for n, p in manager._processes.items()
        if p.get("returncode") not in (None, 0, -15, 143, -2, 130)
    ]
    for name in died:
        console.print(f"{name} stopped unexpectedly: see {log_path}", markup=False, highlight=False)
    console.print("stopped", markup=False, highlight=False)
    return 0 if signalled and not died else 1
