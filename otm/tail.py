"""``otm tail``: committed events as JSON lines, optionally replaying history first."""

from __future__ import annotations

import sys

import msgspec

from bus.client import EventFollower, ReplayClient, StoreUnavailable
from services.runtime.installation import Runtime

_json = msgspec.json.Encoder()


def line(seq: int, topic: str, event: object) -> bytes:
    """One output line: ``{"seq":…,"topic":…,"event":{…}}``."""
    return _json.encode({"seq": seq, "topic": topic, "event": event}) + b"\n"


def tail(runtime: Runtime, prefix: str, from_seq: int | None) -> None:
    """Follow the stream until interrupted."""
    after = from_seq
    if after is None:
        try:
            after = ReplayClient(runtime.endpoints, timeout_ms=1000).fetch(0, limit=1).head
        except StoreUnavailable:
            after = 0
    out = sys.stdout.buffer
    with EventFollower((prefix,), after=after, where=runtime.endpoints) as follower:
        try:
            for topic, event in follower.events(timeout_ms=500):
                out.write(line(getattr(event, "seq", 0), topic, event))
                out.flush()
        except KeyboardInterrupt:
            pass
