"""The collector process: on each refresh request, read what is new and publish it.

Reading always starts from the cursor the store committed (or from the end of a batch still in
flight), so killing the collector at any moment loses nothing and counts nothing twice.
"""

from __future__ import annotations

import time

import structlog

from bus.client import Publisher, Subscriber
from bus.messages import Heartbeat, LimitsCommitted, RefreshRequested, UsageCommitted
from bus.topics import HEARTBEAT
from services.collector.adapter_set import build_adapters
from services.collector.live.poller import LivePoller
from services.collector.live.source_set import build_live_sources
from services.collector.price_keeping import PriceKeeper, PriceStamp
from services.collector.reading import Collector
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse, StopFlag

PRICE_CHECK_SECONDS = 5.0


def run(runtime: Runtime) -> None:
    """Serve refresh requests until SIGTERM."""
    logger = structlog.get_logger().bind(process="collector")
    stop = StopFlag()
    publisher = Publisher(runtime.endpoints)
    subscriber = Subscriber(
        ("cmd.refresh.", "evt.usage.", "evt.limits.", HEARTBEAT), runtime.endpoints
    )
    pulse = Pulse("collector", publisher)
    collector = Collector(runtime, build_adapters(runtime))
    prices = PriceKeeper(runtime.config.pricing.overrides)
    stamp = PriceStamp(runtime.run, runtime.config.pricing.overrides)
    store = StoreWatch()
    live = LivePoller(build_live_sources(runtime), runtime.config.limits, runtime.state)
    collector.resume()
    collector.request()
    live.restore(collector.db())
    roots = {p: [str(r) for r in rs] for p, rs in runtime.roots.items()}
    logger.info("ready", roots=roots, demo=runtime.demo, live=sorted(live.sources))
    next_price_check = 0.0
    try:
        while not stop.stopped:
            busy = store.seen and collector.dirty and not collector.tracker.full
            timeout = 0 if busy else 20 if live.busy else 100
            spool_check = False
            for _topic, message in _receive(subscriber, timeout_ms=timeout):
                if isinstance(message, RefreshRequested):
                    collector.request(message.provider, message.paths)
                    if message.live:
                        live.request(message.provider, manual=message.reason == "manual")
                    spool_check = spool_check or message.provider == "claude"
                    pulse.counters[f"refresh_{message.reason}"] += 1
                elif isinstance(message, UsageCommitted):
                    collector.tracker.committed(message.batch_id)
                elif isinstance(message, LimitsCommitted):
                    live.committed(message.observation_id)
                elif isinstance(message, Heartbeat) and store.restarted(message):
                    # A new store (or the first one we see) cannot know what we sent before
                    # it listened: settle everything in flight now rather than after a timeout.
                    collector.tracker.expire_all()
                    for observation in live.resend_all():
                        publisher.publish(observation)
            if not store.seen:
                # Publishing before the store listens would only feed PUB/SUB's void.
                pulse.beat()
                continue
            observations = [*live.completed(), *live.resends()]
            if spool_check:
                observations.extend(live.spooled())
            for observation in observations:
                publisher.publish(observation)
                pulse.counters["limits_sent"] += 1
            for batch in collector.next_batches():
                publisher.publish(batch)
                pulse.counters["batches_sent"] += 1
                pulse.counters["records_sent"] += len(batch.records)
                prices.note(batch.records)
            for batch in collector.resends():
                publisher.publish(batch)
                pulse.counters["batches_resent"] += 1
            if not collector.dirty:
                # Pricing loads genai-prices (~0.2 s): do it when reading has caught up.
                for observed in prices.flush():
                    publisher.publish(observed)
                    pulse.counters["prices_sent"] += 1
                if time.monotonic() >= next_price_check:
                    drift = prices.drift(collector.db())
                    for observed in drift:
                        publisher.publish(observed)
                        pulse.counters["prices_sent"] += 1
                    if not drift and collector.db() is not None:
                        stamp.mark_current()
                    next_price_check = time.monotonic() + PRICE_CHECK_SECONDS
            for problem, count in collector.problems.items():
                pulse.counters[problem] = count
            for name, count in live.counters.items():
                pulse.counters[name] = count  # totals, not increments (Counter.update adds)
            pulse.detail["live_running"] = ",".join(live.running)
            pulse.counters["in_flight"] = len(collector.tracker.pending)
            pulse.beat()
    finally:
        logger.info("stopping", in_flight=len(collector.tracker.pending))
        live.close()
        subscriber.close()
        publisher.close()


class StoreWatch:
    """Which store process we last heard from, to notice the first one and any restart."""

    def __init__(self) -> None:
        self.identity: tuple[int, float] | None = None

    @property
    def seen(self) -> bool:
        """Whether a store heartbeat has arrived (so the store is subscribed and listening)."""
        return self.identity is not None

    def restarted(self, beat: Heartbeat) -> bool:
        """True when this heartbeat comes from a store we had not heard from before."""
        if beat.process != "store":
            return False
        identity = (beat.pid, beat.started_at)
        if identity == self.identity:
            return False
        self.identity = identity
        return True


def _receive(subscriber: Subscriber, timeout_ms: int) -> list[tuple[str, object]]:
    first = subscriber.recv(timeout_ms)
    if first is None:
        return []
    return [first, *subscriber.drain()]
