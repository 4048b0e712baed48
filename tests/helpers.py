"""Builders for wire messages and small polling helpers, shared by the test modules.

Imported by its full name, ``tests.helpers`` (the project root is on ``sys.path``; no folder
under ``tests/`` is, see tests/test_helpers_imports.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bus.client import Subscriber
from bus.codec import encode
from bus.messages import Alert, FileCursor, Heartbeat, ModelPrice, UsageBatch, UsageRecord
from services.collector.tracker import batch_id

SOURCE = "/logs/project/session.jsonl"


SONNET_4_5 = ModelPrice(
    input="3",
    output="15",
    cache_write_5m="3.75",
    cache_write_1h="6",
    cache_read="0.3",
    long_context_threshold=200_000,
    long_context_input="6",
    long_context_output="22.5",
    long_context_cache_write_5m="7.5",
    long_context_cache_write_1h="12",
    long_context_cache_read="0.6",
    web_searches_kcount="10",
)
"""Claude Sonnet 4.5 as Anthropic publishes it: $3 input, $15 output, $3.75 5-minute write,
$6 1-hour write (2x input), $0.30 read; every category doubles (output 1.5x) over 200k; web
search $10 per 1,000 searches."""
T0 = 1_740_000_600_000
"""2025-02-19T21:30:00Z in ms: the start of a 15-minute slot."""


def cursor(offset: int, path: str = SOURCE, ino: int = 7) -> FileCursor:
    """A cursor ``offset`` bytes into ``path``."""
    return FileCursor(path=path, dev=1, ino=ino, offset=offset, head_len=64, head_sha1="ab" * 20)


def record(key: str, **fields: Any) -> UsageRecord:
    """A Claude usage record with sensible defaults; ``fields`` override any of them."""
    values: dict[str, Any] = {
        "provider": "claude",
        "ts_ms": T0,
        "model": "claude-sonnet-4-5",
        "project": "project",
        "session": "session",
        "input": 10,
        "output": 20,
    }
    values.update(fields)
    return UsageRecord(key=key, **values)


def batch(
    records: tuple[UsageRecord, ...] | list[UsageRecord],
    before: int | None,
    after: int,
    source: str = SOURCE,
    **fields: Any,
) -> UsageBatch:
    """The batch of ``source`` from offset ``before`` (``None``: no cursor yet) to ``after``."""
    start = None if before is None else cursor(before, source)
    end = cursor(after, source)
    return UsageBatch(
        batch_id=batch_id(source, start, end),
        provider="claude",
        source=source,
        before=start,
        after=end,
        records=tuple(records),
        **fields,
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "it") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def probe(n: int) -> bytes:
    """The body of the ``n``-th subscription probe."""
    return encode(Heartbeat(process="probe", pid=n, started_at=0.0, sent_at=0.0))


def await_subscription(send: Callable[[bytes], None], subscriber: Subscriber) -> None:
    """Re-send probes until one comes back, then swallow every probe still in flight.

    PUB/SUB drops what is published before a subscription reaches the publisher (the slow
    joiner), so a test publishes only after this returns. ``send(body)`` publishes one probe
    under a topic ``subscriber`` is subscribed to.
    """
    deadline = time.monotonic() + 5.0
    sent = 0
    while True:
        sent += 1
        send(probe(sent))
        item = subscriber.recv(timeout_ms=50)
        if item is not None:
            break
        if time.monotonic() > deadline:
            raise AssertionError("the subscription did not reach the publisher within 5 s")
    # Probes after the first delivered one all arrive, in order: wait for the last one sent.
    while not (isinstance(item[1], Heartbeat) and item[1].pid == sent):
        item = subscriber.recv(timeout_ms=5000)
        if item is None:
            raise AssertionError("a probe was lost after the subscription was made")


def alert(**fields: Any) -> Alert:
    """A threshold alert for Claude's 5-hour window at 91 %; ``fields`` override any field."""
    values: dict[str, Any] = {
        "key": "threshold:claude:five_hour:1700000000:90",
        "rule": "threshold",
        "provider": "claude",
        "title": "Claude 5-hour window at 91 %",
        "body": "Past the 90 % line; resets in 1h (at 14:00).",
        "severity": "warning",
        "raised_at": 1_700_000_000.0,
        "window": "five_hour",
        "band": 90.0,
        "used_percent": 91.0,
    }
    values.update(fields)
    return Alert(**values)


def imported_modules(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    """The exit status of ``python -m otm <args>`` in ``env`` and every module it imported,
    by ``-X importtime`` (a module tried and refused, as a ``None`` entry in ``sys.modules``
    makes it, is listed too, but none of its submodules)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "otm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    return result.returncode, modules
