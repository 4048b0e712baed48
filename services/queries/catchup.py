"""Bringing the store up to date in this process, for one-shot commands run without the stack.

It runs the same adapter, the same ``Store.apply`` and the same price keeping as the stack, only
without sockets: a report made this way equals one made while the stack runs.

``catch_up_if_changed`` first asks ``catchup_snapshot`` whether anything changed since the last
catch-up; when nothing did it returns at once. The adapters, the store's writer and msgspec are
imported only when there is something to read (together some 100 ms of a one-shot command).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bus.lock import ProcessLock
from services.queries import catchup_snapshot as snapshots

if TYPE_CHECKING:
    from services.collector.price_keeping import PriceKeeper
    from services.runtime.installation import Runtime
    from services.store.writer import Store


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up did."""

    batches: int
    records: int
    head_seq: int
    live_polled: tuple[str, ...] = ()


Progress = Callable[[CatchUp], None]
"""Called after each transaction of a catch-up with the totals so far (``otm store recover``)."""


def catch_up(
    runtime: Runtime, live: tuple[str, ...] = (), progress: Progress | None = None
) -> CatchUp:
    """Read everything new into the database, with the observations ``otm statusline`` left in
    the spool; also ask the live limits endpoints of the providers in ``live`` (through the same
    polling gate as the stack). Raises ``AlreadyRunning`` if the store runs, and the
    ``sqlite3.Error`` of a damaged database or a full disk (``services.store.trouble`` names
    them)."""
    with ProcessLock(runtime.lock_path("store")):
        return catch_up_locked(runtime, live, progress)


def catch_up_if_changed(runtime: Runtime) -> CatchUp | None:
    """``catch_up``, unless the snapshot of the last one shows nothing changed since (then
    ``None``, having read nothing). Raises as ``catch_up`` does."""
    state = str(runtime.state)
    roots = report_roots(runtime)
    saved = snapshots.load(state)
    try:
        if saved is not None and _nothing_changed(saved, runtime, roots):
            return None
        extra = price_inputs()
        taken_at, scan, newest, listed = snapshots.look(
            roots, state, extra, None if saved is None else snapshots.saved_listings(saved)
        )
    finally:
        snapshots.forget_looks()
    with ProcessLock(runtime.lock_path("store")):
        done = catch_up_locked(runtime)
    quiet = snapshots.settled(newest, taken_at)
    save_snapshot(
        runtime, roots, extra, scan if quiet else None, done.head_seq, listed if quiet else None
    )
    return done


def report_roots(runtime: Runtime) -> list[str]:
    """Every provider's roots, as the snapshot lists them."""
    return [str(root) for roots in runtime.roots.values() for root in roots]


def save_snapshot(
    runtime: Runtime,
    roots: list[str],
    extra: list[str],
    scan: snapshots.Scan | None,
    head: int | None,
    listings: snapshots.Listings | None = None,
) -> None:
    """Record where this runtime keeps everything and, with ``scan``, what the catch-up that
    committed up to ``head`` had seen (``None``: nothing a later command may skip on), with
    the directories' ``listings`` that scan made (for the next scan to list only the changed)."""
    state = str(runtime.state)
    db = str(runtime.db_path)
    snapshots.save(
        state,
        {
            "key": snapshots.place_key(state),
            "place": {"db": db, "lock": str(runtime.lock_path("store")), "demo": runtime.demo},
            "roots": roots,
            "extra": extra,
            "inputs": scan,
            "db": snapshots.identity(db),
            "head": head,
            "listings": listings,
        },
    )


def price_inputs() -> list[str]:
    """What committed prices depend on besides the config: the installed genai-prices (its
    dist-info folder, and the folder holding it, which any install or upgrade changes) and the
    resolution rules' source."""
    import importlib.util

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = [os.path.join(here, "collector", "price_resolution.py")]
    spec = importlib.util.find_spec("genai_prices")
    if spec is not None and spec.origin is not None:
        site = os.path.dirname(os.path.dirname(spec.origin))
        out.append(site)
        out += sorted(
            os.path.join(site, name)
            for name in os.listdir(site)
            if name.startswith("genai_prices-") and name.endswith(".dist-info")
        )
    return out


def _nothing_changed(saved: dict[str, object], runtime: Runtime, roots: list[str]) -> bool:
    state = str(runtime.state)
    place = saved.get("place")
    if (
        saved.get("key") != snapshots.place_key(state)
        or saved.get("roots") != roots
        or not isinstance(place, dict)
        or place.get("db") != str(runtime.db_path)
        or not snapshots.unchanged_inputs(saved, state)
    ):
        return False
    try:
        conn = sqlite3.connect(f"file:{runtime.db_path}?mode=ro", uri=True)
        try:
            return snapshots.head_of(conn) == saved.get("head")
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def catch_up_locked(
    runtime: Runtime, live: tuple[str, ...] = (), progress: Progress | None = None
) -> CatchUp:
    """``catch_up`` for a caller that already holds the store's lock."""
    from services.runtime.spool import read_observations
    from services.store.database import connect_writer
    from services.store.writer import Store

    store = Store(connect_writer(str(runtime.db_path)))
    try:
        done = _ingest(runtime, store, progress)
        spooled, _problems = read_observations(runtime.state)
        if spooled:
            store.apply(list(spooled))
        polled = _poll_live(runtime, store, live) if live else ()
        return CatchUp(done.batches, done.records, store.head, polled)
    finally:
        store.conn.close()


def _poll_live(runtime: Runtime, store: Store, providers: tuple[str, ...]) -> tuple[str, ...]:
    """One manual poll of each of ``providers`` the gate allows, committed in-process."""
    import time

    from bus.messages import LimitsObserved
    from services.collector.live.poller import LivePoller
    from services.collector.live.source_set import build_live_sources

    poller = LivePoller(build_live_sources(runtime), runtime.config.limits, runtime.state)
    poller.restore(store.conn)
    started = [p for name in providers for p in poller.request(name, manual=True)]
    # Each source bounds every request; a provider makes at most three (Gemini).
    deadline = time.monotonic() + 3 * runtime.config.limits.timeout_seconds + 5
    observations: list[LimitsObserved] = []
    while time.monotonic() < deadline:
        observations.extend(poller.completed())
        if not poller.busy:
            break
        time.sleep(0.02)
    poller.close()
    if observations:
        store.apply(list(observations))
    return tuple(started)


def _ingest(runtime: Runtime, store: Store, progress: Progress | None = None) -> CatchUp:
    from bus.messages import Message, UsageBatch
    from services.collector.adapter_set import build_adapters
    from services.collector.reading import Collector

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
            keeper = _price_keeper(runtime, store)
        for batch in found:
            messages.extend(keeper.new_models(batch.records))
        store.apply(messages)
        for batch in found:
            collector.tracker.committed(batch.batch_id)
        batches += len(found)
        records += sum(len(b.records) for b in found if isinstance(b, UsageBatch))
        if progress is not None:
            progress(CatchUp(batches=batches, records=records, head_seq=store.head))
    _repair_prices(runtime, store)
    return CatchUp(batches=batches, records=records, head_seq=store.head)


def _price_keeper(runtime: Runtime, store: Store | None = None) -> PriceKeeper:
    """A keeper of this runtime's prices; given ``store`` while its committed prices are
    current (the stamp says so), it prices only models the store has no price for: new data
    of known models then costs no look into genai-prices (~0.3 s to load)."""
    # Imported here: resolving prices loads genai-prices, which a warm report skips.
    from services.collector.price_keeping import PriceKeeper, PriceStamp

    keeper = PriceKeeper(runtime.config.pricing.overrides)
    overrides = runtime.config.pricing.overrides
    if store is not None and PriceStamp(runtime.run, overrides, log=False).current:
        keeper.known(store.conn)
    return keeper


def _repair_prices(runtime: Runtime, store: Store) -> None:
    """Re-check committed prices only when the overrides or genai-prices changed."""
    from services.collector.price_keeping import PriceStamp

    stamp = PriceStamp(runtime.run, runtime.config.pricing.overrides, log=False)
    if stamp.current:
        return
    drift = _price_keeper(runtime).drift(store.conn)
    if drift:
        store.apply(list(drift))
    stamp.mark_current()
