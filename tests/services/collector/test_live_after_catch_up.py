"""Scheduled live polls wait until reading has caught up; manual ones do not."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from bus.messages import RefreshReason, RefreshRequested
from services.collector.service import CollectorService


class Live:
    """Records the polls the collector starts."""

    def __init__(self) -> None:
        self.started: list[tuple[str, bool]] = []

    def request(self, provider: str, manual: bool) -> list[str]:
        """Note one poll request."""
        self.started.append((provider, manual))
        return [provider]


def _collector(dirty: dict[str, object]) -> tuple[CollectorService, Live]:
    service = CollectorService.__new__(CollectorService)
    live = Live()
    state: Any = service
    state.live = live
    state.live_waiting = set()
    state.spool_check = False
    state.reading = SimpleNamespace(dirty=dirty, request=lambda provider, paths: None)
    state.ingest = SimpleNamespace(note_requested=lambda reading: None)
    state.node = SimpleNamespace(pulse=SimpleNamespace(counters=Counter()))
    return service, live


def _refresh(reason: RefreshReason) -> RefreshRequested:
    return RefreshRequested(provider="codex", reason=reason, requested_at=0.0, live=True)


def test_scheduled_poll_waits_while_files_are_read() -> None:
    """A scheduled live refresh during a catch-up starts no poll yet."""
    service, live = _collector({"/logs/a.jsonl": object()})
    service._on_refresh(_refresh("schedule"))
    assert [] == live.started


def test_waiting_poll_starts_once_reading_caught_up() -> None:
    """The poll that waited starts, as a scheduled one, once nothing is left to read."""
    service, live = _collector({"/logs/a.jsonl": object()})
    service._on_refresh(_refresh("schedule"))
    service.reading.dirty.clear()
    service._start_waiting_polls()
    assert [("codex", False)] == live.started


def test_manual_poll_never_waits() -> None:
    """A manual live refresh starts its poll during a catch-up."""
    service, live = _collector({"/logs/a.jsonl": object()})
    service._on_refresh(_refresh("manual"))
    assert [("codex", True)] == live.started


def test_poll_starts_at_once_when_nothing_is_read() -> None:
    """With nothing to read, a scheduled live refresh starts its poll at once."""
    service, live = _collector({})
    service._on_refresh(_refresh("schedule"))
    assert [("codex", False)] == live.started
