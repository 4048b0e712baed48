"""Append-to-stream latency: from a transcript write to its committed event on the bus."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from bus.client import EventFollower
from bus.endpoints import Endpoints
from bus.messages import UsageCommitted
from services.collector.claude.dedup import dedup_key
from services.demo.corpus.claude import ExpectedRecord, append_live

SUBSCRIBE_SETTLE_SECONDS = 0.3
"""PUB/SUB subscriptions take a moment to reach the forwarder; events before that come by
replay, which would only add latency to the first append."""


@dataclass
class Latencies:
    """What the latency phase measured."""

    appends: int = 0
    seconds: list[float] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        """Appends whose event never arrived before the timeout."""
        return self.appends - len(self.seconds)


@dataclass
class _Waiting:
    """Appended records whose final copy has not been seen committed yet."""

    by_key: dict[str, tuple[float, int]] = field(default_factory=dict)

    def add(self, records: list[ExpectedRecord], written_at: float) -> None:
        for r in records:
            key = dedup_key(r.message_id, r.request_id, r.session, b"")
            self.by_key[key] = (written_at, r.total)

    def settle(self, event: UsageCommitted, received_at: float) -> list[float]:
        """Latencies of the records this event completes (a streaming copy smaller than the
        final one does not count: the record is there only once it has its final size)."""
        out = []
        for record in event.records:
            waiting = self.by_key.get(record.key)
            if waiting is not None and record.total_tokens >= waiting[1]:
                out.append(received_at - waiting[0])
                del self.by_key[record.key]
        return out


def measure(
    root: Path,
    where: Endpoints,
    after_seq: int,
    appends: int,
    seed: int,
    timeout: float = 10.0,
) -> Latencies:
    """Append ``appends`` exchanges 50-100 ms apart (open loop) and time each one's commit.

    The write time is taken right after ``append_live`` returns, i.e. once the response's last
    line is on disk; the receive time when the ``UsageCommitted`` event holding the record at
    its final size comes out of the ``EventFollower``.
    """
    # Not random.Random(seed): the corpus was generated from that stream, and append_live would
    # then draw the very message ids the corpus already holds (its copies lose as duplicates).
    rng = random.Random(f"bench-appends-{seed}")
    result = Latencies()
    waiting = _Waiting()
    with EventFollower(prefixes=("evt.usage.",), after=after_seq, where=where) as follower:
        time.sleep(SUBSCRIBE_SETTLE_SECONDS)
        next_append = time.monotonic()
        deadline = float("inf")
        while result.appends < appends or (waiting.by_key and time.monotonic() < deadline):
            now = time.monotonic()
            if result.appends < appends and now >= next_append:
                records = append_live(root, rng)
                written = time.monotonic()
                waiting.add(records, written)
                result.appends += 1
                next_append = written + rng.uniform(0.05, 0.1)
                if result.appends == appends:
                    deadline = written + timeout
            wait = next_append if result.appends < appends else deadline
            timeout_ms = max(0, min(100, int((wait - time.monotonic()) * 1000)))
            for _topic, event in follower.poll(timeout_ms):
                if isinstance(event, UsageCommitted):
                    result.seconds.extend(waiting.settle(event, time.monotonic()))
    result.missing_keys = sorted(waiting.by_key)
    return result
