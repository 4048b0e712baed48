"""``otm alerts`` and ``GET /v1/alerts``: recent committed alerts, whether each is still
active, and how each channel delivered it.

Alerts come from the store's ``alerts`` projection (the log is their source of truth); delivery
states come from the notifier's own database, read-only (absent when it never ran).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from bus.messages import Alert
from services.runtime.installation import Runtime

_alert_decoder = msgspec.msgpack.Decoder(Alert)
DEFAULT_LIMIT = 50


def alerts_report(
    conn: sqlite3.Connection | None, runtime: Runtime, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    """The newest ``limit`` alerts (newest first) with deliveries, and the active ones."""
    now = time.time()
    rows = [] if conn is None else _rows(conn, limit)
    deliveries = _deliveries(runtime.notifier_db_path, [key for key, *_ in rows])
    recovered = _recovered(rows)
    periods = _current_periods(runtime, now)

    def active(alert: Alert) -> bool:
        return _active(alert, now, recovered, periods)

    alerts = [
        _alert_json(seq, _alert_decoder.decode(blob), deliveries.get(key, []), now, active)
        for key, seq, blob in rows
    ]
    return {"alerts": alerts, "active": [a for a in alerts if a["active"]], "demo": runtime.demo}


def _rows(conn: sqlite3.Connection, limit: int) -> list[tuple[str, int, bytes]]:
    try:
        return conn.execute(
            "SELECT key, seq, alert FROM alerts ORDER BY seq DESC LIMIT ?", (limit,)
        ).fetchall()
    except sqlite3.OperationalError:  # a database older than alerts (schema < 4)
        return []


def _deliveries(path: Path, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not keys or not path.exists():
        return {}
    conn = _read_only(path)
    try:
        marks = ",".join("?" * len(keys))
        rows = conn.execute(
            "SELECT key, channel, state, attempts, answer, fix, delivered_at FROM deliveries "
            f"WHERE key IN ({marks}) ORDER BY channel",
            keys,
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    out: dict[str, list[dict[str, Any]]] = {}
    for key, channel, state, attempts, answer, fix, delivered_at in rows:
        out.setdefault(key, []).append(
            {
                "channel": channel,
                "state": state,
                "attempts": attempts,
                "answer": answer,
                "fix": fix,
                "deliveredAt": delivered_at,
            }
        )
    return out


def _recovered(rows: list[tuple[str, int, bytes]]) -> set[str]:
    """Providers whose newest trouble alert says they work again."""
    newest: dict[str, str] = {}
    for key, _seq, _blob in rows:  # newest first
        if key.startswith("trouble:"):
            _, provider, change, _ = key.split(":", 3)
            newest.setdefault(provider, change)
    return {provider for provider, change in newest.items() if change == "up"}


def _current_periods(runtime: Runtime, now: float) -> dict[str, str]:
    from services.queries.budget_periods import period_starts, today_in
    from services.queries.reports.timezones import local_timezone_name

    tz = runtime.config.alerts.tz or local_timezone_name()
    return {p: d.isoformat() for p, d in period_starts(today_in(tz, now)).items()}


def _alert_json(
    seq: int,
    alert: Alert,
    deliveries: list[dict[str, Any]],
    now: float,
    active: Callable[[Alert], bool],
) -> dict[str, Any]:
    return {
        "seq": seq,
        "key": alert.key,
        "rule": alert.rule,
        "provider": alert.provider,
        "title": alert.title,
        "body": alert.body,
        "severity": alert.severity,
        "raisedAt": alert.raised_at,
        "window": alert.window,
        "band": alert.band,
        "usedPercent": alert.used_percent,
        "resetsAt": alert.resets_at,
        "estimated": alert.estimated,
        "demo": alert.demo,
        "active": active(alert),
        "deliveries": deliveries,
    }


def _active(alert: Alert, now: float, recovered: set[str], periods: dict[str, str]) -> bool:
    """Still true now: a window alert before its reset, a budget alert of the current day, week
    or month, a trouble alert not followed by recovery."""
    if alert.rule in ("threshold", "pace"):
        return alert.resets_at is not None and alert.resets_at > now
    if alert.rule == "trouble":
        return ":down:" in alert.key and alert.provider not in recovered
    if alert.rule == "budget":
        # budget:<scope>:<period>:<first day>:<band>
        parts = alert.key.split(":")
        return len(parts) == 5 and periods.get(parts[2]) == parts[3]
    return False


def channel_health(runtime: Runtime) -> list[dict[str, Any]]:
    """Each alert channel's deliveries by state, and its latest problem with the fix (for
    ``otm status`` and ``otm doctor``); empty before the notifier first ran."""
    path = runtime.notifier_db_path
    if not path.exists():
        return []
    conn = _read_only(path)
    try:
        counts = conn.execute(
            "SELECT channel, state, count(*) FROM deliveries GROUP BY channel, state"
        ).fetchall()
        problems = conn.execute(
            "SELECT channel, answer, fix FROM deliveries WHERE state = 'failed' "
            "OR (state = 'pending' AND attempts > 0) ORDER BY seq"
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    channels: dict[str, dict[str, Any]] = {}
    for channel, state, count in counts:
        entry = channels.setdefault(
            channel, {"channel": channel, "deliveries": {}, "problem": None}
        )
        entry["deliveries"][state] = count
    for channel, answer, fix in problems:  # the latest problem wins
        channels[channel]["problem"] = {"answer": answer, "fix": fix}
    return [channels[name] for name in sorted(channels)]


def _read_only(path: Path) -> sqlite3.Connection:
    """The notifier's database, read-only (the notifier is its only writer)."""
    from services.store.database import connect_reader

    return connect_reader(str(path))
