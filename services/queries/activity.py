"""``GET /v1/activity``: recent prompts with their reply's model, tokens and dollars.

Reads the ``activity`` projection and each prompt's reply from ``usage_records``; the reply's
groups (one per model, speed and long-context tier) are priced with the reports' own
``Pricer``, so a prompt's cost adds up to what ``otm report daily`` shows for the same records.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from bus.messages import DEFAULT_KEEP
from services.queries.costs import pusd_to_usd
from services.queries.reports.common import (
    ALL,
    SYNTHETIC,
    Group,
    Pricer,
    Sums,
    load_prices,
    placeholders,
    providers_of,
)


def activity_report(
    conn: sqlite3.Connection,
    provider: str = ALL,
    limit: int = 50,
    project: str | None = None,
    *,
    enabled: bool = True,
    keep: int = DEFAULT_KEEP,
) -> dict[str, Any]:
    """``{"provider", "enabled", "keep", "activity": [...]}``, the newest ``limit`` prompts of
    ``provider`` (``all``: every provider), optionally of one ``project``, newest first.

    ``ValueError`` for an unknown provider.
    """
    providers = providers_of(provider)
    sql = (
        "SELECT key, provider, ts_ms, project, session, text FROM activity"
        f" WHERE provider IN ({placeholders(providers)})"
    )
    params: list[object] = list(providers)
    if project is not None:
        sql += " AND project = ?"
        params.append(project)
    sql += " ORDER BY ts_ms DESC, key DESC LIMIT ?"
    params.append(limit)
    rows = conn.execute(sql, params).fetchall()
    pricer = Pricer(load_prices(conn, providers))
    replies = reply_groups(conn, [str(r[0]) for r in rows])
    items = [
        _item(pricer, key, prov, ts_ms, proj, session, text, replies.get(key, []))
        for key, prov, ts_ms, proj, session, text in rows
    ]
    return {"provider": provider, "enabled": enabled, "keep": keep, "activity": items}


def reply_groups(conn: sqlite3.Connection, keys: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every reply group of the prompts ``keys``, by prompt key.

    A prompt's reply is every record of its session from the prompt's time up to the next
    kept prompt of that session (a record at the very time of two prompts answers the later
    one), read from ``usage_records`` now rather than added up at commit time, so it follows
    revised records and prompts that arrive after their replies.
    """
    out: dict[str, list[tuple[Any, ...]]] = {}
    if not keys:
        return out
    for row in conn.execute(
        "WITH spans AS (SELECT key, provider, session, ts_ms AS start,"
        " LEAD(ts_ms) OVER (PARTITION BY provider, session ORDER BY ts_ms, key) AS stop"
        " FROM activity WHERE (provider, session) IN (SELECT provider, session FROM activity"
        f" WHERE key IN ({placeholders(keys)})))"
        " SELECT s.key, s.provider, u.model, u.fast, u.long_context, sum(u.input),"
        " sum(u.output), sum(u.cache_write_5m), sum(u.cache_write_1h), sum(u.cache_read),"
        " sum(u.reasoning), sum(u.total), sum(u.web_searches)"
        " FROM spans s JOIN usage_records u ON u.provider = s.provider"
        " AND u.session = s.session AND u.ts_ms >= s.start"
        " AND (s.stop IS NULL OR u.ts_ms < s.stop)"
        f" WHERE s.key IN ({placeholders(keys)})"
        " GROUP BY s.key, u.model, u.fast, u.long_context",
        [*keys, *keys],
    ):
        out.setdefault(str(row[0]), []).append(row[1:])
    return out


def _item(
    pricer: Pricer,
    key: str,
    provider: str,
    ts_ms: int,
    project: str,
    session: str,
    text: str,
    groups: list[tuple[Any, ...]],
) -> dict[str, Any]:
    """One prompt as the API shows it."""
    totals = Sums()
    by_model: dict[str, int] = {}
    for row in groups:
        group = Group(*row)
        totals.add(pricer.sums(group))
        if group.model != SYNTHETIC:
            by_model[group.label] = by_model.get(group.label, 0) + group.total
    models = sorted(by_model, key=lambda m: (-by_model[m], m))
    return {
        "provider": provider,
        "timestamp": _iso(ts_ms),
        "tsMs": ts_ms,
        "project": project,
        "session": session,
        "text": text,
        "model": models[0] if models else None,
        "models": models,
        "inputTokens": totals.input,
        "outputTokens": totals.output,
        "cacheCreationTokens": totals.cache_creation,
        "cacheReadTokens": totals.cache_read,
        "reasoningTokens": totals.reasoning,
        "totalTokens": totals.total,
        "totalCost": pusd_to_usd(totals.cost_pusd),
    }


def _iso(ts_ms: int) -> str:
    """``2026-12-02T10:00:00.000Z``."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"
