"""The collector stamps every batch with this machine and resumes only from its own cursors."""

from __future__ import annotations

import json
from pathlib import Path

from services.collector.adapter_set import build_adapters
from services.collector.reading import Collector
from services.runtime.installation import Runtime, load_runtime
from services.store.database import connect_writer
from services.store.writer import Store
from tests.helpers import batch, record

OTHER_MACHINE = "c" * 32


def _transcript(root: Path) -> Path:
    """A Claude Code transcript with one response under ``root``."""
    path = root / "projects" / "-home-u-proj" / "s1.jsonl"
    path.parent.mkdir(parents=True)
    entry = {
        "type": "assistant",
        "sessionId": "s1",
        "requestId": "req_1",
        "timestamp": "2026-05-16T09:12:34.567Z",
        "message": {
            "id": "m1",
            "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 3, "output_tokens": 5},
        },
    }
    path.write_text(json.dumps(entry) + "\n")
    return path


def _runtime(state: Path, name: str) -> Runtime:
    """This test's runtime, reading a Claude root of its own, the machine named ``name``."""
    root = state / "claude"
    _transcript(root)
    (state / "config.toml").write_text(
        f'[claude]\nroots = ["{root}"]\n[machine]\nname = "{name}"\n'
    )
    return load_runtime()


def test_batches_carry_this_machines_id_and_name(state: Path) -> None:
    """Every batch read names the machine (its id from the state folder, its configured name)."""
    runtime = _runtime(state, "desk")
    collector = Collector(runtime, build_adapters(runtime))
    collector.request()
    batches = collector.next_batches()
    assert {(runtime.machine.id, "desk")} == {(b.machine, b.machine_name) for b in batches}


def test_resume_ignores_another_machines_cursor_of_the_same_path(state: Path) -> None:
    """A cursor another machine committed for the same path is not where this one resumes."""
    runtime = _runtime(state, "desk")
    path = str(next((state / "claude" / "projects").rglob("*.jsonl")))
    conn = connect_writer(str(runtime.db_path))
    Store(conn).apply([batch([record("x")], None, 10, source=path, machine=OTHER_MACHINE)])
    conn.close()
    collector = Collector(runtime, build_adapters(runtime))
    collector.resume()
    assert None is collector.tracker.position(path)
