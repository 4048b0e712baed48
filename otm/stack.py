"""The processes of the stack, one Procfile line each. ``otm up`` and ``honcho start`` run these."""

from __future__ import annotations

PROCESSES: tuple[tuple[str, str], ...] = (
    ("bus", "otm bus"),
    ("store", "otm store"),
    ("collector", "otm collector"),
    ("watcher", "otm watcher"),
    ("scheduler", "otm scheduler"),
    ("api", "otm api"),
    ("demo", "otm demo"),
)


def procfile() -> str:
    """The Procfile text: the repository's ``Procfile`` must equal this (a test checks)."""
    return "".join(f"{name}: {command}\n" for name, command in PROCESSES)
