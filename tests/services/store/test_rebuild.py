"""``otm store rebuild``: replaying the log gives the very same projections (DESIGN.md inv. 3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from bus.messages import (
    Alert,
    AlertObserved,
    AuthInfo,
    CreditBalance,
    LimitsObserved,
    LimitWindow,
    LiveStatus,
    ModelPrice,
    PriceObserved,
    Prompt,
    SkipCounts,
)
from services.store import log
from services.store.database import rebuild
from services.store.schema import PROJECTION_TABLES, SLOT_MS
from services.store.writer import Store
from tests.helpers import T0, batch, record

PRICE = ModelPrice(
    input="3", output="15", cache_write_5m="3.75", cache_write_1h="6", cache_read="0.3"
)
OTHER = "/logs/project/other.jsonl"


def snapshot(db: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every projection table's rows, ordered by every column."""
    out = {}
    for table in PROJECTION_TABLES:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        out[table] = db.execute(f"SELECT * FROM {table} ORDER BY {', '.join(columns)}").fetchall()
    return out


def history(db: sqlite3.Connection) -> None:
    """A log with new keys, replacements across slots and groups, duplicates, skips and prices."""
    store = Store(db)
    observations = [
        PriceObserved(provider="claude", model="claude-sonnet-4-5", source="genai", price=PRICE),
        batch(
            [
                record("a", output=9),
                record("a", output=50),
                record("b", ts_ms=T0 + SLOT_MS, model=None),
                record("c", input=250_000, speed="fast"),
            ],
            before=None,
            after=100,
            skipped=SkipCounts(malformed_json=1),
            prompts=(
                Prompt(
                    key="p1",
                    provider="claude",
                    ts_ms=T0,
                    project="project",
                    session="session",
                    text="fix the tests",
                ),
            ),
        ),
        batch(
            [record("a", output=159, ts_ms=T0 + 2 * SLOT_MS), record("b", output=1)],
            before=100,
            after=200,
        ),
        msgspec.structs.replace(
            batch([record("c", input=250_000, output=99, speed="fast")], None, 80, source=OTHER),
            limits=(
                LimitWindow(
                    provider="codex",
                    window="primary",
                    used_percent=12.0,
                    observed_at=1_778_000_000.0,
                    source="local-official",
                    resets_at=1_778_018_000.0,
                    window_seconds=18_000,
                ),
            ),
        ),
        PriceObserved(
            provider="claude",
            model="claude-sonnet-4-5",
            source="config",
            price=msgspec.structs.replace(PRICE, output="16"),
        ),
        PriceObserved(provider="claude", model="mystery", source="none"),
        batch([record("d", session="s2", sidechain=True)], before=200, after=300),
        batch([record("d", session="s2", output=1)], before=300, after=400),
        *live_limits(),
        AlertObserved(alert=ALERT),
        AlertObserved(alert=ALERT),  # decided twice (a restarted notifier): committed once
    ]
    for observation in observations:
        _, _, rejected = store.apply([observation])
        assert [] == rejected


ALERT = Alert(
    key="threshold:claude:five_hour:1778010000:75",
    rule="threshold",
    provider="claude",
    title="Claude 5-hour window at 80 %",
    body="Past the 75 % line.",
    severity="warning",
    raised_at=1_778_000_200.0,
)


def live_limits() -> list[LimitsObserved]:
    """A successful live poll, then a failed one that must not erase its numbers."""
    window = LimitWindow(
        provider="claude",
        window="five_hour",
        used_percent=40.0,
        observed_at=1_778_000_100.0,
        source="live",
        resets_at=1_778_010_000.0,
        window_seconds=18_000,
    )
    auth = AuthInfo(source="/home/u/.claude/.credentials.json", kind="oauth", plan="max")
    return [
        LimitsObserved(
            observation_id="live-1",
            provider="claude",
            source="live",
            observed_at=1_778_000_100.0,
            windows=(window,),
            credits=(CreditBalance(provider="claude", name="extra_usage", used="3.5"),),
            status=LiveStatus(provider="claude", state="ok", checked_at=1_778_000_100.0, auth=auth),
        ),
        LimitsObserved(
            observation_id="live-2",
            provider="claude",
            source="live",
            observed_at=1_778_000_400.0,
            status=LiveStatus(
                provider="claude",
                state="failed",
                checked_at=1_778_000_400.0,
                kind="server",
                http_status=500,
                last_success_at=1_778_000_100.0,
            ),
        ),
    ]


def test_rebuild_gives_identical_projections(db: sqlite3.Connection, db_path: Path) -> None:
    """Rebuilding from the log reproduces every projection table row for row, byte for byte."""
    history(db)
    live = snapshot(db)
    rebuild(str(db_path))
    assert live == snapshot(db)


def test_history_fills_every_projection(db: sqlite3.Connection) -> None:
    """The history above leaves rows in every projection table (so the comparison means it)."""
    history(db)
    assert [] == [table for table, rows in snapshot(db).items() if not rows]


def test_rebuild_repairs_damaged_projections(db: sqlite3.Connection, db_path: Path) -> None:
    """Projections emptied or corrupted by hand are restored from the log."""
    history(db)
    live = snapshot(db)
    db.execute("DELETE FROM usage_by_slot")
    db.execute("UPDATE usage_by_session SET output = output + 1")
    rebuild(str(db_path))
    assert live == snapshot(db)


def test_rebuild_counts_the_events_replayed(db: sqlite3.Connection, db_path: Path) -> None:
    """rebuild returns how many logged events it folded in."""
    history(db)
    assert log.head(db) == rebuild(str(db_path))


def test_rebuild_keeps_the_log(db: sqlite3.Connection, db_path: Path) -> None:
    """The events table is untouched by a rebuild."""
    history(db)
    events = db.execute("SELECT * FROM events ORDER BY seq").fetchall()
    rebuild(str(db_path))
    assert events == db.execute("SELECT * FROM events ORDER BY seq").fetchall()


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        pytest.param(
            "evt.future.claude",
            msgspec.msgpack.encode({"type": "evt.future", "seq": 0, "tokens": 99}),
            id="unknown-type",
        ),
        pytest.param("evt.usage.claude", b"\xc1garbage", id="garbage"),
    ],
)
def test_rebuild_skips_events_it_cannot_read(
    db: sqlite3.Connection, db_path: Path, topic: str, body: bytes
) -> None:
    """An event of a type this otm does not know projects nothing; the ones after it still do."""
    store = Store(db)
    store.apply([batch([record("a")], before=None, after=100)])
    db.execute("BEGIN IMMEDIATE")
    log.append(db, log.head(db) + 1, topic, body)
    db.execute("COMMIT")
    store = Store(db)
    store.apply([batch([record("b")], before=100, after=200)])
    live = snapshot(db)
    assert (2, live) == (rebuild(str(db_path)), snapshot(db))


def test_rebuild_of_an_empty_log_empties_projections(db: sqlite3.Connection, db_path: Path) -> None:
    """With no events, rebuild leaves every projection empty."""
    db.execute("INSERT INTO usage_claims VALUES ('stray', 1, 0, 0, 0, 0, 'm')")
    rebuild(str(db_path))
    assert all(rows == [] for rows in snapshot(db).values())


def test_rebuild_leaves_process_status_alone(db: sqlite3.Connection, db_path: Path) -> None:
    """Heartbeats are status, not projections: rebuild does not clear them."""
    db.execute("INSERT INTO process_status VALUES ('m', 'store', x'00', 1.0)")
    rebuild(str(db_path))
    assert [("store",)] == db.execute("SELECT process FROM process_status").fetchall()
