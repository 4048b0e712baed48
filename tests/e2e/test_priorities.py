"""The processes off the ingest path run at a lower CPU priority than the rest of the stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.processes import OFF_PATH
from tests.e2e.stack import Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX priorities"),
]


def _niceness(stack: Stack, name: str) -> int:
    return os.getpriority(os.PRIO_PROCESS, stack.procs[name].pid)


LOWEST_PRIORITY = 19
"""POSIX clamps niceness here."""


def test_scheduler_runs_nicer_than_the_store(tmp_path: Path) -> None:
    """Once ready, the scheduler's niceness is the store's plus ``OFF_PATH`` (at most 19, the
    lowest priority there is, as when the tests themselves run under ``nice``)."""
    stack = Stack(tmp_path / "home", tmp_path / "claude")
    try:
        stack.start("bus", "store", "scheduler")
        expected = min(_niceness(stack, "store") + OFF_PATH, LOWEST_PRIORITY)
        assert expected == _niceness(stack, "scheduler")
    finally:
        stack.stop_all()


def test_collector_keeps_the_stack_priority(tmp_path: Path) -> None:
    """The collector, on the ingest path, runs at the niceness it was started with."""
    stack = Stack(tmp_path / "home", tmp_path / "claude")
    try:
        stack.start("bus", "store", "collector")
        assert os.getpriority(os.PRIO_PROCESS, 0) == _niceness(stack, "collector")
    finally:
        stack.stop_all()
