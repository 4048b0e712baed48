"""``otm tail``: the stream, one readable line per event (``--json``: the raw JSON lines).

Prefixes under ``evt.`` follow the committed log (``EventFollower``: gapless, replayable with
``--from``); any other prefix (``sys.`` heartbeats, ``cmd.`` refresh requests) is what is on
the bus right now, live only, since nothing logs it.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import msgspec

from bus.client import EventFollower, ReplayClient, StoreUnavailable, Subscriber
from bus.messages import Message, PriceCommitted
from bus.topics import EVENTS
from otm.tail_lines import Readable
from services.runtime.installation import Runtime

_json = msgspec.json.Encoder()


def line(seq: int, topic: str, event: object) -> bytes:
    """One output line: ``{"seq":…,"topic":…,"event":{…}}``."""
    return _json.encode({"seq": seq, "topic": topic, "event": event}) + b"\n"


def committed(prefix: str) -> bool:
    """Whether ``prefix`` names committed events (followed from the log) rather than live
    bus traffic."""
    return prefix.startswith(EVENTS) or prefix == EVENTS.rstrip(".")


class Prices:
    """Committed prices, read from the store's database when first needed and kept up to date
    from the ``evt.price`` events the tail sees."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.known: dict[tuple[str, str], Any] = {}

    def __call__(self, provider: str, model: str) -> Any:
        """The price of ``(provider, model)``; ``None`` when unpriced or not committed yet."""
        key = (provider, model)
        if key not in self.known:
            self.known[key] = self._read(provider, model)
        return self.known[key]

    def saw(self, message: Message) -> None:
        """Keep a newly committed price."""
        if isinstance(message, PriceCommitted):
            self.known[(message.provider, message.model)] = message.price

    def _read(self, provider: str, model: str) -> Any:
        from services.queries.reports.common import decode_price
        from services.store.database import connect_reader

        try:
            conn = connect_reader(str(self.runtime.db_path))
        except (OSError, sqlite3.Error):  # no database yet
            return None
        try:
            row = conn.execute(
                "SELECT price FROM prices WHERE provider = ? AND model = ?", (provider, model)
            ).fetchone()
        except sqlite3.Error:
            return None
        finally:
            conn.close()
        return None if row is None or row[0] is None else decode_price(bytes(row[0]))


def start_seq(runtime: Runtime) -> int:
    """Where a tail without ``--from`` starts: the log's head, from the store or, while it is
    down, from its database (so a tail started before the stack shows what comes next, not
    the whole history)."""
    try:
        return ReplayClient(runtime.endpoints, timeout_ms=1000).fetch(0, limit=1).head
    except StoreUnavailable:
        pass
    from services.store.database import connect_reader

    try:
        conn = connect_reader(str(runtime.db_path))
    except (OSError, sqlite3.Error):  # no database yet: everything is new
        return 0
    try:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def messages(runtime: Runtime, prefix: str, from_seq: int | None) -> Iterator[tuple[str, Message]]:
    """Every event under ``prefix``: from the log after ``from_seq`` (default: its head),
    or, for a prefix outside ``evt.``, live off the bus."""
    if committed(prefix):
        after = start_seq(runtime) if from_seq is None else from_seq
        with EventFollower((prefix,), after=after, where=runtime.endpoints) as follower:
            yield from follower.events(timeout_ms=500)
        return
    live = Subscriber((prefix,), runtime.endpoints)
    try:
        while True:
            item = live.recv(500)
            if item is not None:
                yield item
    finally:
        live.close()


def tail(runtime: Runtime, prefix: str, from_seq: int | None, as_json: bool) -> None:
    """Print the stream until interrupted: readable lines, or JSON lines with ``as_json``."""
    out = sys.stdout.buffer
    prices = Prices(runtime)
    readable = Readable(prices)
    try:
        for topic, event in messages(runtime, prefix, from_seq):
            if as_json:
                out.write(line(getattr(event, "seq", 0), topic, event))
            else:
                prices.saw(event)
                out.write(readable.line(topic, event).encode() + b"\n")
            out.flush()
    except KeyboardInterrupt:
        pass
