"""The heartbeat's rhythm: soon after a change, seldom while nothing changes, a last beat at stop.

A real ``Publisher`` on a real forwarder; the beats are read back from the bus.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from bus.client import Publisher, Subscriber
from bus.endpoints import Endpoints
from bus.forwarder import Forwarder
from bus.messages import Heartbeat
from services.runtime import lifecycle
from services.runtime.lifecycle import HEARTBEAT_SECONDS, IDLE_HEARTBEAT_SECONDS, Pulse
from tests.helpers import wait_until


@pytest.fixture
def grown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulses are past their fast start-up beats from the first one."""
    monkeypatch.setattr(lifecycle, "STARTUP_SECONDS", 0.0)


@pytest.fixture
def pulse(state: Path, forwarder: Forwarder, addresses: Endpoints, grown: None) -> Any:
    """A pulse of process "toy" that has beaten once."""
    publisher = Publisher(addresses)
    pulse = Pulse("toy", publisher)
    pulse.beat()
    yield pulse
    publisher.close()


def past_idle_multiple(pulse: Pulse) -> float:
    """How far past a whole multiple of the idle period (wall clock) the next beat is due."""
    due = time.time() + pulse.due_in()
    return due - math.floor(due / IDLE_HEARTBEAT_SECONDS) * IDLE_HEARTBEAT_SECONDS


def test_an_unchanged_pulse_is_due_on_the_next_idle_multiple(pulse: Pulse) -> None:
    """With nothing changed, the next beat falls on a whole multiple of the idle period."""
    assert 0.0 == pytest.approx(past_idle_multiple(pulse), abs=0.02)


def test_a_changed_counter_brings_the_beat_within_a_second(pulse: Pulse) -> None:
    """A counter that changed after the last beat makes the next one due within a second."""
    pulse.counters["read"] += 1
    assert pulse.due_in() <= HEARTBEAT_SECONDS + 0.01


def test_a_changed_log_head_brings_the_beat_within_a_second(pulse: Pulse) -> None:
    """The store's new log head is announced within a second (followers fill gaps by it)."""
    pulse.head_seq = 12
    assert pulse.due_in() <= HEARTBEAT_SECONDS + 0.01


def test_a_counter_set_to_its_old_value_is_no_change(pulse: Pulse) -> None:
    """Setting a figure to what the last beat said keeps the idle rhythm."""
    pulse.counters["in_flight"] = 0
    pulse.beat(force=True)
    pulse.counters["in_flight"] = 0
    assert 0.0 == pytest.approx(past_idle_multiple(pulse), abs=0.02)


def test_a_stopping_beat_goes_out_at_once_and_says_so(pulse: Pulse, addresses: Endpoints) -> None:
    """``beat(stopping=True)`` publishes even when no beat is due, marked ``stopping``."""
    subscriber = Subscriber(("sys.heartbeat",), addresses)
    try:

        def last() -> Heartbeat | None:
            pulse.beat(stopping=True)
            received = subscriber.recv(100)
            beat = received[1] if received else None
            return beat if isinstance(beat, Heartbeat) and beat.stopping else None

        beat = wait_until(last, what="the stopping beat")
    finally:
        subscriber.close()
    assert ("toy", True) == (beat.process, beat.stopping)
