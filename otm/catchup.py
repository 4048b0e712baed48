"""Bringing the store up to date in this process, for one-shot commands run without the stack.

It runs the same adapter, the same ``Store.apply`` and the same price keeping as the stack, only
without sockets: a report made this way equals one made while the stack runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bus.lock import ProcessLock
from bus.messages import Message, UsageBatch
from otm.runtime import Runtime
from services.collector.reading import Collector
from services.collector.registry import build_adapters
from services.store.schema import connect_writer
from services.store.writer import Store

if TYPE_CHECKING:
    from services.collector.prices import PriceKeeper


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up did."""

    batches: int
    records: int
    head_seq: int


def catch_up(runtime: Runtime) -> CatchUp:
    """Read everything new into the database. Raises ``AlreadyRunning`` if the store runs."""
    with ProcessLock(runtime.lock_path("store")):
        store = Store(connect_writer(str(runtime.db_path)))
        try:
            return _ingest(runtime, store)
        finally:
            store.conn.close()


def _ingest(runtime: Runtime, store: Store) -> CatchUp:
    collector = Collector(runtime, build_adapters(runtime))
    collector.resume()
    collector.request()
    keeper = None
    batches = records = 0
    while True:
        found = collector.next_batches()
        if not found:
            break
        messages: list[Message] = list(found)
        if keeper is None:
            keeper = _price_keeper(runtime)
        for batch in found:
            messages.extend(keeper.new_models(batch.records))
        store.apply(messages)
        for batch in found:
            collector.tracker.committed(batch.batch_id)
        batches += len(found)
        records += sum(len(b.records) for b in found if isinstance(b, UsageBatch))
    _repair_prices(runtime, store)
    return CatchUp(batches=batches, records=records, head_seq=store.head)


def _price_keeper(runtime: Runtime) -> PriceKeeper:
    # Imported here: resolving prices loads genai-prices (~0.2 s), which a warm report skips.
    from services.collector.prices import PriceKeeper

    return PriceKeeper(runtime.config.pricing.overrides)


def _repair_prices(runtime: Runtime, store: Store) -> None:
    """Re-check committed prices only when the overrides or genai-prices changed."""
    from services.collector.prices import PriceStamp

    stamp = PriceStamp(runtime.run, runtime.config.pricing.overrides)
    if stamp.current:
        return
    drift = _price_keeper(runtime).drift(store.conn)
    if drift:
        store.apply(list(drift))
    stamp.mark_current()
