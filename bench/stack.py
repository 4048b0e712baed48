"""The pipeline's processes as real subprocesses (``python -m otm <name>``) sharing one OTM_HOME.

The same approach as ``tests/e2e/stack.py``, cut down to what a benchmark needs: launch without
waiting (cold ingest is timed from the launch), know every pid (for RSS), stop everything.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

PIPELINE = ("bus", "store", "collector", "watcher", "scheduler")
"""The processes the benchmark runs: everything that turns a write into a committed event."""

_PASSED_THROUGH = ("OTM_BUS_TRANSPORT", "OTM_BUS_PORT")
"""OTM_ variables kept from the caller's environment, so the bench's own bus client agrees."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive TCP ports nobody listens on right now.

    A hub binds its publish, subscribe and replay sockets on one base port and the next two.
    """
    for _ in range(100):
        base = free_port()
        if base + count <= 65_535 and all(_is_free(base + i) for i in range(1, count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stack_env(home: Path, data_dirs: dict[str, str]) -> dict[str, str]:
    """The environment of every stack process and every ``otm`` command the bench runs.

    ``data_dirs`` names the CLIs' data folders (``CLAUDE_CONFIG_DIR``, and for a mixed corpus
    ``CODEX_HOME`` and ``GEMINI_CLI_HOME``).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k in _PASSED_THROUGH or not k.startswith(("OTM_", "CLAUDE_"))
    }
    env["OTM_HOME"] = str(home)
    env["OTM_API_PORT"] = str(free_port())
    env.update(data_dirs)
    env["TZ"] = "UTC"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Stack:
    """Launches, tracks and stops the stack's processes."""

    def __init__(self, home: Path, data_dirs: dict[str, str]) -> None:
        self.home = home
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = stack_env(home, data_dirs)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, names: tuple[str, ...]) -> None:
        """Launch processes without waiting for them to be ready."""
        for name in names:
            with (self.logs / f"{name}.log").open("ab") as log:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "otm", name],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

    def pids(self) -> dict[str, int]:
        """The pid of every running process, by name."""
        return {name: proc.pid for name, proc in list(self.procs.items())}

    def check_alive(self) -> None:
        """Raise if a process exited, with the end of its log."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log(name)[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def log(self, name: str) -> str:
        """A process's log text."""
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def ready_at(self) -> dict[str, float]:
        """When each process logged its ``ready`` line (epoch seconds, from its log)."""
        out: dict[str, float] = {}
        for name in self.procs:
            for line in self.log(name).splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and entry.get("event") == "ready":
                    stamp = str(entry["timestamp"]).replace("Z", "+00:00")
                    out[name] = datetime.fromisoformat(stamp).timestamp()
                    break
        return out

    def stop_all(self, timeout: float = 5.0) -> None:
        """SIGTERM every process, then SIGKILL whatever has not exited in ``timeout`` seconds."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self.procs.clear()

    @property
    def db_path(self) -> Path:
        """The store's database."""
        return self.home / "otm.db"
