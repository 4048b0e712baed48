"""The ``/metrics`` collector's families, read from a real SQLite store (no api process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.registry import CollectorRegistry

from bus.messages import (
    AlertObserved,
    LimitsObserved,
    LimitWindow,
    PriceObserved,
    SkipCounts,
)
from services.queries.metrics import StoreCollector
from services.queries.reports.build import ReportOptions, build_report
from services.runtime.installation import Runtime, load_runtime
from services.store.database import connect_reader, connect_writer
from services.store.writer import Store
from tests.helpers import SONNET_4_5, T0, alert, batch, record

DESK = "d" * 32
RESETS_AT = 1_780_000_000.0


@pytest.fixture
def runtime(state: Path) -> Runtime:
    """A store holding priced Claude usage of this machine (``laptop``) and of ``desk``, a
    five-hour window at 42 %, two malformed lines and one alert."""
    (state / "config.toml").write_text('[machine]\nname = "laptop"\n')
    runtime = load_runtime()
    conn = connect_writer(str(runtime.db_path))
    here = runtime.machine.id
    Store(conn).apply(
        [
            PriceObserved(
                provider="claude", model="claude-sonnet-4-5", source="t", price=SONNET_4_5
            ),
            batch(
                [record("a", input=100, output=20, cache_write_5m=300, cache_read=4000)],
                None,
                10,
                machine=here,
                skipped=SkipCounts(malformed_json=2),
            ),
            batch(
                [record("b", ts_ms=T0 + 86_400_000, input=7, cache_write_1h=50)],
                None,
                10,
                source="/d.jsonl",
                machine=DESK,
                machine_name="desk",
            ),
            LimitsObserved(
                observation_id="o1",
                provider="claude",
                source="live",
                observed_at=1_779_990_000.0,
                windows=(
                    LimitWindow(
                        provider="claude",
                        window="five_hour",
                        used_percent=42.0,
                        observed_at=1_779_990_000.0,
                        source="live",
                        resets_at=RESETS_AT,
                    ),
                ),
            ),
            AlertObserved(alert=alert()),
        ]
    )
    conn.close()
    return runtime


@pytest.fixture
def registry(runtime: Runtime) -> CollectorRegistry:
    """A registry holding only the store's collector, its stream still at seq 0."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(runtime, stream_seq=lambda: 0))
    return registry


def _daily(runtime: Runtime) -> dict[str, object]:
    """``otm report daily --json`` over every provider, in UTC."""
    conn = connect_reader(str(runtime.db_path))
    try:
        return build_report(conn, "daily", ReportOptions(provider="claude", tz="UTC"))
    finally:
        conn.close()


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_tokens_by_kind_summed_over_machines_equal_the_daily_report(
    runtime: Runtime, registry: CollectorRegistry
) -> None:
    """Each kind's counter, summed over both machines, is the daily report's total of it."""
    totals = _daily(runtime)["totals"]
    assert isinstance(totals, dict)
    expected = [
        totals["inputTokens"],
        totals["outputTokens"],
        totals["cacheCreationTokens"],
        totals["cacheReadTokens"],
    ]
    got = [
        sum(
            _value(
                registry,
                "otm_tokens_total",
                provider="claude",
                model="claude-sonnet-4-5",
                kind=kind,
                machine=machine,
            )
            or 0
            for machine in ("laptop", "desk")
        )
        for kind in ("input", "output", "cache_write", "cache_read")
    ]
    assert expected == got


def test_tokens_are_labelled_by_the_machine_that_read_them(registry: CollectorRegistry) -> None:
    """``desk``'s input is its own record's 7 tokens, the laptop's its 100."""
    labels = {"provider": "claude", "model": "claude-sonnet-4-5", "kind": "input"}
    got = [_value(registry, "otm_tokens_total", machine=m, **labels) for m in ("laptop", "desk")]
    assert [100.0, 7.0] == got


def test_cost_summed_over_machines_equals_the_daily_report(
    runtime: Runtime, registry: CollectorRegistry
) -> None:
    """The dollar counters add up to the daily report's ``totalCost``."""
    totals = _daily(runtime)["totals"]
    assert isinstance(totals, dict)
    labels = {"provider": "claude", "model": "claude-sonnet-4-5"}
    got = sum(
        _value(registry, "otm_cost_usd_total", machine=m, **labels) or 0.0
        for m in ("laptop", "desk")
    )
    assert totals["totalCost"] == pytest.approx(got, rel=1e-12)


def test_limit_window_used_ratio_is_the_percent_over_100(registry: CollectorRegistry) -> None:
    """A window at 42 % is a ratio of 0.42."""
    labels = {"provider": "claude", "window": "five_hour"}
    assert 0.42 == _value(registry, "otm_limit_used_ratio", **labels)


def test_a_live_window_is_not_marked_estimated(registry: CollectorRegistry) -> None:
    """The provider's own (live) numbers give ``otm_limit_estimated`` 0."""
    labels = {"provider": "claude", "window": "five_hour"}
    assert 0.0 == _value(registry, "otm_limit_estimated", **labels)


def test_limit_window_reset_time_is_unix_seconds(registry: CollectorRegistry) -> None:
    """The reset gauge is the window's ``resets_at``."""
    labels = {"provider": "claude", "window": "five_hour"}
    assert RESETS_AT == _value(registry, "otm_limit_resets_at_seconds", **labels)


def test_skipped_lines_are_counted_by_provider_and_reason(registry: CollectorRegistry) -> None:
    """Two malformed lines show as 2 under ``malformed_json``."""
    labels = {"provider": "claude", "reason": "malformed_json"}
    assert 2.0 == _value(registry, "otm_skipped_lines_total", **labels)


def test_committed_alerts_are_counted_by_rule(registry: CollectorRegistry) -> None:
    """The one threshold alert committed counts 1."""
    labels = {"provider": "claude", "rule": "threshold"}
    assert 1.0 == _value(registry, "otm_alerts_raised_total", **labels)


def test_provider_state_marks_exactly_one_state_per_provider(
    registry: CollectorRegistry,
) -> None:
    """Every provider has one state at 1 and the other two at 0."""
    sums = [
        sum(
            _value(registry, "otm_provider_state", provider=p, state=s) or 0.0
            for s in ("available", "partial", "unavailable")
        )
        for p in ("claude", "codex", "gemini")
    ]
    assert [1.0, 1.0, 1.0] == sums


def test_provider_state_is_the_one_otm_status_shows(
    runtime: Runtime, registry: CollectorRegistry
) -> None:
    """Claude has windows but no fresh live check: ``partial``, as ``otm status`` says."""
    from services.queries.status import collect_status

    shown = collect_status(runtime)["providers"]["claude"]["state"]
    assert (
        "partial",
        1.0,
    ) == (shown, _value(registry, "otm_provider_state", provider="claude", state=shown))


def test_head_seq_and_stream_lag_come_from_the_log(
    runtime: Runtime, registry: CollectorRegistry
) -> None:
    """Head seq is the log's last seq; a stream at 0 lags by all of it."""
    conn = connect_reader(str(runtime.db_path))
    (head,) = conn.execute("SELECT max(seq) FROM events").fetchone()
    conn.close()
    got = (_value(registry, "otm_head_seq"), _value(registry, "otm_stream_lag_events"))
    assert (float(head), float(head)) == got


def test_a_missing_database_still_answers_with_readable_zero(state: Path) -> None:
    """Before the store made its database the scrape works and says it could not read it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(load_runtime()))
    got = (
        _value(registry, "otm_database_readable"),
        _value(
            registry,
            "otm_tokens_total",
            provider="claude",
            model="x",
            kind="input",
            machine="laptop",
        ),
    )
    assert (0.0, None) == got


@pytest.fixture
def delivered(runtime: Runtime) -> Runtime:
    """The notifier's database: the alert delivered on ``desktop``, failed on ``apprise``."""
    import sqlite3

    from services.notifier.state import DELIVERED, FAILED, PENDING, NotifierDatabase

    conn = sqlite3.connect(runtime.notifier_db_path, isolation_level=None)
    db = NotifierDatabase(conn)
    sent = alert()
    with db.transaction():
        db.committed(sent, 5, ["apprise", "desktop"], PENDING)
        db.record(sent.key, "desktop", DELIVERED, "shown", delivered_at=1_700_000_001.0)
        db.record(sent.key, "apprise", FAILED, "refused", fix="check the URL")
    conn.close()
    return runtime


def test_alerts_sent_and_failed_are_counted_by_channel(delivered: Runtime) -> None:
    """One delivery reached ``desktop``, one ``apprise`` refused: sent 1/0, failed 0/1."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(delivered))
    got = [
        _value(registry, f"otm_alerts_{outcome}_total", channel=channel)
        for outcome in ("sent", "failed")
        for channel in ("desktop", "apprise")
    ]
    assert [1.0, 0.0, 0.0, 1.0] == got
