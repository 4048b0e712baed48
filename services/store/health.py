"""Whether the store can write, and the small file that says so when the database cannot.

A full disk stops every commit, the heartbeats the store records for ``otm status`` included,
so the store announces its state in ``<state>/run/store.health`` as well: a file of fixed size,
allocated while there is space and afterwards only overwritten in place, which needs no new
space. ``otm status`` and ``GET /v1/status`` read it while the store runs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from services.store.trouble import DAMAGED, free_mb

OK = "ok"
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 8.0
"""Retries double from the first to this; space coming back is noticed sooner (below)."""
EARLY_RETRY_MB = 0.1
"""Free space grown by this much since the last failure: try again without waiting."""
HEALTH_FILE = "store.health"
HEALTH_FILE_BYTES = 16384
HEALTH_WRITE_SECONDS = 1.0
"""While in trouble, the file is refreshed (free space, heartbeats seen) at most this often."""


@dataclass
class WriteHealth:
    """The store's writing state: ``ok``, or the problem with its message and retry schedule.

    ``DAMAGED`` is final for the process (nothing more is written to a damaged file); a full
    disk or an I/O error is retried with a doubling back-off.
    """

    db_path: Path
    state: str = OK
    message: str = ""
    since: float = field(default_factory=time.time)
    retry_in: float = 0.0
    next_try: float = 0.0
    failures: int = 0
    free_at_failure: float = 0.0

    @property
    def writing(self) -> bool:
        """Whether the last write worked."""
        return self.state == OK

    def may_try(self, now: float) -> bool:
        """Whether a write may be attempted at monotonic time ``now``."""
        if self.state == OK:
            return True
        if self.state == DAMAGED:
            return False
        return now >= self.next_try or free_mb(self.db_path) >= (
            self.free_at_failure + EARLY_RETRY_MB
        )

    def failed(self, kind: str, message: str, now: float) -> bool:
        """Record a failed write of ``kind``; True when the state changed (log it then)."""
        changed = kind != self.state
        if changed:
            self.since = time.time()
            self.failures = 0
            self.retry_in = FIRST_RETRY_SECONDS
        else:
            self.retry_in = min(self.retry_in * 2, MAX_RETRY_SECONDS)
        self.state = kind
        self.message = message
        self.failures += 1
        self.next_try = now + self.retry_in
        self.free_at_failure = free_mb(self.db_path)
        return changed

    def succeeded(self) -> bool:
        """Record a write that worked; True when that ends a problem (log it then)."""
        if self.state == OK:
            return False
        self.state, self.message, self.since = OK, "", time.time()
        self.retry_in = self.next_try = 0.0
        return True


class HealthFile:
    """``<state>/run/store.health``: the store's state as JSON, padded to a fixed size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._written_at = 0.0

    def open(self) -> str | None:
        """Allocate the file (while there is space); the error if that failed."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._file = os.fdopen(fd, "r+b", buffering=0)
            self._file.write(b" " * HEALTH_FILE_BYTES)
            self._file.truncate(HEALTH_FILE_BYTES)
        except OSError as exc:
            self.close()
            return str(exc)
        return None

    def write(self, record: dict[str, Any], *, throttle: bool = False) -> bool:
        """Overwrite the file with ``record`` (skipped within ``HEALTH_WRITE_SECONDS`` of the
        last write when ``throttle``); False if it could not be written."""
        now = time.monotonic()
        if self._file is None or (throttle and now - self._written_at < HEALTH_WRITE_SECONDS):
            return False
        payload = json.dumps(record).encode()
        if len(payload) > HEALTH_FILE_BYTES:
            payload = json.dumps({**record, "heartbeats": {}}).encode()[:HEALTH_FILE_BYTES]
        try:
            self._file.seek(0)
            self._file.write(payload.ljust(HEALTH_FILE_BYTES))
        except OSError:
            return False
        self._written_at = now
        return True

    def close(self) -> None:
        """Close the file (it stays, saying what it last said)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def health_record(
    health: WriteHealth, heartbeats: dict[str, float], head: int | None
) -> dict[str, Any]:
    """What the health file says: the store's pid, state and message, and when it last heard
    from each process (its in-memory heartbeats, which a full disk keeps out of the database)."""
    return {
        "pid": os.getpid(),
        "state": health.state,
        "message": health.message,
        "since": health.since,
        "written_at": time.time(),
        "head_seq": head,
        "heartbeats": heartbeats,
    }


def read_health(run_dir: Path) -> dict[str, Any] | None:
    """The store's health file in ``run_dir``, None if missing or unreadable (mid-write)."""
    try:
        record = json.loads((run_dir / HEALTH_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
