"""``otm status``: each process, the head seq, roots found, skipped input and unpriced models."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from bus.lock import is_held
from bus.messages import Heartbeat, LimitWindow, LiveStatus
from services.collector.claude.roots import find_transcripts
from services.collector.codex.roots import find_logs as find_codex_logs
from services.collector.gemini.roots import find_logs as find_gemini_logs
from services.collector.rootpaths import RootScan
from services.queries.alerts import channel_health
from services.queries.providers import provider_states
from services.queries.reports.limits import live_statuses, stale_after
from services.runtime.installation import Runtime
from services.store.database import connect_reader
from services.store.health import read_health
from services.store.trouble import DAMAGED, classify, damaged_message

ALIVE_SECONDS = 3.0
SCANNERS: dict[str, Callable[[Path], RootScan[Any]]] = {
    "claude": find_transcripts,
    "codex": find_codex_logs,
    "gemini": find_gemini_logs,
}
"""How each provider's log files are found under one of its roots."""
_heartbeat_decoder = msgspec.msgpack.Decoder(Heartbeat)
_window_decoder = msgspec.msgpack.Decoder(LimitWindow)


def collect_status(runtime: Runtime) -> dict[str, Any]:
    """Everything ``otm status`` shows, as a JSON-ready dict."""
    roots = []
    for provider, provider_roots in runtime.roots.items():
        scan_root = SCANNERS[provider]
        for root in provider_roots:
            scan = scan_root(root)
            roots.append(
                {
                    "provider": provider,
                    "path": str(root),
                    "exists": root.is_dir(),
                    "files": len(scan.files),
                    "unreadable_dirs": scan.unreadable,
                }
            )
    now = time.time()
    status: dict[str, Any] = {
        "state_dir": str(runtime.state),
        "database": str(runtime.db_path),
        "demo": runtime.demo,
        "store_running": is_held(runtime.lock_path("store")),
        "bus_running": is_held(runtime.run / "bus.lock"),
        "roots": roots,
        "head_seq": 0,
        "processes": [],
        "skipped": {},
        "unpriced_models": [],
        "trouble": [],
    }
    live: dict[str, LiveStatus] = {}
    windows: list[LimitWindow] = []
    if runtime.db_path.exists():
        conn = connect_reader(str(runtime.db_path))
        try:
            status.update(_from_database(conn))
            live = live_statuses(conn)
            windows = [
                _window_decoder.decode(blob)
                for (blob,) in conn.execute("SELECT observation FROM limits")
            ]
        except sqlite3.Error as exc:
            status["database_error"] = str(exc)
            if classify(exc) == DAMAGED:
                status["trouble"].append(_damaged(runtime.db_path))
        finally:
            conn.close()
    if status["store_running"]:
        _add_store_health(status, read_health(runtime.run), now)
    fresh = stale_after(runtime.config.limits.poll_seconds)
    status["providers"] = provider_states(roots, live, windows, now, fresh)
    status["alert_channels"] = channel_health(runtime)
    return status


def _damaged(db_path: Path) -> dict[str, Any]:
    return {"process": "store", "state": DAMAGED, "message": damaged_message(db_path)}


def _add_store_health(status: dict[str, Any], health: dict[str, Any] | None, now: float) -> None:
    """What the running store says in its health file: its trouble (a full disk, a damaged
    database), and when it last heard from each process while it could not write that down."""
    if health is None:
        return
    state = health.get("state")
    if state not in (None, "ok"):
        trouble = status["trouble"]
        if state == DAMAGED:
            trouble[:] = [t for t in trouble if t["state"] != DAMAGED]
        trouble.insert(
            0,
            {
                "process": "store",
                "state": state,
                "message": health.get("message", ""),
                "since": health.get("since"),
            },
        )
    heard: dict[str, float] = health.get("heartbeats") or {}
    for process in status["processes"]:
        received = heard.get(process["process"])
        if received is not None and now - received < process["last_seen_seconds_ago"]:
            process["alive"] = now - received < ALIVE_SECONDS
            process["last_seen_seconds_ago"] = round(now - received, 1)


def _from_database(conn: sqlite3.Connection) -> dict[str, Any]:
    (head,) = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
    now = time.time()
    processes = []
    for blob, received in conn.execute(
        "SELECT heartbeat, received_at FROM process_status ORDER BY process"
    ):
        beat = _heartbeat_decoder.decode(blob)
        processes.append(
            {
                "process": beat.process,
                "pid": beat.pid,
                "alive": now - received < ALIVE_SECONDS,
                "last_seen_seconds_ago": round(now - received, 1),
                "uptime_seconds": round(beat.sent_at - beat.started_at, 1),
                "counters": beat.counters,
                "detail": beat.detail,
            }
        )
    skipped = dict(
        conn.execute("SELECT reason, sum(count) FROM skips GROUP BY reason ORDER BY reason")
    )
    unpriced = [m for (m,) in conn.execute("SELECT model FROM prices WHERE price IS NULL")]
    return {
        "head_seq": int(head),
        "processes": processes,
        "skipped": skipped,
        "unpriced_models": unpriced,
    }
