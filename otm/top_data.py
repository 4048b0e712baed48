"""What ``otm top`` shows, queried with the code the API uses, and what each event changes.

Every number comes from the same query functions as ``otm report``, ``otm limits`` and
``otm alerts`` (and their HTTP twins) on a read-only connection, so dollars match to the cent.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bus.messages import PROVIDERS
from services.queries.activity import activity_report
from services.queries.alerts import alerts_report
from services.queries.reports.build import ReportOptions, build_report
from services.queries.reports.limits import limits_report, stale_after
from services.runtime.installation import Runtime

ALERT_LIMIT = 20
ACTIVITY_LIMIT = 50


@dataclass
class Snapshot:
    """The last known numbers; each part replaced only when an event says it changed."""

    limits: dict[str, Any] = field(default_factory=dict)
    today: dict[str, float] = field(default_factory=dict)
    """Today's ``totalCost`` per provider and under ``"all"`` (``otm report daily``)."""
    blocks: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Each provider's active 5-hour block (``otm report blocks``), ``None`` when idle."""
    alerts: dict[str, Any] = field(default_factory=dict)
    activity: list[dict[str, Any]] = field(default_factory=list)
    day: str = ""
    queried_at: float = 0.0


def parts_for(topic: str) -> set[str]:
    """The parts of the snapshot a committed event under ``topic`` changes."""
    pieces = topic.split(".")
    kind = pieces[1] if len(pieces) > 1 else ""
    provider = pieces[2] if len(pieces) > 2 else ""
    if kind == "usage":
        return {f"usage.{provider}"} if provider in PROVIDERS else {"usage"}
    if kind == "price":
        return {"usage"}
    if kind == "limits":
        return {"limits", "alerts"}
    if kind == "alert":
        return {"alerts"}
    if kind == "activity":
        return {"activity"}
    return set()


def local_day(tz: str, now: float) -> str:
    """Today's date in ``tz`` (``YYYY-MM-DD``)."""
    return datetime.fromtimestamp(now, ZoneInfo(tz)).date().isoformat()


class Queries:
    """Re-run the API's queries on one read-only connection."""

    def __init__(self, conn: sqlite3.Connection, runtime: Runtime, tz: str) -> None:
        self.conn = conn
        self.runtime = runtime
        self.tz = tz
        self.stale_seconds = stale_after(runtime.config.limits.poll_seconds)
        """When a window turns stale (``otm limits``'s rule), also when time alone changes it."""

    def refresh(self, snapshot: Snapshot, parts: set[str], now: float | None = None) -> None:
        """Re-query ``parts`` (``usage``, ``usage.<provider>``, ``limits``, ``alerts``,
        ``activity``, or ``all``) into ``snapshot``."""
        now = time.time() if now is None else now
        day = local_day(self.tz, now)
        if "all" in parts or day != snapshot.day:
            parts = {"usage", "limits", "alerts", "activity"}
        snapshot.day = day
        if "usage" in parts:
            changed: tuple[str, ...] = PROVIDERS
        else:
            changed = tuple(p for p in PROVIDERS if f"usage.{p}" in parts)
        if changed:
            for provider in changed:
                snapshot.today[provider] = self.today_cost(provider, day)
                snapshot.blocks[provider] = self.active_block(provider, now)
            snapshot.today["all"] = self.today_cost("all", day)
        if "limits" in parts:
            snapshot.limits = limits_report(
                self.conn,
                "all",
                now=now,
                stale_seconds=self.stale_seconds,
            )
        if "alerts" in parts:
            snapshot.alerts = alerts_report(self.conn, self.runtime, ALERT_LIMIT)
        if "activity" in parts:
            snapshot.activity = activity(self.conn)
        snapshot.queried_at = now

    def today_cost(self, provider: str, day: str) -> float:
        """``totals.totalCost`` of ``otm report daily --since day --until day``."""
        options = ReportOptions(provider=provider, tz=self.tz, since=day, until=day)
        cost: float = build_report(self.conn, "daily", options)["totals"]["totalCost"]
        return cost

    def active_block(self, provider: str, now: float) -> dict[str, Any] | None:
        """The active block of ``otm report blocks --provider <provider>``, if any."""
        since = (datetime.fromtimestamp(now, ZoneInfo(self.tz)) - timedelta(days=1)).strftime(
            "%Y%m%d"
        )
        options = ReportOptions(provider=provider, tz=self.tz, since=since, now_ms=int(now * 1000))
        for block in build_report(self.conn, "blocks", options)["blocks"]:
            if block["isActive"]:
                found: dict[str, Any] = block
                return found
        return None


def activity(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Recent prompts, newest first (``GET /v1/activity``'s query)."""
    try:
        rows: list[dict[str, Any]] = activity_report(conn, "all", ACTIVITY_LIMIT)["activity"]
    except sqlite3.OperationalError:  # a database from before the activity projection
        return []
    return rows


def next_change(snapshot: Snapshot, stale_seconds: float) -> float | None:
    """The next moment the numbers change with time alone (a window resets or turns stale, a
    block ends, an alert stops being active), when the queries must run again."""
    moments: list[float] = []
    for w in snapshot.limits.get("limits", []):
        if w.get("resetsAt") is not None:
            moments.append(float(w["resetsAt"]))
        moments.append(float(w["observedAt"]) + stale_seconds)
    for block in snapshot.blocks.values():
        if block is not None:
            moments.append(_epoch(block["endTime"]))
            moments.append(_epoch(block["actualEndTime"]) + 5 * 3600)
    for alert in snapshot.alerts.get("active", []):
        if alert.get("resetsAt") is not None:
            moments.append(float(alert["resetsAt"]))
    future = [m for m in moments if m > snapshot.queried_at]
    return min(future) + 0.5 if future else None


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
