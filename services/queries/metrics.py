"""``GET /metrics``: the store's projections as Prometheus metric families, read at scrape time.

``StoreCollector`` is a prometheus_client collector: every scrape reads the database (read-only)
and ``otm status`` once and yields fresh families, so nothing is kept or counted in the api
process itself. Token and dollar counters come from ``usage_by_slot`` summed over all time per
provider, model (as reports name it: ``<model>-fast`` for fast mode), machine (its readable
name, as reports show it) and kind, priced exactly as ``otm report`` prices them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bus.messages import LimitWindow
from services.queries.costs import pusd_to_usd
from services.queries.reports.common import Group, Pricer
from services.queries.reports.machines import ID_PREFIX
from services.runtime.installation import Runtime
from services.runtime.machine import Machine
from services.store.database import connect_reader
from services.store.machines import store_machine

KINDS = ("input", "output", "cache_write", "cache_read")
"""The ``kind`` label of ``otm_tokens_total``: the four token counts every report shows."""
PROVIDER_STATES = ("available", "partial", "unavailable")
"""The states ``otm status`` gives a provider (``services.queries.providers``)."""
ESTIMATED = "estimated"
"""``LimitWindow.source`` of numbers guessed from the logs rather than the provider's own."""
DELIVERED = "delivered"
"""The notifier's state of a delivery that reached its channel."""

_window_decoder = msgspec.msgpack.Decoder(LimitWindow)


class UsageTotal(msgspec.Struct, frozen=True):
    """All-time tokens by kind and dollars of one provider, model and machine."""

    provider: str
    model: str
    machine: str
    tokens: dict[str, int]
    cost_usd: float


def usage_totals(conn: sqlite3.Connection, local: Machine | None = None) -> list[UsageTotal]:
    """Tokens by kind and dollars per provider, model label and machine name, over all time;
    each (provider, model, speed, tier, machine) group is priced as the reports price it.
    ``local`` (this machine) names its own records when the store knows no name for them."""
    names = _machine_names(conn, local)
    rows = conn.execute(
        "SELECT provider, model, fast, long_context, machine, sum(input), sum(output),"
        " sum(cache_write_5m), sum(cache_write_1h), sum(cache_read), sum(reasoning),"
        " sum(total), sum(web_searches) FROM usage_by_slot"
        " GROUP BY provider, model, fast, long_context, machine"
    ).fetchall()
    pricer = Pricer.load(conn, sorted({row[0] for row in rows}))
    sums: dict[tuple[str, str, str], list[int]] = {}
    for provider, model, fast, long_context, machine, *counts in rows:
        group = Group(provider, model, fast, long_context, *counts)
        priced = pricer.sums(group)
        key = (provider, group.label, names.get(machine) or machine[:ID_PREFIX])
        entry = sums.setdefault(key, [0, 0, 0, 0, 0])
        entry[0] += priced.input
        entry[1] += priced.output
        entry[2] += priced.cache_creation
        entry[3] += priced.cache_read
        entry[4] += priced.cost_pusd
    return [
        UsageTotal(
            provider=provider,
            model=model,
            machine=machine,
            tokens=dict(zip(KINDS, entry[:4], strict=True)),
            cost_usd=pusd_to_usd(entry[4]),
        )
        for (provider, model, machine), entry in sorted(sums.items())
    ]


def _machine_names(conn: sqlite3.Connection, local: Machine | None) -> dict[str, str]:
    """Machine id → readable name, as reports show it: the name the machine gave, else the
    XX
        first digits."""
    names = {str(i): str(n) for i, n in conn.execute("SELECT id, name FROM machines")}
    own = store_machine(conn)
    for machine in (local, own):
        if machine is not None and machine.name and not names.get(machine.id):
            names[machine.id] = machine.name
    names.setdefault("", names.get(own.id, ""))
    return names


def limit_windows(conn: sqlite3.Connection) -> list[LimitWindow]:
    """Every committed rate-limit window, by provider and window name."""
    blobs = conn.execute("SELECT observation FROM limits ORDER BY provider, window_name")
    return [_window_decoder.decode(blob) for (blob,) in blobs]


def skipped_lines(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """``(provider, reason, count)`` of every input line skipped, over all sources."""
    rows = conn.execute(
        "SELECT provider, reason, sum(count) FROM skips GROUP BY provider, reason"
        " ORDER BY provider, reason"
    )
    return [(str(p), str(r), int(c)) for p, r, c in rows]


def alerts_raised(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """``(provider, rule, count)`` of the alerts committed to the log."""
    rows = conn.execute(
        "SELECT provider, rule, count(*) FROM alerts GROUP BY provider, rule ORDER BY 1, 2"
    )
    return [(str(p), str(r), int(c)) for p, r, c in rows]


def store_families(
    conn: sqlite3.Connection, now: float, local: Machine | None = None
) -> Iterator[Metric]:
    """Usage, limit windows, skips, alerts raised and the head seq, from one database."""
    tokens = CounterMetricFamily(
        "otm_tokens",
        "Tokens counted from the AI coding CLIs' logs since the first record, by provider, "
        "model, machine that read them and kind (input: non-cached input; output; "
        "cache_write: prompt-cache writes; cache_read: prompt-cache reads); "
        "the same numbers as `otm report`.",
        labels=("provider", "model", "kind", "machine"),
    )
    cost = CounterMetricFamily(
        "otm_cost_usd",
        "US dollars those tokens cost at the API's list prices (as ccusage prices them), since "
        "the first record; models without a known price count 0 (see otm status).",
        labels=("provider", "model", "machine"),
    )
    for total in usage_totals(conn, local):
        for kind in KINDS:
            tokens.add_metric(
                [total.provider, total.model, kind, total.machine], total.tokens[kind]
            )
        cost.add_metric([total.provider, total.model, total.machine], total.cost_usd)
    yield tokens
    yield cost
    yield from _window_families(limit_windows(conn), now)
    skipped = CounterMetricFamily(
        "otm_skipped_lines",
        "Lines of the CLIs' logs that were not counted (malformed, not usage, ...), by "
        "provider and reason; otm status lists them too.",
        labels=("provider", "reason"),
    )
    for provider, reason, count in skipped_lines(conn):
        skipped.add_metric([provider, reason], count)
    yield skipped
    raised = CounterMetricFamily(
        "otm_alerts_raised",
        "Alerts the notifier decided on and committed to the event log, by provider and rule "
        "(threshold, pace, budget, reset, trouble, ...).",
        labels=("provider", "rule"),
    )
    for provider, rule, count in alerts_raised(conn):
        raised.add_metric([provider, rule], count)
    yield raised


def _window_families(windows: list[LimitWindow], now: float) -> Iterator[Metric]:
    used = GaugeMetricFamily(
        "otm_limit_used_ratio",
        "How much of a provider's rate-limit window is used, 0 to 1 (above 1: over the limit), "
        "as last reported (see otm_limit_estimated for where the number came from).",
        labels=("provider", "window"),
    )
    estimated = GaugeMetricFamily(
        "otm_limit_estimated",
        "1 when the window's numbers are estimated from the logs, 0 when they are the "
        "provider's own (its live endpoint, or its numbers found in its local logs).",
        labels=("provider", "window"),
    )
    resets = GaugeMetricFamily(
        "otm_limit_resets_at_seconds",
        "When a rate-limit window resets, as unix time in seconds (absent when the provider "
        "does not say).",
        labels=("provider", "window"),
    )
    age = GaugeMetricFamily(
        "otm_limit_observed_age_seconds",
        "Seconds since the window's numbers were observed: a large value means they may be out "
        "of date.",
        labels=("provider", "window"),
    )
    for window in windows:
        labels = [window.provider, window.window]
        used.add_metric(labels, window.used_percent / 100)
        estimated.add_metric(labels, 1.0 if window.source == ESTIMATED else 0.0)
        if window.resets_at is not None:
            resets.add_metric(labels, window.resets_at)
        age.add_metric(labels, max(0.0, now - window.observed_at))
    yield used
    yield estimated
    yield resets
    yield age


def status_families(status: dict[str, Any], stream_seq: int | None, now: float) -> Iterator[Metric]:
    """Provider states, processes, head seq, lag and alert deliveries from ``otm status``."""
    state = GaugeMetricFamily(
        "otm_provider_state",
        "A provider's state as otm status shows it: 1 for the current state, 0 for the others "
        "(available: live limits answer; partial: usage counted from logs but live limits not "
        "working now; unavailable: neither).",
        labels=("provider", "state"),
    )
    for provider, entry in status.get("providers", {}).items():
        for name in PROVIDER_STATES:
            state.add_metric([provider, name], 1.0 if entry["state"] == name else 0.0)
    yield state
    head = int(status.get("headSeq", 0))
    yield GaugeMetricFamily(
        "otm_head_seq",
        "The sequence number of the last event the store committed to its log (0: none yet).",
        value=head,
    )
    if stream_seq is not None:
        yield GaugeMetricFamily(
            "otm_stream_lag_events",
            "Events the store has committed that the api's live stream (/v1/stream, the "
            "dashboard) has not passed on yet: head seq minus the stream's position. Stays "
            "near 0 in a healthy stack.",
            value=max(0, head - stream_seq),
        )
    up = GaugeMetricFamily(
        "otm_process_up",
        "1 when the process of this machine's stack sent a heartbeat within the last few "
        "seconds, else 0.",
        labels=("process",),
    )
    heard = GaugeMetricFamily(
        "otm_process_heartbeat_age_seconds",
        "Seconds since the store last heard a heartbeat of the process (one a second when "
        "running).",
        labels=("process",),
    )
    for process in status.get("processes", []):
        up.add_metric([process["process"]], 1.0 if process["alive"] else 0.0)
        heard.add_metric([process["process"]], float(process["lastSeenSecondsAgo"]))
    yield up
    yield heard
    yield from _delivery_families(status.get("alertChannels", []))


def _delivery_families(channels: Iterable[dict[str, Any]]) -> Iterator[Metric]:
    sent = CounterMetricFamily(
        "otm_alerts_sent",
        "Alert notifications delivered, by channel (desktop, apprise, command).",
        labels=("channel",),
    )
    failed = CounterMetricFamily(
        "otm_alerts_failed",
        "Alert notifications a channel finally refused (after its retries), by channel.",
        labels=("channel",),
    )
    for channel in channels:
        deliveries = channel["deliveries"]
        sent.add_metric([channel["channel"]], deliveries.get(DELIVERED, 0))
        failed.add_metric([channel["channel"]], deliveries.get("failed", 0))
    yield sent
    yield failed


class StoreCollector(Collector):
    """A prometheus_client collector reading the store at every scrape; ``stream_seq`` (the
    api's live-stream position) makes ``otm_stream_lag_events``."""

    def __init__(self, runtime: Runtime, stream_seq: Callable[[], int] | None = None) -> None:
        self.runtime = runtime
        self.stream_seq = stream_seq

    def collect(self) -> Iterator[Metric]:
        """Every family, read now; before the database exists only the status families."""
        from services.queries.status import collect_status

        now = time.time()
        status: dict[str, Any] = dict(collect_status(self.runtime))
        families: list[Metric] = []
        readable = 0.0
        if self.runtime.db_path.exists():
            try:
                conn = connect_reader(str(self.runtime.db_path))
                try:
                    families.extend(store_families(conn, now, self.runtime.machine))
                    readable = 1.0
                finally:
                    conn.close()
            except sqlite3.Error:
                # Created but not yet migrated, or damaged (otm status says which): the scrape
                # still answers, with otm_database_readable 0.
                families.clear()
        families.append(
            GaugeMetricFamily(
                "otm_database_readable",
                "1 when the store's database could be read for this scrape, else 0 (not made "
                "yet, being migrated, or damaged: see otm status).",
                value=readable,
            )
        )
        position = None if self.stream_seq is None else self.stream_seq()
        families.extend(status_families(status, position, now))
        return iter(families)
