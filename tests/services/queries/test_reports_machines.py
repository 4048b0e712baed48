"""Machines in reports: ``--machine`` narrows every kind, ``machines`` has a row per machine,
and a report without the filter is unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bus.messages import PriceObserved
from services.queries.reports.build import KINDS, ReportOptions, build_report
from services.queries.reports.common import ReportError
from services.queries.reports.machines import machines_list, resolve_machines
from services.store.database import connect_reader
from services.store.writer import Store
from tests.helpers import batch
from tests.services.queries.reports_support import PRICES, claude, codex

LAPTOP = "a" * 32
DESK = "b" * 32
NOW_MS = 1_780_000_000_000


@pytest.fixture
def two_machines(db: sqlite3.Connection, db_path: Path) -> sqlite3.Connection:
    """A laptop (Claude on 2026-05-01 and 05-02) and a desk (Claude and Codex on 05-02),
    read back through a read-only connection as the CLI and the API read."""
    prices = [
        PriceObserved(provider=p, model=m, source="t", price=v) for (p, m), v in PRICES.items()
    ]
    laptop = (
        claude("l1", "2026-05-01T10:00:00+00:00", session="s1", project="p", input=1000),
        claude("l2", "2026-05-02T10:00:00+00:00", session="s1", project="p", input=2000),
    )
    desk = (
        claude("d1", "2026-05-02T11:00:00+00:00", session="s2", project="q", input=30_000),
        codex("d2", "2026-05-02T12:00:00+00:00"),
    )
    Store(db).apply(
        [
            *prices,
            batch(laptop, None, 100, machine=LAPTOP, machine_name="laptop"),
            batch(desk, None, 100, source="/desk.jsonl", machine=DESK, machine_name="desk"),
        ]
    )
    reader = connect_reader(str(db_path))
    yield reader
    reader.close()


def report(conn: sqlite3.Connection, kind: str, machine: str | None = None) -> dict[str, Any]:
    """``kind`` over every provider in UTC, for ``machine`` (every machine when None)."""
    return build_report(conn, kind, ReportOptions(machine=machine, now_ms=NOW_MS))


def total_tokens(answer: dict[str, Any], kind: str) -> int:
    """The tokens a report counts: its totals, or (blocks) the sum of its blocks."""
    if kind == "blocks":
        return sum(b["totalTokens"] for b in answer["blocks"])
    return int(answer["totals"]["totalTokens"])


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "machines"])
def test_every_kind_filtered_by_machine_adds_up_to_the_unfiltered(
    two_machines: sqlite3.Connection, kind: str
) -> None:
    """Each kind's laptop-only and desk-only tokens add up to its unfiltered tokens."""
    whole = total_tokens(report(two_machines, kind), kind)
    parts = [total_tokens(report(two_machines, kind, m), kind) for m in ("laptop", "desk")]
    assert (whole, True) == (sum(parts), all(parts))


def test_daily_for_one_machine_has_only_its_days(two_machines: sqlite3.Connection) -> None:
    """The laptop's daily report has its two days, with its own tokens."""
    days = report(two_machines, "daily", "laptop")["daily"]
    assert [("2026-05-01", 1000), ("2026-05-02", 2000)] == [
        (d["date"], d["totalTokens"]) for d in days
    ]


def test_sessions_for_one_machine_are_its_sessions(two_machines: sqlite3.Connection) -> None:
    """The desk's session report lists the desk's sessions only."""
    sessions = report(two_machines, "session", "desk")["sessions"]
    assert {"s2", "2026/05/01/rollout-1"} == {s["sessionId"] for s in sessions}


def test_a_filter_naming_both_machines_is_the_unfiltered_report(
    two_machines: sqlite3.Connection,
) -> None:
    """``--machine laptop,desk`` answers exactly what no filter answers."""
    assert report(two_machines, "daily") == report(two_machines, "daily", "laptop,desk")


def test_a_filter_leaves_the_connection_unfiltered_afterwards(
    two_machines: sqlite3.Connection,
) -> None:
    """After a filtered report the same connection answers unfiltered reports again."""
    unfiltered = report(two_machines, "daily")
    report(two_machines, "daily", "laptop")
    assert unfiltered == report(two_machines, "daily")


def test_machines_are_named_by_name_id_or_id_prefix(two_machines: sqlite3.Connection) -> None:
    """A name (any case), a whole id and an 8-digit id prefix each choose their machine."""
    assert (LAPTOP, DESK) == resolve_machines(two_machines, f"LAPTOP, {DESK[:8]}, {DESK}")


def test_an_unknown_machine_is_a_report_error_listing_the_known(
    two_machines: sqlite3.Connection,
) -> None:
    """A name no machine has is refused, naming the machines there are."""
    with pytest.raises(ReportError, match=r"'attic' matches no machine: known machines are desk"):
        report(two_machines, "daily", "attic")


def test_a_short_id_prefix_is_not_a_machine(two_machines: sqlite3.Connection) -> None:
    """A prefix shorter than 8 digits names no machine (too easily a typo)."""
    with pytest.raises(ReportError, match="matches no machine"):
        resolve_machines(two_machines, "aaaa")


def test_machines_report_has_a_row_per_machine_most_expensive_first(
    two_machines: sqlite3.Connection,
) -> None:
    """``machines`` lists the desk (dearer) before the laptop, each with its name and id."""
    rows = report(two_machines, "machines")["machines"]
    assert [("desk", DESK), ("laptop", LAPTOP)] == [(r["machine"], r["machineId"]) for r in rows]


def test_machines_report_rows_add_up_to_the_daily_totals(two_machines: sqlite3.Connection) -> None:
    """The machines report's totals are the daily report's totals."""
    assert report(two_machines, "daily")["totals"] == report(two_machines, "machines")["totals"]


def test_machines_report_says_when_each_machine_was_last_seen(
    two_machines: sqlite3.Connection,
) -> None:
    """Each machine's ``lastSeen`` is its latest record's time (UTC)."""
    rows = {r["machine"]: r["lastSeen"] for r in report(two_machines, "machines")["machines"]}
    assert {"laptop": "2026-05-02T10:00:00.000Z", "desk": "2026-05-02T12:00:00.000Z"} == rows


def test_machines_list_gives_each_machine_its_share_of_tokens(
    two_machines: sqlite3.Connection,
) -> None:
    """``/v1/machines``' shares are each machine's part of all tokens and sum to 1."""
    entries = machines_list(two_machines)["machines"]
    whole = sum(e["totalTokens"] for e in entries)
    assert [round(e["totalTokens"] / whole, 4) for e in entries] == [e["share"] for e in entries]


def test_two_machines_records_within_five_hours_are_one_block(
    two_machines: sqlite3.Connection,
) -> None:
    """The laptop's 10:00 and the desk's 11:00 Claude records of 05-02 share one block."""
    blocks = build_report(two_machines, "blocks", ReportOptions(provider="claude", now_ms=NOW_MS))[
        "blocks"
    ]
    used = [(b["startTime"], b["entries"]) for b in blocks if not b["isGap"]]
    assert ("2026-05-02T10:00:00.000Z", 2) == used[-1]
