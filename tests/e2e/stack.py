"""Running the real processes for end-to-end tests: start, stop, kill -9, wait, query."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stack import free_port
from services.processes import PROCESSES as STACK

PROCESSES = tuple(p.name for p in STACK if p.name != "demo")
"""Every process of the stack (``services.processes``) but the demo, which tests start alone."""
PRIVATE_ENV = (
    "OTM_",
    "CLAUDE_",
    "CODEX_",
    "GEMINI_",
    "GOOGLE_",
    "CODE_ASSIST_",
    "OPENAI_",
    "ANTHROPIC_",
)
"""Variables of the machine's own CLIs, kept out of the stack under test."""


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Stack:
    """The pipeline's processes as real subprocesses sharing one ``OTM_HOME``."""

    def __init__(
        self, home: Path, claude_dir: Path | None, extra_env: dict[str, str] | None = None
    ):
        self.home = home
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE_ENV)}
        self.env["OTM_HOME"] = str(home)
        # Never the real user's CLIs: their credentials would make the stack ask real endpoints.
        self.env["HOME"] = str(home / "user")
        self.env["OTM_API_PORT"] = str(free_port())
        self.env["PYTHONUNBUFFERED"] = "1"
        if claude_dir is not None:
            self.env["CLAUDE_CONFIG_DIR"] = str(claude_dir)
        self.env.update(extra_env or {})
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._starts: dict[str, int] = {}

    @property
    def api_url(self) -> str:
        """Base URL of the API process."""
        return f"http://127.0.0.1:{self.env['OTM_API_PORT']}"

    def log_path(self, name: str) -> Path:
        """Where a process's stderr goes (one file per start)."""
        return self.logs / f"{name}.{self._starts.get(name, 0)}.log"

    def start(self, *names: str, wait_ready: bool = True) -> None:
        """Start processes (``otm <name>``) and wait for their "ready" log line."""
        for name in names or PROCESSES:
            self._starts[name] = self._starts.get(name, 0) + 1
            log = self.log_path(name).open("wb")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "otm", name],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
        if wait_ready:
            for name in names or PROCESSES:
                wait_until(lambda n=name: self.is_ready(n), 30, f"{name} ready")

    def is_ready(self, name: str) -> bool:
        """Whether the current run of ``name`` logged its ready line."""
        proc = self.procs[name]
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}: {self.log(name)}")
        return any(entry.get("event") == "ready" for entry in self.log_entries(name))

    def log(self, name: str) -> str:
        """The current run's log text."""
        return self.log_path(name).read_text(errors="replace")

    def log_entries(self, name: str) -> list[dict[str, Any]]:
        """The current run's JSON log lines."""
        out = []
        for line in self.log(name).splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def stop(self, name: str, timeout: float = 5.0) -> float:
        """SIGTERM a process and return how long it took to exit."""
        proc = self.procs.pop(name)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
        return time.monotonic() - began

    def kill(self, name: str) -> None:
        """SIGKILL a process: no cleanup of any kind."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(5)

    def stop_all(self) -> None:
        """SIGTERM everything still running (kill what does not exit)."""
        for name in list(self.procs):
            try:
                self.stop(name)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def otm_argv(self) -> list[str]:
        """The command line that runs ``otm`` (add the sub-command and its options)."""
        return [sys.executable, "-m", "otm"]

    def otm(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a one-shot ``otm`` command in this stack's environment."""
        return subprocess.run(
            [sys.executable, "-m", "otm", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def otm_stdin(
        self, args: list[str], stdin: bytes, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a one-shot ``otm`` command with ``stdin`` (e.g. ``otm statusline``)."""
        return subprocess.run(
            [sys.executable, "-m", "otm", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            timeout=timeout,
        )

    def start_with_claude_windows(self, totals: tuple[int, ...]) -> None:
        """Start every process, wait until ``totals`` are ingested, then pipe Claude's 5-hour
        and weekly windows through ``otm statusline`` and wait until the store has them."""
        self.start()
        wait_until(lambda: self.token_totals() == totals, 30, "ingest")
        payload = {
            "model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"},
            "rate_limits": {
                "five_hour": {"used_percentage": 23.5, "resets_at": int(time.time()) + 7200},
                "seven_day": {"used_percentage": 41, "resets_at": int(time.time()) + 3 * 86400},
            },
        }
        self.otm_stdin(["statusline"], json.dumps(payload).encode())
        wait_until(
            lambda: self.query("SELECT 1 FROM limits WHERE provider='claude'"), 30, "windows"
        )

    @property
    def db_path(self) -> Path:
        """The store's database."""
        return self.home / "otm.db"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run a read-only query against the store's database."""
        if not self.db_path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def token_totals(self) -> tuple[int, ...]:
        """Sum of every token column over the whole usage projection."""
        rows = self.query(
            "SELECT coalesce(sum(input), 0), coalesce(sum(output), 0),"
            " coalesce(sum(cache_write_5m), 0), coalesce(sum(cache_write_1h), 0),"
            " coalesce(sum(cache_read), 0), coalesce(sum(records), 0) FROM usage_by_slot"
        )
        return tuple(rows[0]) if rows else (0, 0, 0, 0, 0, 0)

    def head(self) -> int:
        """The log's head seq."""
        rows = self.query("SELECT coalesce(max(seq), 0) FROM events")
        return int(rows[0][0]) if rows else 0
