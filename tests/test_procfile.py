"""The Procfile run by honcho is the stack ``otm up`` runs."""

from __future__ import annotations

from pathlib import Path

from otm.stack import PROCESSES, procfile

ROOT = Path(__file__).resolve().parent.parent


def test_procfile_matches_the_stack() -> None:
    """The repository's Procfile is exactly otm.stack.procfile()."""
    assert procfile() == (ROOT / "Procfile").read_text()


def test_every_process_runs_its_otm_subcommand() -> None:
    """Each Procfile line runs ``otm <name>`` for its own process name."""
    assert [f"otm {name}" for name, _ in PROCESSES] == [command for _, command in PROCESSES]
