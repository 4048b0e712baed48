"""The installed ``otm statusline`` command, run as Claude Code runs it."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.demo.corpus.claude import append_live, generate
from services.queries.reports.timezones import local_timezone_name
from services.runtime.spool import read_observations

pytestmark = pytest.mark.e2e

OTM = Path(sys.executable).parent / ("otm.exe" if os.name == "nt" else "otm")
"""The console script pip installed (``otm.entry:main``)."""


def otm(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Any:
    """Run the installed ``otm`` with ``args`` and ``stdin``; the finished process."""
    assert OTM.is_file(), f"{OTM} is missing: pip install -e . first"
    return subprocess.run([str(OTM), *args], input=stdin, capture_output=True, env=env, timeout=60)


def status_input(now: float, transcript: str = "", session: str = "") -> bytes:
    """Claude Code's status JSON: Opus 4.1, $0.42 so far, both windows (5h resets in 2h13m)."""
    data = {
        "session_id": session,
        "transcript_path": transcript,
        "cwd": "/home/dev/api-server",
        "model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"},
        "workspace": {"current_dir": "/home/dev/api-server"},
        "version": "2.1.30",
        "cost": {"total_cost_usd": 0.42},
        "rate_limits": {
            "five_hour": {"used_percentage": 23.5, "resets_at": int(now) + 2 * 3600 + 13 * 60 + 50},
            "seven_day": {
                "used_percentage": 41,
                "resets_at": datetime.fromtimestamp(now + 3 * 86400 + 4 * 3600 + 50, UTC)
                .isoformat()
                .replace("+00:00", "Z"),
            },
        },
    }
    return json.dumps(data).encode()


@pytest.fixture
def history(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small Claude Code history ending now (with an exchange just now), caught up into
    the state dir's database by ``otm report``; returns the Claude config dir."""
    root = tmp_path / "claude"
    now = datetime.now(UTC)
    generate(root, size_mb=0.3, seed=5, start=now - timedelta(seconds=60), days=2)
    append_live(root, random.Random(2), now)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    done = otm("report", "daily", "--json", "--provider", "claude")
    assert 0 == done.returncode, done.stderr
    return root


def today_in_report() -> str:
    """Today's Claude dollars as ``otm report daily --json --provider claude`` says (``+?``
    when part of it is unpriced)."""
    done = otm("report", "daily", "--json", "--provider", "claude")
    report = json.loads(done.stdout)
    today = datetime.now(ZoneInfo(local_timezone_name())).date().isoformat()
    (row,) = [r for r in report["daily"] if r["date"] == today]
    return f"${row['totalCost']:.2f}{'+?' if 'unpriced' in report else ''}"


def test_line_has_todays_cost_of_the_daily_report(history: Path) -> None:
    """The line shows model, the daily report's dollars for today, session cost and windows."""
    done = otm("statusline", stdin=status_input(time.time()))
    assert (0, b"") == (done.returncode, done.stderr)
    expected = (
        f"Opus 4.1 · today {today_in_report()} · session $0.42 · 5h 23% (2h13m) · week 41% (3d4h)"
    )
    assert expected + "\n" == done.stdout.decode()


def test_rate_limits_land_in_the_spool(state: Path, history: Path) -> None:
    """The input's windows are spooled as one local-official observation."""
    now = time.time()
    otm("statusline", stdin=status_input(now))
    (observed,), problems = read_observations(state)
    assert [] == problems
    assert [("five_hour", 23.5), ("seven_day", 41.0)] == [
        (w.window, w.used_percent) for w in observed.windows
    ]
    assert "local-official" == observed.source
    assert abs(observed.observed_at - now) < 30


def test_no_database_leaves_today_out(state: Path, tmp_path: Path) -> None:
    """Before any history is read there is no today's cost, and nothing is created."""
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tmp_path / "claude")}
    done = otm("statusline", stdin=status_input(time.time()), env=env)
    assert 0 == done.returncode
    assert done.stdout.decode().startswith("Opus 4.1 · session $0.42 · 5h 23%")
    assert not (state / "otm.db").exists()


def test_garbage_stdin_exits_0_with_a_message(state: Path) -> None:
    """Garbage on stdin prints a message, no traceback, and exits 0."""
    done = otm("statusline", stdin=b"\x00\xffnot json at all")
    assert (0, "otm: no status input (not JSON)\n", b"") == (
        done.returncode,
        done.stdout.decode(),
        done.stderr,
    )


def test_empty_stdin_exits_0_with_a_message(state: Path) -> None:
    """An empty stdin prints a message and exits 0."""
    done = otm("statusline")
    assert (0, "otm: no status input\n") == (done.returncode, done.stdout.decode())


def test_cli_is_not_imported(history: Path) -> None:
    """``otm statusline`` imports neither typer, click, rich, msgspec nor otm.cli."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = otm("statusline", stdin=status_input(time.time()), env=env)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.decode().splitlines()}
    assert "otm.statusline" in imported
    assert set() == imported & {"typer", "click", "rich", "msgspec", "otm.cli", "bus.messages"}


def test_python_m_otm_gives_the_same_line(history: Path) -> None:
    """Through the typer app (``python -m otm statusline``) the line is the same."""
    stdin = status_input(time.time())
    direct = otm("statusline", stdin=stdin)
    via_cli = subprocess.run(
        [sys.executable, "-m", "otm", "statusline"], input=stdin, capture_output=True, timeout=60
    )
    assert (0, direct.stdout) == (via_cli.returncode, via_cli.stdout)
