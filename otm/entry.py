"""The ``otm`` console script.

``otm statusline`` runs on every Claude Code status update and must answer in a few tens of
milliseconds, so it goes straight to ``otm.statusline`` without importing the CLI (typer, click
and rich alone cost more than that). Every other command, and ``otm statusline`` with options
(``--help``), goes to the typer app in ``otm.cli``.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run the command in ``sys.argv``; the exit status."""
    if sys.argv[1:] == ["statusline"]:
        from otm.statusline import run

        return run()
    from otm.cli import main as cli_main

    cli_main()
    return 0
