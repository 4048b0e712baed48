"""The ``otm`` console script.

``otm statusline`` runs on every Claude Code status update and must answer in a few tens of
milliseconds, so it goes straight to ``otm.statusline`` without importing the CLI (typer, click
and rich alone cost more than that). ``otm report <kind>`` with the options ``otm.report_args``
parses goes to ``otm.report_fast`` the same way. ``otm <process>`` alone (how ``otm up`` and
the Procfile start each process of the stack) goes straight to the runner: eight long-lived
processes need not each load the CLI. Every other command, and these with other options
(``--help``), goes to the typer app in ``otm.cli``.

Every process of the stack is an ``otm`` command (``python -m otm`` comes here too), so this is
where each one first makes what it writes private: umask 0o077
(``services.runtime.installation.PRIVATE_UMASK``, not imported: the statusline's start-up budget
has no room for it).
"""

from __future__ import annotations

import os
import sys

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """From here on, what this process creates is for its user only (POSIX)."""
    if os.name == "posix":
        os.umask(PRIVATE_UMASK)


def main() -> int:
    """Run the command in ``sys.argv``; the exit status."""
    private_umask()
    if sys.argv[1:] == ["statusline"]:
        from otm.statusline import run

        return run()
    if len(sys.argv) == 2:
        code = _run_process(sys.argv[1])
        if code is not None:
            return code
    if sys.argv[1:2] == ["report"]:
        from otm.report_fast import run as run_report

        code = run_report(sys.argv[2:])
        if code is not None:
            return code
    from otm.cli import main as cli_main

    cli_main()
    return 0


def _run_process(name: str) -> int | None:
    """Run process ``name`` of the stack until it stops (its exit status); None if ``name`` is
    no process."""
    import importlib

    from services.processes import PROCESSES

    process = next((p for p in PROCESSES if p.name == name), None)
    if process is None:
        return None
    if process.nice and hasattr(os, "nice"):
        # Before its imports: those are most of what an off-path process costs at start.
        os.nice(process.nice)
    # No process of the stack draws on a terminal (they log JSON lines), yet structlog loads
    # rich whenever it is installed, for tracebacks we never print: ~4 MB and ~35 ms in each
    # of eight processes. A None entry makes ``import rich`` fail as if it were absent.
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]
    from services.runtime.deferred import import_structlog_without_asyncio

    import_structlog_without_asyncio()
    from services.runtime.runner import main as run_process

    return run_process(name, importlib.import_module(process.module).run)
