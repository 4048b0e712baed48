"""The Procfile run by honcho is the stack ``otm up`` runs."""

from __future__ import annotations

from pathlib import Path

from services.processes import PROCESSES, processes_for, procfile

ROOT = Path(__file__).resolve().parents[2]


def test_procfile_matches_the_stack() -> None:
    """The repository's Procfile is exactly services.processes.procfile()."""
    assert procfile() == (ROOT / "Procfile").read_text()


def test_every_process_runs_its_otm_subcommand() -> None:
    """Each Procfile line runs ``otm <name>`` for its own process name."""
    assert [f"otm {p.name}" for p in PROCESSES] == [p.command for p in PROCESSES]


def test_every_process_is_one_folder_with_a_service_module() -> None:
    """Each listed process is ``services/<name>/service.py`` with a ``run`` function."""
    import importlib

    for process in PROCESSES:
        assert (ROOT / "services" / process.name / "service.py").is_file()
        assert callable(importlib.import_module(process.module).run)


def test_every_process_folder_is_listed() -> None:
    """Every folder under services/ holding a service.py is a process of the list."""
    folders = {p.parent.name for p in (ROOT / "services").glob("*/service.py")}
    assert folders == {p.name for p in PROCESSES}


def test_no_role_runs_the_whole_stack() -> None:
    """`otm up` without --role runs every process, as the Procfile does."""
    assert PROCESSES == processes_for(None)


def test_hub_and_agent_share_no_process_and_leave_out_only_the_demo() -> None:
    """Together the two roles run every process but the demo, each once."""
    hub = [p.name for p in processes_for("hub")]
    agent = [p.name for p in processes_for("agent")]
    everything = sorted(p.name for p in PROCESSES if p.name != "demo")
    assert (everything, []) == (sorted(hub + agent), sorted(set(hub) & set(agent)))
