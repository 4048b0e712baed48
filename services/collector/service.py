"""The collector process: on each refresh request, read what is new and publish it.

Reading always starts from the cursor the store committed (or from the end of a batch still in
flight), so killing the collector at any moment loses nothing and counts nothing twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from bus.messages import FileCursor, Heartbeat, LimitsCommitted, RefreshRequested, UsageCommitted
from bus.topics import STORE_HEARTBEAT
from services.collector.adapter_set import build_adapters
from services.collector.live.poller import LivePoller
from services.collector.live.source_set import build_live_sources
from services.collector.price_child import resolve_in_child_or_here
from services.collector.price_keeping import PriceKeeper, PriceStamp
from services.collector.reading import Collector
from services.runtime.installation import Runtime
from services.runtime.runner import Batch, Node, run_service

PRICE_CHECK_SECONDS = 5.0
LIVE_WAIT_SECONDS = 0.02
"""While a live poll runs in its thread, look for its result this often."""
PENDING_WAIT_SECONDS = 0.1
"""While batches await their commit, check this often whether one is due for a re-send."""
IDLE_WAIT_SECONDS = PRICE_CHECK_SECONDS
"""Nothing in flight: messages wake the loop at once, so the wait only paces the timed work
(price checks, counters), and an idle collector wakes about once in five seconds."""


class CollectorService:
    """Reads what is new on each refresh request, polls live limits, keeps prices current, and
    re-sends each observation until its commit comes back."""

    name = "collector"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.reading = Collector(runtime, build_adapters(runtime))
        # Prices are worked out in a child: genai-prices' ~24 MB never stays in the collector.
        self.prices = PriceKeeper(runtime.config.pricing.overrides, resolve_in_child_or_here)
        self.stamp = PriceStamp(runtime.run, runtime.config.pricing.overrides)
        self.store = StoreWatch()
        self.live = LivePoller(build_live_sources(runtime), runtime.config.limits, runtime.state)
        self.next_price_check = 0.0
        self.spool_check = False
        self.ingest = IngestProgress()
        self.live_waiting: set[str] = set()
        """Providers whose scheduled live poll came while reading catches up: polled once it has,
        so a cold start's first scan does not share the core with HTTP clients, TLS set-up and
        credential reads (a poll's answer is minutes fresh either way)."""

    def start(self, node: Node) -> Mapping[str, object]:
        """Resume from the committed cursors and ask for a first full read."""
        self.node = node
        node.subscribe(("cmd.refresh.", "evt.usage.", "evt.limits.", STORE_HEARTBEAT))
        self.reading.resume()
        self.reading.request()
        self.ingest.note_requested(self.reading)
        self.live.restore(self.reading.db())
        roots = {p: [str(r) for r in rs] for p, rs in self.runtime.roots.items()}
        return {"roots": roots, "demo": self.runtime.demo, "live": sorted(self.live.sources)}

    # -- in ------------------------------------------------------------------------------------

    def handle(self, batch: Batch) -> None:
        """Refresh requests start reading or polling; commits settle what was in flight."""
        for _topic, message in batch:
            if isinstance(message, RefreshRequested):
                self._on_refresh(message)
            elif isinstance(message, UsageCommitted):
                # Another machine reading the same path commits the same batch ids.
                if message.machine in ("", self.reading.machine.id):
                    self.reading.tracker.committed(message.batch_id)
            elif isinstance(message, LimitsCommitted):
                self.live.committed(message.observation_id)
            elif isinstance(message, Heartbeat) and message.process == "store":
                silent = self.store.was_silent()
                if self.store.restarted(message):
                    self._on_new_store()
                    self._on_hub_back()
                elif silent:
                    self.reading.tracker.expire_all()
                    self._on_hub_back()

    def _on_refresh(self, message: RefreshRequested) -> None:
        self.reading.request(message.provider, message.paths)
        self.ingest.note_requested(self.reading)
        if message.live:
            manual = message.reason == "manual"
            if self.reading.dirty and not manual:
                self.live_waiting.add(message.provider)
            else:
                self.live.request(message.provider, manual=manual)
        self.spool_check = self.spool_check or message.provider == "claude"
        self.node.pulse.counters[f"refresh_{message.reason}"] += 1

    def _on_new_store(self) -> None:
        # A new store (or the first one we see) cannot know what we sent before it listened:
        # settle everything in flight now rather than after a timeout.
        self.reading.tracker.expire_all()
        for observation in self.live.resend_all():
            self.node.publish(observation)

    def _on_hub_back(self) -> None:
        # On an agent the watcher's refreshes go through the hub too: those sent while it was
        # away are lost, so every file is looked at again (only bytes past its cursor are read).
        if self.reading.hub is not None:
            self.reading.request()
            self.ingest.note_requested(self.reading)
            self.node.pulse.counters["hub_returned"] += 1

    # -- work and out --------------------------------------------------------------------------

    def step(self) -> float:
        """Publish what is ready; the seconds it may wait for messages before working again."""
        if self.store.seen:
            # Publishing before the store listens would only feed PUB/SUB's void.
            self._publish_limits()
            self._publish_usage()
            if not self.reading.dirty:
                # Pricing loads genai-prices (~0.2 s): do it when reading has caught up.
                self._keep_prices()
        if not self.reading.dirty:
            self._start_waiting_polls()
        self._report_counters()
        busy = self.store.seen and self.reading.dirty and not self.reading.tracker.full
        if busy:
            return 0.0
        if self.live.busy:
            return LIVE_WAIT_SECONDS
        return PENDING_WAIT_SECONDS if self.reading.tracker.pending else IDLE_WAIT_SECONDS

    def _start_waiting_polls(self) -> None:
        waiting, self.live_waiting = self.live_waiting, set()
        for provider in sorted(waiting):
            self.live.request(provider, manual=False)

    def _publish_limits(self) -> None:
        observations = [*self.live.completed(), *self.live.resends()]
        if self.spool_check:
            observations.extend(self.live.spooled())
            self.spool_check = False
        for observation in observations:
            self.node.publish(observation)
            self.node.pulse.counters["limits_sent"] += 1

    def _publish_usage(self) -> None:
        counters = self.node.pulse.counters
        for batch in self.reading.next_batches():
            self.node.publish(batch)
            counters["batches_sent"] += 1
            counters["records_sent"] += len(batch.records)
            self.ingest.records += len(batch.records)
            self.prices.note(batch.records)
        for batch in self.reading.resends():
            self.node.publish(batch)
            counters["batches_resent"] += 1

    def _keep_prices(self) -> None:
        counters = self.node.pulse.counters
        for observed in self.prices.flush():
            self.node.publish(observed)
            counters["prices_sent"] += 1
        if time.monotonic() < self.next_price_check:
            return
        drift = self.prices.drift(self.reading.db())
        for observed in drift:
            self.node.publish(observed)
            counters["prices_sent"] += 1
        if not drift and self.reading.db() is not None:
            self.stamp.mark_current()
        self.next_price_check = time.monotonic() + PRICE_CHECK_SECONDS

    def _report_counters(self) -> None:
        pulse = self.node.pulse
        for problem, count in self.reading.problems.items():
            pulse.counters[problem] = count
        for name, count in self.live.counters.items():
            pulse.counters[name] = count  # totals, not increments (Counter.update adds)
        pulse.detail["live_running"] = ",".join(self.live.running)
        pulse.counters["in_flight"] = len(self.reading.tracker.pending)
        if self.reading.hub is not None:
            # An agent: how often the hub did not answer a request for the committed cursors.
            pulse.counters["hub_unanswered"] = self.reading.hub.unanswered
        if pulse.due_in() == 0:
            # Only when a beat goes out: the figures cost a look at every file of the run.
            for name, value in self.ingest.figures(self.reading).items():
                pulse.counters[name] = value  # totals, not increments (Counter.update adds)

    def stop(self) -> Mapping[str, object]:
        """Stop the live polls' threads."""
        self.live.close()
        return {"in_flight": len(self.reading.tracker.pending)}


def run(runtime: Runtime) -> None:
    """Serve refresh requests until SIGTERM."""
    run_service(CollectorService(runtime), runtime)


@dataclass
class IngestProgress:
    """How far the current ingest has got, for ``otm up``'s progress bar (heartbeat counters).

    An ingest runs from the moment reading has new bytes to read until every file of it has
    been read and every batch committed; the first one after start is the catch-up. Files
    with nothing new (a full rescan marks every file) are not part of it.
    """

    run: int = 0
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Every file of the run: (the offset reading started from, the size to read up to)."""
    records: int = 0
    active: bool = False

    def note_requested(self, reading: Collector) -> None:
        """Add the files just marked for reading that have bytes to read."""
        fresh = {}
        for path in reading.dirty:
            if path not in self.files or not self.active:
                span = _unread_span(path, reading.tracker.position(path))
                if span is not None:
                    fresh[path] = span
        if not fresh:
            return
        if not self.active:
            self.run, self.files, self.records, self.active = self.run + 1, {}, 0, True
        self.files.update(fresh)

    def figures(self, reading: Collector) -> dict[str, int]:
        """The heartbeat counters: files, bytes and records of the run, read and in total."""
        done, read, size = 0, 0, 0
        for path, (start, end) in self.files.items():
            size += end - start
            if path not in reading.dirty:
                done, read = done + 1, read + end - start
                continue
            position = reading.tracker.position(path)
            offset = start if position is None else position.offset
            read += min(max(offset - start, 0), end - start)
        if self.active and done == len(self.files) and not reading.tracker.pending:
            self.active = False
        return {
            "ingest_run": self.run,
            "ingest_files": len(self.files),
            "ingest_files_done": done,
            "ingest_bytes": size,
            "ingest_bytes_read": read,
            "ingest_records": self.records,
            "ingest_active": int(self.active),
        }


def _unread_span(path: str, cursor: FileCursor | None) -> tuple[int, int] | None:
    """(from, to) of the bytes of ``path`` not yet read, or None if there are none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    start = 0
    if cursor is not None and (cursor.dev, cursor.ino) == (st.st_dev, st.st_ino):
        start = cursor.offset if cursor.offset <= st.st_size else 0
    return (start, st.st_size) if st.st_size > start else None


STORE_SILENCE_SECONDS = 15.0
"""Three idle heartbeats of the store missed: the link to it (an agent's hub) was down."""


class StoreWatch:
    """Which store process we last heard from, to notice the first one and any restart."""

    def __init__(self) -> None:
        self.identity: tuple[int, float] | None = None
        self.last_beat: float | None = None

    def was_silent(self) -> bool:
        """Called at each store heartbeat: whether none had come for ``STORE_SILENCE_SECONDS``
        (a hub that was unreachable), noting this one."""
        now = time.monotonic()
        silent = self.last_beat is not None and now - self.last_beat > STORE_SILENCE_SECONDS
        self.last_beat = now
        return silent

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
