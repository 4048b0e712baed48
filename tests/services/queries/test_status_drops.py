"""How ``otm status`` sums up what the processes' bus readers dropped, from their heartbeats."""

from __future__ import annotations

from typing import Any

from services.queries.status import bus_drops


def process(name: str, **counters: int) -> dict[str, Any]:
    """A process entry of the status, as read from its heartbeat."""
    return {"process": name, "counters": counters}


def test_garbage_and_refused_events_are_summed_apart_by_process_and_reason() -> None:
    """Frames that are no message count as garbage; forged and unconfirmed events apart."""
    processes = [
        process("api", **{"bus_dropped.bad_body": 2, "bus_dropped.unconfirmed": 1}),
        process("collector", **{"bus_dropped.wrong_topic": 3, "bus_dropped.bad_frames": 0}),
        process("notifier", **{"bus_dropped.forged": 4, "events_committed": 9}),
    ]
    expected = {
        "busGarbageDropped": {
            "total": 5,
            "byProcess": {"api": {"bad_body": 2}, "collector": {"wrong_topic": 3}},
        },
        "eventsRefused": {
            "total": 5,
            "byProcess": {"api": {"unconfirmed": 1}, "notifier": {"forged": 4}},
        },
        "unknownHeartbeatsIgnored": 0,
    }
    assert expected == bus_drops(processes)


def test_ignored_heartbeats_come_from_the_stores_counter() -> None:
    """The number of heartbeats of unknown processes is the store's own count."""
    processes = [process("store", heartbeats_from_unknown_processes=20_000)]
    expected = 20_000
    assert expected == bus_drops(processes)["unknownHeartbeatsIgnored"]
