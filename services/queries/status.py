"""``otm status``: each process, the head seq, roots found, skipped input and unpriced models.

Only the processes of the stack (``services.processes``) are listed; heartbeats naming anything
else are counted by the store and shown as one number. What each process's bus readers dropped
(its heartbeat's ``bus_dropped.<reason>`` counters) is summed up in two parts: garbage (frames
that are no message, or not one for their topic) and events refused as forged or unconfirmed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import msgspec

from bus.client import FORGED, UNCONFIRMED
from bus.lock import is_held
from bus.messages import Heartbeat, LimitWindow, LiveStatus
from services.collector.claude.roots import find_transcripts
from services.collector.codex.roots import find_logs as find_codex_logs
from services.collector.gemini.roots import find_logs as find_gemini_logs
from services.collector.model_names import PRICED_AS
from services.collector.rootpaths import RootScan
from services.queries.alerts import channel_health
from services.queries.heartbeats import latest_heartbeats
from services.queries.providers import provider_states
from services.queries.reports.limits import live_statuses, stale_after
from services.queries.status_types import StatusReport
from services.runtime.installation import Runtime
from services.runtime.lifecycle import SILENT_AFTER_SECONDS
from services.runtime.runner import DROPPED
from services.store.database import connect_reader
from services.store.health import read_health
from services.store.service import UNKNOWN_HEARTBEATS
from services.store.trouble import DAMAGED, classify, damaged_message

SCANNERS: dict[str, Callable[[Path], RootScan[Any]]] = {
    "claude": find_transcripts,
    "codex": find_codex_logs,
    "gemini": find_gemini_logs,
}
"""How each provider's log files are found under one of its roots."""
REFUSED_REASONS = frozenset((FORGED, UNCONFIRMED))
"""Drop reasons that are refused events rather than garbage."""
_window_decoder = msgspec.msgpack.Decoder(LimitWindow)


def collect_status(runtime: Runtime) -> StatusReport:
    """Everything ``otm status`` shows, as a JSON-ready dict (``status_types`` is its shape)."""
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
                    "unreadableDirs": scan.unreadable,
                }
            )
    now = time.time()
    status: dict[str, Any] = {
        "stateDir": str(runtime.state),
        "database": str(runtime.db_path),
        "demo": runtime.demo,
        "storeRunning": is_held(runtime.lock_path("store")),
        "busRunning": is_held(runtime.run / "bus.lock"),
        "roots": roots,
        "headSeq": 0,
        "processes": [],
        "skipped": {},
        "unpricedModels": [],
        "pricedAs": {},
        "busGarbageDropped": {"total": 0, "byProcess": {}},
        "eventsRefused": {"total": 0, "byProcess": {}},
        "unknownHeartbeatsIgnored": 0,
        "machines": [],
        "trouble": [],
    }
    live: dict[str, LiveStatus] = {}
    windows: list[LimitWindow] = []
    if runtime.db_path.exists():
        conn = connect_reader(str(runtime.db_path))
        try:
            status.update(_from_database(conn, runtime))
            live = live_statuses(conn)
            windows = [
                _window_decoder.decode(blob)
                for (blob,) in conn.execute("SELECT observation FROM limits")
            ]
        except sqlite3.Error as exc:
            status["databaseError"] = str(exc)
            if classify(exc) == DAMAGED:
                status["trouble"].append(_damaged(runtime.db_path))
        finally:
            conn.close()
    elif status["storeRunning"]:
        status.update(_processes(latest_heartbeats(runtime, None), now))
    if status["storeRunning"]:
        _add_store_health(status, read_health(runtime.run), now)
    else:
        # Its lock is the store's life: kill -9 leaves no last beat, and beats are seconds apart.
        for process in status["processes"]:
            if process["process"] == "store":
                process["alive"] = False
    fresh = stale_after(runtime.config.limits.poll_seconds)
    status["providers"] = provider_states(
        roots,
        live,
        windows,
        now,
        fresh,
        running=bool(status["storeRunning"]),
        demo=runtime.demo,
        enabled=runtime.config.limits.enabled,
    )
    status["alertChannels"] = channel_health(runtime)
    # Built up as a plain dict; the api's schemathesis test checks answers against the shape.
    return cast(StatusReport, status)


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
        if received is not None and now - received < process["lastSeenSecondsAgo"]:
            process["alive"] = now - received < SILENT_AFTER_SECONDS
            process["lastSeenSecondsAgo"] = round(now - received, 1)


def _from_database(conn: sqlite3.Connection, runtime: Runtime) -> dict[str, Any]:
    (head,) = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
    beats = latest_heartbeats(runtime, conn, every_machine=True)
    here = runtime.machine.id
    local = [(b, received) for b, received in beats if b.machine in ("", here)]
    skipped = dict(
        conn.execute("SELECT reason, sum(count) FROM skips GROUP BY reason ORDER BY reason")
    )
    unpriced = [m for (m,) in conn.execute("SELECT model FROM prices WHERE price IS NULL")]
    return {
        "headSeq": int(head),
        "skipped": skipped,
        "unpricedModels": unpriced,
        "pricedAs": priced_as(conn),
        "machines": machines_seen(conn, runtime, beats, time.time()),
        **_processes(local, time.time()),
    }


def machines_seen(
    conn: sqlite3.Connection,
    runtime: Runtime,
    beats: list[tuple[Heartbeat, float]],
    now: float,
) -> list[dict[str, Any]]:
    """Every machine the store knows of, from its usage (``machines``) and from heartbeats
    (a machine with no usage yet still beats): this machine first, then by name."""
    from services.queries.reports.machines import known_machines

    here = runtime.machine.id
    heard: dict[str, float] = {}
    for beat, received in beats:
        machine = beat.machine or here
        heard[machine] = max(heard.get(machine, 0.0), received)
    names = {m: n for m, n, _, _ in known_machines(conn)}
    last = {m: ms for m, _, _, ms in known_machines(conn)}
    names[here] = names.get(here) or runtime.machine.name
    for machine in heard:
        names.setdefault(machine, "")
    entries = [
        {
            "id": machine,
            "name": name or machine[:8],
            "local": machine == here,
            "lastRecord": _utc_iso(last.get(machine, 0)),
            "lastHeardSecondsAgo": (round(now - heard[machine], 1) if machine in heard else None),
        }
        for machine, name in names.items()
    ]
    entries.sort(key=lambda e: (not e["local"], e["name"], e["id"]))
    return entries


def _utc_iso(ms: int) -> str | None:
    """Epoch milliseconds as UTC ISO 8601 (None for 0: never)."""
    if not ms:
        return None
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _processes(beats: list[tuple[Heartbeat, float]], now: float) -> dict[str, Any]:
    """Each process as its latest heartbeat describes it, and what their bus readers dropped."""
    processes = [
        {
            "process": beat.process,
            "pid": beat.pid,
            "alive": not beat.stopping and now - received < SILENT_AFTER_SECONDS,
            "lastSeenSecondsAgo": round(now - received, 1),
            "uptimeSeconds": round(beat.sent_at - beat.started_at, 1),
            "counters": beat.counters,
            "detail": beat.detail,
        }
        for beat, received in beats
    ]
    return {"processes": processes, **bus_drops(processes)}


def priced_as(conn: sqlite3.Connection) -> dict[str, str]:
    """Models no price list knows by their own name, each priced as the known model id inside
    it (``aide-gpt-5`` as ``gpt-5``)."""
    rows = conn.execute(
        "SELECT model, source FROM prices WHERE price IS NOT NULL AND instr(source, ?) > 0",
        (PRICED_AS,),
    )
    return {str(model): str(source).rsplit(PRICED_AS, 1)[1] for model, source in rows}


def bus_drops(processes: list[dict[str, Any]]) -> dict[str, Any]:
    """What the processes' bus readers dropped, from their heartbeats' counters: garbage and
    refused events, each as a total and ``{process: {reason: count}}``; and the heartbeats of
    unknown processes the store ignored."""
    garbage: dict[str, dict[str, int]] = {}
    refused: dict[str, dict[str, int]] = {}
    ignored = 0
    for p in processes:
        counters: dict[str, int] = p["counters"]
        if p["process"] == "store":
            ignored = int(counters.get(UNKNOWN_HEARTBEATS, 0))
        for key, count in sorted(counters.items()):
            if not key.startswith(DROPPED) or not count:
                continue
            reason = key.removeprefix(DROPPED)
            part = refused if reason in REFUSED_REASONS else garbage
            part.setdefault(p["process"], {})[reason] = int(count)
    return {
        "busGarbageDropped": _totalled(garbage),
        "eventsRefused": _totalled(refused),
        "unknownHeartbeatsIgnored": ignored,
    }


def _totalled(by_process: dict[str, dict[str, int]]) -> dict[str, Any]:
    total = sum(sum(reasons.values()) for reasons in by_process.values())
    return {"total": total, "byProcess": by_process}
