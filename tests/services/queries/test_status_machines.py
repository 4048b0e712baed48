"""``otm status`` lists the machines seen; its processes stay this machine's own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bus.messages import Heartbeat
from otm.health import show_status
from services.queries.status import collect_status
from services.runtime.installation import Runtime, load_runtime
from services.store.database import connect_writer
from services.store.writer import Store
from tests.helpers import batch, record

DESK = "d" * 32


@pytest.fixture
def runtime(state: Path) -> Runtime:
    """A runtime whose store holds usage of this machine and of ``desk``, and a heartbeat of
    each machine's collector (written down, as a stopped store leaves them)."""
    (state / "config.toml").write_text('[machine]\nname = "laptop"\n')
    runtime = load_runtime()
    conn = connect_writer(str(runtime.db_path))
    store = Store(conn)
    store.apply(
        [
            batch([record("a", ts_ms=1_780_000_000_000)], None, 10, machine=runtime.machine.id),
            batch([record("b")], None, 10, source="/d.jsonl", machine=DESK, machine_name="desk"),
        ]
    )
    now = time.time()
    store.record_heartbeats(
        [
            Heartbeat(process="collector", pid=1, started_at=now, sent_at=now),
            Heartbeat(process="collector", pid=2, started_at=now, sent_at=now, machine=DESK),
        ]
    )
    conn.close()
    return runtime


def test_status_lists_this_machine_first_then_the_others(runtime: Runtime) -> None:
    """``machines`` has this machine (marked local) first, then ``desk``."""
    machines = collect_status(runtime)["machines"]
    expected = [("laptop", True), ("desk", False)]
    assert expected == [(m["name"], m["local"]) for m in machines]


def test_status_says_when_each_machine_was_last_heard(runtime: Runtime) -> None:
    """Both machines' collectors beat, so both have a last-heard age."""
    machines = collect_status(runtime)["machines"]
    assert [True, True] == [m["lastHeardSecondsAgo"] is not None for m in machines]


def test_status_gives_a_machines_latest_record_time(runtime: Runtime) -> None:
    """This machine's ``lastRecord`` is its record's time in UTC."""
    (laptop, _desk) = collect_status(runtime)["machines"]
    assert "2026-05-28T20:26:40Z" == laptop["lastRecord"]


def test_status_processes_are_this_machines_only(runtime: Runtime) -> None:
    """Another machine's collector is not listed among this machine's processes."""
    processes = collect_status(runtime)["processes"]
    assert [1] == [p["pid"] for p in processes if p["process"] == "collector"]


def test_status_text_has_a_machines_table(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    """``otm status`` prints a Machines table naming both machines and the desk's id prefix."""
    show_status(runtime, as_json=False)
    text = capsys.readouterr().out
    assert (True, True, True) == ("Machines" in text, "laptop" in text, DESK[:8] in text)
