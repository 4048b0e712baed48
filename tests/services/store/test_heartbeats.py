"""Heartbeats live in the store's memory: answered on the replay socket, written into
``process_status`` only for a new process or pid, every ``HEARTBEAT_SAVE_SECONDS``, and at stop.

The writer's policy runs on a real database; the rest against real processes (``tests.e2e.stack``)
over real sockets.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import msgspec
import pytest
import zmq

from bus.client import ReplayClient, StoreUnavailable
from bus.codec import encode
from bus.endpoints import Endpoints, endpoints
from bus.messages import Heartbeat
from services.store.writer import HEARTBEAT_SAVE_SECONDS, Store
from tests.e2e.stack import Stack, wait_until

_heartbeat = msgspec.msgpack.Decoder(Heartbeat)


def _beat(process: str, pid: int, sent_at: float) -> Heartbeat:
    return Heartbeat(process=process, pid=pid, started_at=1.0, sent_at=sent_at)


def _saved(conn: sqlite3.Connection) -> dict[str, tuple[int, float, float]]:
    """Each row of ``process_status``: the heartbeat's pid and sent_at, and its arrival."""
    return {
        name: (beat.pid, beat.sent_at, float(received))
        for name, blob, received in conn.execute(
            "SELECT process, heartbeat, received_at FROM process_status"
        )
        for beat in (_heartbeat.decode(blob),)
    }


# -- the writer's policy, on a real database --------------------------------------------------


def test_a_new_process_is_written_down_at_once(db: sqlite3.Connection) -> None:
    """The first heartbeat of a process is saved."""
    store = Store(db)
    store.note_heartbeats([_beat("collector", 10, 5.0)], received_at=100.0)
    assert (1, {"collector": (10, 5.0, 100.0)}) == (store.save_heartbeats(), _saved(db))


def test_later_beats_of_the_same_pid_stay_in_memory(db: sqlite3.Connection) -> None:
    """A second heartbeat from the same pid a second later is kept in memory, not written."""
    store = Store(db)
    store.note_heartbeats([_beat("collector", 10, 5.0)], received_at=100.0)
    store.save_heartbeats()
    store.note_heartbeats([_beat("collector", 10, 6.0)], received_at=101.0)
    assert (0, {"collector": (10, 5.0, 100.0)}) == (store.save_heartbeats(), _saved(db))
    assert 6.0 == store.heartbeats[(store.machine, "collector")][0].sent_at


def test_a_new_pid_is_written_down_at_once(db: sqlite3.Connection) -> None:
    """A restarted process (a new pid) has its heartbeat saved right away."""
    store = Store(db)
    store.note_heartbeats([_beat("collector", 10, 5.0)], received_at=100.0)
    store.save_heartbeats()
    store.note_heartbeats([_beat("collector", 11, 7.0)], received_at=102.0)
    assert (1, {"collector": (11, 7.0, 102.0)}) == (store.save_heartbeats(), _saved(db))


def test_an_old_save_is_renewed_after_the_save_interval(db: sqlite3.Connection) -> None:
    """Once the saved row is ``HEARTBEAT_SAVE_SECONDS`` old, the next beat is written."""
    store = Store(db)
    store.note_heartbeats([_beat("api", 3, 5.0)], received_at=100.0)
    store.save_heartbeats()
    store.note_heartbeats([_beat("api", 3, 6.0)], received_at=100.0 + HEARTBEAT_SAVE_SECONDS)
    assert (1, {"api": (3, 6.0, 100.0 + HEARTBEAT_SAVE_SECONDS)}) == (
        store.save_heartbeats(),
        _saved(db),
    )


def test_everything_is_written_on_request(db: sqlite3.Connection) -> None:
    """``save_heartbeats(everything=True)`` (at stop) writes the latest beat of every process."""
    store = Store(db)
    store.note_heartbeats([_beat("api", 3, 5.0), _beat("bus", 4, 5.0)], received_at=100.0)
    store.save_heartbeats()
    store.note_heartbeats([_beat("api", 3, 9.0), _beat("bus", 4, 9.5)], received_at=104.0)
    assert 2 == store.save_heartbeats(everything=True)
    assert {"api": (3, 9.0, 104.0), "bus": (4, 9.5, 104.0)} == _saved(db)


# -- the running store ------------------------------------------------------------------------


def _asked(where: Endpoints) -> dict[str, tuple[Heartbeat, float]]:
    """The running store's answer to a ``HeartbeatsRequest``, by process."""
    client = ReplayClient(where, timeout_ms=2000)
    try:
        return {beat.process: (beat, at) for beat, at in client.heartbeats()}
    except StoreUnavailable:
        return {}
    finally:
        client.close()


def _rows(stack: Stack) -> dict[str, tuple[int, float, float]]:
    """``process_status`` as written on disk (read-only)."""
    rows = stack.query("SELECT process, heartbeat, received_at FROM process_status")
    return {
        str(name): (beat.pid, beat.sent_at, float(received))
        for name, blob, received in rows
        for beat in (_heartbeat.decode(blob),)
    }


@pytest.mark.e2e
def test_the_store_answers_with_the_latest_heartbeat_it_heard(stack: Stack) -> None:
    """A heartbeat published on the bus is in the store's answer, replaced by the next one."""
    stack.start("bus", "store")
    where = endpoints(stack.home)
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(where.publish)
    try:
        for sent_at in (1000.0, 2000.0):
            beat = encode(_beat("notifier", 4242, sent_at))

            def heard(expected: float = sent_at, body: bytes = beat) -> bool:
                sock.send_multipart([b"sys.heartbeat.notifier", body])
                got = _asked(where).get("notifier")
                return got is not None and got[0].sent_at == expected

            wait_until(heard, 30, f"the store to answer with the beat sent at {sent_at}")
    finally:
        sock.close()
    beat, received = _asked(where)["notifier"]
    assert (4242, 2000.0) == (beat.pid, beat.sent_at)
    assert received <= time.time()


@pytest.mark.e2e
def test_status_shows_fresh_heartbeats_while_the_table_is_older(stack: Stack) -> None:
    """``otm status`` says the scheduler was seen a moment ago while its row on disk has not
    been rewritten since its first beat."""
    stack.start("bus", "store", "scheduler")
    wait_until(lambda: "scheduler" in _rows(stack), 30, "the scheduler's first beat saved")

    def apart() -> dict[str, Any] | None:
        status: dict[str, Any] = json.loads(stack.otm("status", "--json").stdout)
        seen = {p["process"]: p for p in status["processes"]}["scheduler"]
        row_age = time.time() - _rows(stack)["scheduler"][2]
        return seen if row_age - seen["lastSeenSecondsAgo"] > 3.0 else None

    seen = wait_until(apart, 60, "the saved row to fall behind what status shows")
    assert (True, stack.procs["scheduler"].pid) == (seen["alive"], seen["pid"])


@pytest.mark.e2e
def test_a_restarted_process_is_written_down_with_its_new_pid(stack: Stack) -> None:
    """Restarting the scheduler rewrites its row with the new pid without waiting."""
    stack.start("bus", "store", "scheduler")
    first = stack.procs["scheduler"].pid
    wait_until(lambda: _rows(stack).get("scheduler", (0,))[0] == first, 30, "the first pid")
    stack.stop("scheduler")
    stack.start("scheduler")
    second = stack.procs["scheduler"].pid
    wait_until(lambda: _rows(stack).get("scheduler", (0,))[0] == second, 30, "the new pid")
    assert first != second


@pytest.mark.e2e
def test_a_stopping_store_writes_down_every_latest_heartbeat(stack: Stack) -> None:
    """After the store stops, each row holds the last beat the store heard, not the first."""
    stack.start("bus", "store", "scheduler")
    where = endpoints(stack.home)
    wait_until(lambda: "scheduler" in _rows(stack), 30, "the scheduler's first beat saved")
    first_saved = _rows(stack)["scheduler"][1]
    heard = wait_until(
        lambda: (b := _asked(where).get("scheduler")) and b[0].sent_at > first_saved + 1 and b,
        30,
        "a later scheduler beat",
    )
    stack.stop("store")
    assert _rows(stack)["scheduler"][1] >= heard[0].sent_at


@pytest.mark.e2e
def test_the_store_keeps_each_machines_heartbeat_of_one_process(stack: Stack) -> None:
    """Two machines' collectors beating to one store are both in its answer, neither
    replacing the other."""
    stack.start("bus", "store")
    where = endpoints(stack.home)
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(where.publish)
    here = Heartbeat(process="collector", pid=1, started_at=0.0, sent_at=1.0)
    desk = Heartbeat(process="collector", pid=2, started_at=0.0, sent_at=2.0, machine="d" * 32)

    def both() -> list[int]:
        for beat in (here, desk):
            sock.send_multipart([b"sys.heartbeat.collector", encode(beat)])
        client = ReplayClient(where, timeout_ms=2000)
        try:
            pids = sorted(b.pid for b, _ in client.heartbeats() if b.process == "collector")
        except StoreUnavailable:
            pids = []
        finally:
            client.close()
        return pids if len(pids) == 2 else []

    try:
        pids = wait_until(both, 30, "both machines' collectors in the store's answer")
    finally:
        sock.close()
    assert [1, 2] == pids
