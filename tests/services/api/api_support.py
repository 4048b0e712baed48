"""Helpers for the api tests: observations to commit, service processes, an SSE reader.

Kept apart from conftest.py (which only holds fixtures) under a name no other test folder uses.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pytest

from bus.messages import (
    FileCursor,
    Message,
    ModelPrice,
    PriceObserved,
    UsageBatch,
    UsageRecord,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
READY_SECONDS = 20.0
COMMIT_SECONDS = 20.0
BASE_TS_MS = 1_767_787_200_000  # 2026-01-07T12:00:00Z
MODEL = "claude-sonnet-4-5"
SONNET_PRICE = ModelPrice(
    input="3", output="15", cache_write_5m="3.75", cache_write_1h="6", cache_read="0.3"
)

SERVICE_SCRIPT = (
    "from services.runtime.logs import configure; configure({name!r}); "
    "from services.runtime.installation import load_runtime; "
    "from services.{name}.service import run; "
    "run(load_runtime())"
)


# -- data -------------------------------------------------------------------------------------


def usage_batch(n: int, hours_apart: int = 8) -> UsageBatch:
    """Batch ``n``: one record read from its own file, ``n * hours_apart`` after the base time."""
    source = f"/logs/project/session-{n}.jsonl"
    record = UsageRecord(
        key=f"claude:msg_{n}",
        provider="claude",
        ts_ms=BASE_TS_MS + n * hours_apart * 3_600_000,
        model=MODEL,
        project="project",
        session=f"session-{n}",
        input=100 * n,
        output=10 * n,
        cache_write_5m=1000,
        cache_read=5000 * n,
    )
    cursor = FileCursor(path=source, dev=1, ino=n, offset=512, head_len=64, head_sha1=f"{n:040x}")
    return UsageBatch(
        batch_id=f"batch-{n}",
        provider="claude",
        source=source,
        before=None,
        after=cursor,
        records=(record,),
    )


def price_observed(model: str = MODEL) -> PriceObserved:
    """A price for ``model``, as the collector would observe it."""
    return PriceObserved(provider="claude", model=model, source="test", price=SONNET_PRICE)


def committed_usage() -> list[Message]:
    """A price, batches 1 and 2 of this machine and batch 3 of a machine named ``desk``."""
    desk = msgspec.structs.replace(usage_batch(3), machine="d" * 32, machine_name="desk")
    return [price_observed(), usage_batch(1), usage_batch(2), desk]


# -- processes --------------------------------------------------------------------------------


@dataclass
class Service:
    """A process of the stack started from its ``run`` function, with its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    ready: dict[str, object] = field(default_factory=dict)

    def log_lines(self) -> list[dict[str, object]]:
        """The process's structured log lines so far."""
        lines = []
        for raw in self.log.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue  # not every line on stderr is ours (tracebacks, stdlib warnings)
        return lines

    def wait_ready(self) -> None:
        """Block until the "ready" line appears; fail with the log if the process dies first."""
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if line.get("event") == "ready":
                    self.ready = line
                    return
            if self.proc.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log.read_text()}"
                )
            time.sleep(0.05)
        pytest.fail(f"{self.name} never logged 'ready':\n{self.log.read_text()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Api(Service):
    """The api process, with its base URL once ready."""

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` as announced in the ready line."""
        return str(self.ready["url"])


# -- reading the stream -----------------------------------------------------------------------


@dataclass
class SseReader:
    """Reads Server-Sent-Event messages from an open streaming response."""

    response: httpx.Response
    _lines: Iterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self._lines = self.response.iter_lines()

    def block(self) -> dict[str, str]:
        """The next message block: its fields, with comment lines joined under ``comment``."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            name = name or "comment"
            fields[name] = (fields.get(name, "") + "\n" + value.strip()).strip()
        raise EOFError(f"stream ended; last fields {fields}")

    def wait_subscribed(self) -> str:
        """Skip to the server's "subscribed" comment: from here on, new commits reach us."""
        while True:
            fields = self.block()
            if "subscribed" in fields.get("comment", ""):
                return fields["comment"]

    def events(self, count: int) -> list[dict[str, str]]:
        """The next ``count`` event messages (those with data), skipping comments."""
        out: list[dict[str, str]] = []
        while len(out) < count:
            fields = self.block()
            if "data" in fields:
                out.append(fields)
        return out
