"""The processes of the stack: the one list that the ``Procfile``, ``otm up`` and every
``otm <process>`` command are made from. Adding a process is one folder and one row here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    """One long-running process: ``services/<name>/service.py`` with a ``run(runtime)``."""

    name: str
    summary: str
    nice: int = 0
    """How much lower than the stack's its CPU priority is (POSIX ``nice``): the processes off
    the ingest path yield the cores to bus, store, collector and api while a first scan of the
    whole history runs, and an idle stack costs the same either way."""

    @property
    def module(self) -> str:
        """The module whose ``run(runtime)`` is this process."""
        return f"services.{self.name}.service"

    @property
    def command(self) -> str:
        """Its Procfile command line."""
        return f"otm {self.name}"


OFF_PATH = 10
"""The ``nice`` of a process off the ingest path (watcher, scheduler, notifier, api, demo): its
start-up imports and its share of a first scan's events take only what bus, store and collector
leave of the cores. They are asleep most of the time, and nice only decides how the cores are
shared while several processes are busy at once (an idle stack answers a file event or an HTTP
request as before)."""

PROCESSES: tuple[Process, ...] = (
    Process("bus", "Run the XSUB/XPUB forwarder every process connects to."),
    Process("store", "Run the store: the event log, projections and replay."),
    Process("collector", "Run the collector: adapters and pricing."),
    Process("watcher", "Run the watcher: file events become refreshes.", OFF_PATH),
    Process(
        "scheduler", "Run the scheduler: safety-net refreshes and live limits polls.", OFF_PATH
    ),
    Process("notifier", "Run the notifier: alert rules, desktop and apprise delivery.", OFF_PATH),
    Process("api", "Run the HTTP API on 127.0.0.1 or [api] host (OTM_API_PORT, 8787).", OFF_PATH),
    Process("demo", "Feed the demo history when there is no CLI data (idle otherwise).", OFF_PATH),
)
"""In start order: the bus first, so every other process finds it."""


def procfile() -> str:
    """The Procfile text: the repository's ``Procfile`` must equal this (a test checks)."""
    return "".join(f"{p.name}: {p.command}\n" for p in PROCESSES)


ROLES: dict[str, tuple[str, ...]] = {
    "hub": ("bus", "store", "notifier", "api"),
    "agent": ("watcher", "scheduler", "collector"),
}
"""Beyond one machine: the hub keeps the log and answers; each agent reads its own CLIs' files
and sends what it read to the hub (DESIGN.md, README "Several machines")."""


def processes_for(role: str | None) -> tuple[Process, ...]:
    """The processes ``otm up --role ROLE`` runs, in start order; None: the whole stack."""
    if role is None:
        return PROCESSES
    if role not in ROLES:
        raise ValueError(f"the role is hub or agent, not {role!r}")
    return tuple(p for p in PROCESSES if p.name in ROLES[role])
