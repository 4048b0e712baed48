"""The collector process: on each refresh request, read what is new and publish it.

Reading always starts from the cursor the store committed (or from the end of a batch still in
flight), so killing the collector at any moment loses nothing and counts nothing twice.
"""

from __future__ import annotations

import time

import structlog

from bus.client import Publisher, Subscriber
from bus.messages import RefreshRequested, UsageCommitted
from otm.process import Pulse, StopFlag
from otm.runtime import Runtime
from services.collector.claude.adapter import ClaudeAdapter
from services.collector.prices import PriceKeeper
from services.collector.reading import Collector

PRICE_CHECK_SECONDS = 5.0


def run(runtime: Runtime) -> None:
    """Serve refresh requests until SIGTERM."""
    logger = structlog.get_logger().bind(process="collector")
    stop = StopFlag()
    publisher = Publisher(runtime.endpoints)
    subscriber = Subscriber(("cmd.refresh.claude", "evt.usage.claude"), runtime.endpoints)
    pulse = Pulse("collector", publisher)
    adapter = ClaudeAdapter(runtime.claude_roots)
    collector = Collector(runtime, adapter)
    prices = PriceKeeper(runtime.config.pricing.overrides)
    collector.resume()
    collector.request(())
    logger.info("ready", roots=[str(r) for r in runtime.claude_roots], demo=runtime.demo)
    next_price_check = 0.0
    try:
        while not stop.stopped:
            idle = not collector.dirty or collector.tracker.full
            for _topic, message in _receive(subscriber, timeout_ms=100 if idle else 0):
                if isinstance(message, RefreshRequested):
                    collector.request(message.paths)
                    pulse.counters[f"refresh_{message.reason}"] += 1
                elif isinstance(message, UsageCommitted):
                    collector.tracker.committed(message.batch_id)
            for batch in collector.next_batches():
                publisher.publish(batch)
                pulse.counters["batches_sent"] += 1
                pulse.counters["records_sent"] += len(batch.records)
                for observed in prices.new_models(batch.records):
                    publisher.publish(observed)
            for batch in collector.resends():
                publisher.publish(batch)
                pulse.counters["batches_resent"] += 1
            if time.monotonic() >= next_price_check:
                for observed in prices.drift(collector.db()):
                    publisher.publish(observed)
                    pulse.counters["prices_sent"] += 1
                next_price_check = time.monotonic() + PRICE_CHECK_SECONDS
            for problem, count in adapter.problems.items():
                pulse.counters[problem] = count
            pulse.counters["in_flight"] = len(collector.tracker.pending)
            pulse.beat()
    finally:
        logger.info("stopping", in_flight=len(collector.tracker.pending))
        subscriber.close()
        publisher.close()


def _receive(subscriber: Subscriber, timeout_ms: int) -> list[tuple[str, object]]:
    first = subscriber.recv(timeout_ms)
    if first is None:
        return []
    return [first, *subscriber.drain()]
