"""The database layout and its forward migrations (``PRAGMA user_version``).

``events`` is the only source of truth. Every other table except ``process_status`` (status),
``activity_settings`` and ``store_machine`` (configuration) is a projection of it and is
rebuilt from it by ``otm store rebuild``.
"""

from __future__ import annotations

import sqlite3

SLOT_MS = 15 * 60 * 1000
HOUR_MS = 3_600_000
"""The ``usage_by_hour`` granularity: blocks begin on a UTC hour."""
"""Projection time granularity. Every real time zone's UTC offset is a multiple of 15 minutes,
so daily totals in any zone come from slots without touching raw events."""

LONG_CONTEXT_PROMPT_TOKENS = {"claude": 200_000, "codex": 272_000, "gemini": 200_000}
"""A request whose prompt exceeds this is billed at the long-context rate, on every category
(Anthropic and Google above 200k; OpenAI's GPT-5.4/5.5 above 272k). Models without such a
tier ignore the flag."""

PROJECTION_TABLES = (
    "cursors",
    "usage_claims",
    "prices",
    "usage_by_slot",
    "usage_by_session",
    "usage_records",
    "skips",
    "limits",
    "credits",
    "provider_status",
    "limit_observations",
    "alerts",
    "activity",
    "machines",
    "usage_by_hour",
)

_V1 = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    body BLOB NOT NULL,
    committed_at REAL NOT NULL
);
CREATE TABLE cursors (
    path TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    cursor BLOB NOT NULL,
    batch_id TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE usage_keys (
    key TEXT PRIMARY KEY,
    record BLOB NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE prices (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    price BLOB,
    seq INTEGER NOT NULL,
    PRIMARY KEY (provider, model)
);
CREATE TABLE usage_by_slot (
    provider TEXT NOT NULL,
    slot INTEGER NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    records INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    PRIMARY KEY (provider, slot, model, fast, long_context)
) WITHOUT ROWID;
CREATE TABLE usage_by_session (
    provider TEXT NOT NULL,
    project TEXT NOT NULL,
    session TEXT NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    records INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    PRIMARY KEY (provider, project, session, model, fast, long_context)
) WITHOUT ROWID;
CREATE TABLE skips (
    provider TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (provider, source, reason)
) WITHOUT ROWID;
CREATE TABLE process_status (
    process TEXT PRIMARY KEY,
    heartbeat BLOB NOT NULL,
    received_at REAL NOT NULL
);
"""

_V2 = """
DROP TABLE usage_keys;
DROP TABLE usage_by_slot;
DROP TABLE usage_by_session;
CREATE TABLE usage_claims (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    total INTEGER NOT NULL,
    sidechain INTEGER NOT NULL,
    has_speed INTEGER NOT NULL,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE usage_by_slot (
    provider TEXT NOT NULL,
    slot INTEGER NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    total INTEGER NOT NULL,
    records INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    PRIMARY KEY (provider, slot, model, fast, long_context)
) WITHOUT ROWID;
CREATE TABLE usage_by_session (
    provider TEXT NOT NULL,
    project TEXT NOT NULL,
    session TEXT NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    total INTEGER NOT NULL,
    records INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    PRIMARY KEY (provider, project, session, model, fast, long_context)
) WITHOUT ROWID;
CREATE TABLE usage_records (
    provider TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (provider, ts_ms, key)
) WITHOUT ROWID;
CREATE TABLE limits (
    provider TEXT NOT NULL,
    window_name TEXT NOT NULL,
    observation BLOB NOT NULL,
    observed_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (provider, window_name)
) WITHOUT ROWID;
"""

_V3 = """
CREATE TABLE credits (
    provider TEXT NOT NULL,
    name TEXT NOT NULL,
    credit BLOB NOT NULL,
    observed_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (provider, name)
) WITHOUT ROWID;
CREATE TABLE provider_status (
    provider TEXT PRIMARY KEY,
    status BLOB NOT NULL,
    checked_at REAL NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE limit_observations (
    observation_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    observed_at REAL NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
"""

_V4 = """
CREATE TABLE alerts (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    provider TEXT NOT NULL,
    rule TEXT NOT NULL,
    raised_at REAL NOT NULL,
    alert BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX alerts_by_seq ON alerts (seq);
"""

_V5 = """
CREATE TABLE activity (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    project TEXT NOT NULL,
    session TEXT NOT NULL,
    text TEXT NOT NULL,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX activity_by_session ON activity (provider, session, ts_ms);
CREATE INDEX activity_by_time ON activity (provider, ts_ms);
CREATE TABLE activity_reply (
    prompt_key TEXT NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (prompt_key, model, fast, long_context)
) WITHOUT ROWID;
CREATE TABLE activity_settings (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""
"""Recent prompts (``evt.activity``) and the tokens of their replies. ``activity_settings`` is
configuration, not a projection: ``keep`` is how many prompts a provider keeps."""

_V6 = """
ALTER TABLE usage_records ADD COLUMN session TEXT NOT NULL DEFAULT '';
CREATE INDEX usage_records_by_session ON usage_records (provider, session, ts_ms);
DROP TABLE activity_reply;
"""
"""A reply's tokens are read from ``usage_records`` by session and time when asked for,
instead of being added to a prompt when committed: a revised record then always leaves the
prompt it was counted under, and a prompt that arrives after its replies still collects them."""

_V7 = """
ALTER TABLE usage_by_slot ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_by_session ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;
"""
"""Server-side web searches (``UsageRecord.web_search_requests``), billed per search. Records
committed before this version carry none, so 0 is already what a replay of the log gives: no
rebuild is needed."""

_V8 = """
DROP TABLE cursors;
CREATE TABLE cursors (
    machine TEXT NOT NULL,
    path TEXT NOT NULL,
    provider TEXT NOT NULL,
    cursor BLOB NOT NULL,
    batch_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (machine, path)
);
DROP TABLE usage_claims;
CREATE TABLE usage_claims (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    total INTEGER NOT NULL,
    sidechain INTEGER NOT NULL,
    has_speed INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    machine TEXT NOT NULL
) WITHOUT ROWID;
DROP TABLE usage_by_slot;
CREATE TABLE usage_by_slot (
    provider TEXT NOT NULL,
    slot INTEGER NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    machine TEXT NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    total INTEGER NOT NULL,
    web_searches INTEGER NOT NULL DEFAULT 0,
    records INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    PRIMARY KEY (provider, slot, model, fast, long_context, machine)
) WITHOUT ROWID;
DROP TABLE usage_by_session;
CREATE TABLE usage_by_session (
    provider TEXT NOT NULL,
    project TEXT NOT NULL,
    session TEXT NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    machine TEXT NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    total INTEGER NOT NULL,
    web_searches INTEGER NOT NULL DEFAULT 0,
    records INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    PRIMARY KEY (provider, project, session, model, fast, long_context, machine)
) WITHOUT ROWID;
ALTER TABLE usage_records ADD COLUMN machine TEXT NOT NULL DEFAULT '';
CREATE TABLE machines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE store_machine (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
DROP TABLE process_status;
CREATE TABLE process_status (
    machine TEXT NOT NULL,
    process TEXT NOT NULL,
    heartbeat BLOB NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (machine, process)
);
"""
"""Machines are a dimension: usage projections and claims carry the machine that read the
record, cursors and heartbeats are kept per machine (two machines can have the same path), and
``machines`` lists every machine seen. ``store_machine`` is configuration, not a projection:
the ``id`` and ``name`` of the store's own machine, which events logged before this version
(their ``machine`` empty) belong to. The log is replayed into the reshaped tables afterwards,
so existing rows get the store's machine."""


_V9 = """
CREATE TABLE usage_by_hour (
    provider TEXT NOT NULL,
    hour INTEGER NOT NULL,
    part INTEGER NOT NULL,
    model TEXT NOT NULL,
    fast INTEGER NOT NULL,
    long_context INTEGER NOT NULL,
    machine TEXT NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    total INTEGER NOT NULL,
    web_searches INTEGER NOT NULL,
    records INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    first_key TEXT NOT NULL,
    last_ts INTEGER NOT NULL,
    PRIMARY KEY (provider, hour, part, model, fast, long_context, machine)
) WITHOUT ROWID;
WITH parted AS (
    SELECT *, (ts_ms - (ts_ms % 3600000 + 3600000) % 3600000) / 3600000 AS hour,
        CASE WHEN (ts_ms % 3600000 + 3600000) % 3600000 = 0 THEN 0 ELSE 1 END AS part
    FROM usage_records
), grouped AS (
    SELECT provider, hour, part, model, fast, long_context, machine, sum(input) AS input,
        sum(output) AS output, sum(cache_write_5m) AS w5, sum(cache_write_1h) AS w1,
        sum(cache_read) AS cache_read, sum(reasoning) AS reasoning, sum(total) AS total,
        sum(web_searches) AS web_searches, count(*) AS records, min(ts_ms) AS first_ts,
        max(ts_ms) AS last_ts
    FROM parted GROUP BY provider, hour, part, model, fast, long_context, machine
)
INSERT INTO usage_by_hour
SELECT g.provider, g.hour, g.part, g.model, g.fast, g.long_context, g.machine, g.input,
    g.output, g.w5, g.w1, g.cache_read, g.reasoning, g.total, g.web_searches, g.records,
    g.first_ts,
    (SELECT min(r.key) FROM usage_records AS r WHERE r.provider = g.provider
        AND r.ts_ms = g.first_ts AND r.model = g.model AND r.fast = g.fast
        AND r.long_context = g.long_context AND r.machine = g.machine),
    g.last_ts
FROM grouped AS g;
"""
"""Records summed per UTC hour, for blocks (``services/queries/reports/blocks.py``): ``part`` 0
holds the records exactly on the hour (they may still belong to the block that began five
hours before), 1 the rest of it. ``first_key`` is the key of the group's first record (models
are listed in the order of their first record, ties broken by key); per machine, like every
usage projection. Filled here from ``usage_records``, which already holds what a replay of the
log would put in it."""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9)
"""``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1``. Append only."""

REBUILD_AFTER = frozenset({2, 6, 8})
"""Versions whose migration reshaped projections: the log is replayed into them afterwards."""


def apply_migrations(conn: sqlite3.Connection) -> bool:
    """Bring the schema to the newest version in a transaction left open for the caller to
    finish (``database.migrate`` replays the log in it, then commits), so a kill at any point
    leaves the old schema or the whole new one, never half of it. True when the log must be
    replayed into reshaped projections. ``conn`` is in autocommit mode (``isolation_level``
    ``None``); no transaction is open on return when nothing was to be done."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"the database is schema version {version}, newer than this otm knows "
            f"({len(MIGRATIONS)}); upgrade OpenTokenMonitor"
        )
    targets = range(version + 1, len(MIGRATIONS) + 1)
    if not targets:
        return False
    # executescript runs in autocommit mode, so the transaction is part of the script.
    script = "\n".join(MIGRATIONS[t - 1] for t in targets)
    try:
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {len(MIGRATIONS)};\n"
        )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version > 0 and any(t in REBUILD_AFTER for t in targets)
