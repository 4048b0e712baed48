"""``otm report blocks``: five-hour billing blocks, with ccusage's exact rules (FORMATS.md §2.7).

Built from ``usage_by_hour`` (the records summed per part of a UTC hour) in time order,
separately for each provider (each has its own limits), with ccusage's record-by-record rules:

* a block starts at its first record's time floored to the UTC hour and ends 5 hours later;
* a record more than 5 hours after the block's start, or after the previous record, starts a
  new block; when it is more than 5 hours after the previous record, a gap block
  ``gap-<last + 5h>`` spans from the previous record + 5 hours to it;
* a block is active while ``now - last record < 5h`` and ``now < end``; only an active block
  has a ``burnRate`` (none when its records all share one instant) and a ``projection``;
* ``--token-limit N|max`` adds ``tokenLimitStatus`` to the active block (``max``: the largest
  listed complete block of the same provider);
* ``--since``/``--until`` select blocks by the local date of their start.

For Codex and Claude, the provider's own 5-hour window (Codex's ``primary``, Claude's
``five_hour``, from the logs, the statusline or the live endpoint, in the ``limits``
projection) is added to the active block as ``officialWindow`` while it has not reset: its
start and end (``resets_at - window_seconds`` .. ``resets_at``), the used percent and the
records that fall inside it.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from services.queries.costs import pusd_to_usd
from services.queries.msgpack_lite import decode_struct
from services.queries.reports.common import (
    PROVIDERS,
    SYNTHETIC,
    Fields,
    Group,
    Pricer,
    ReportError,
    Shape,
    Sums,
    check_order,
    finish,
    in_range,
    normalise_date,
    placeholders,
    providers_of,
)
from services.queries.reports.timezones import zone

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from typing import Any
    from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
BLOCK_MS = 5 * HOUR_MS
MINUTE_MS = 60_000
WARNING_SHARE = 0.8
"""``tokenLimitStatus`` is ``warning`` above 80% of the limit (ccusage)."""
OFFICIAL_WINDOWS = {"codex": "primary", "claude": "five_hour"}
"""Each provider's own 5-hour window, by its name in the ``limits`` projection."""
DEFAULT_WINDOW_SECONDS = 5 * 3600

if TYPE_CHECKING:
    GroupKey = tuple[str, int, int]


class Window(Fields):
    """A committed ``bus.messages.Window``, read without msgspec (``msgpack_lite``):
    a blocks report need not load the wire's types."""

    __slots__ = ("observed_at", "resets_at", "source", "used_percent", "window", "window_seconds")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.window: str = str(fields["window"])
        self.used_percent = float(fields["used_percent"])
        self.observed_at = float(fields["observed_at"])
        self.source: str = str(fields["source"])
        resets_at = fields.get("resets_at")
        self.resets_at = None if resets_at is None else float(resets_at)
        seconds = fields.get("window_seconds")
        self.window_seconds = None if seconds is None else int(seconds)


class _Tally(Fields):
    """Token sums per (model, speed, tier) of some records, priced once at the end."""

    __slots__ = ("entries", "groups", "models")

    def __init__(self) -> None:
        self.entries = 0
        self.groups: dict[GroupKey, list[int]] = {}
        self.models: list[str] = []

    def add(
        self, model: str, fast: int, long_context: int, tokens: tuple[int, ...], records: int = 1
    ) -> None:
        """Add ``records`` records (1, or a group of them) with these summed ``tokens``."""
        self.entries += records
        sums = self.groups.get((model, fast, long_context))
        if sums is None:
            sums = self.groups[(model, fast, long_context)] = [0] * len(tokens)
            label = f"{model}-fast" if fast else model
            if model != SYNTHETIC and label not in self.models:
                self.models.append(label)
        for i, n in enumerate(tokens):
            sums[i] += n

    def priced(self, provider: str, pricer: Pricer) -> Sums:
        total = Sums()
        for (model, fast, long_context), values in self.groups.items():
            total.add(pricer.sums(Group(provider, model, fast, long_context, *values)))
        return total


class Block(Fields):
    """One block (or gap) of one provider."""

    __slots__ = ("end", "first", "gap", "last", "provider", "start", "sums", "tally")

    def __init__(
        self,
        provider: str,
        start: int,
        end: int,
        gap: bool = False,
        first: int = 0,
        last: int = 0,
    ) -> None:
        self.provider = provider
        self.start = start
        self.end = end
        self.gap = gap
        self.first = first
        self.last = last
        self.tally = _Tally()
        self.sums = Sums()

    def is_active(self, now: int) -> bool:
        """ccusage's rule: the last record is under 5 hours old and the block has not ended."""
        return not self.gap and now - self.last < BLOCK_MS and now < self.end


class TokenLimit(Fields):
    """``--token-limit``: a number of tokens, or ``max`` (the largest complete block)."""

    __slots__ = ("tokens",)

    def __init__(self, tokens: int | None) -> None:
        self.tokens = tokens

    @classmethod
    def parse(cls, value: str | int | None) -> TokenLimit | None:
        """``None``, ``"max"`` or a positive whole number; ``ReportError`` otherwise."""
        if value is None:
            return None
        if value == "max":
            return cls(None)
        try:
            tokens = int(value)
        except ValueError:
            tokens = 0
        if tokens <= 0:
            raise ReportError(f"token limit {value!r}: use a positive number of tokens or 'max'")
        return cls(tokens)


def blocks(
    conn: sqlite3.Connection,
    provider: str = "all",
    tz: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    order: str | None = None,
    token_limit: str | int | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """``{"blocks": [...]}`` (plus ``unpriced`` when a listed block holds an unpriced model)."""
    providers = providers_of(provider)
    direction = check_order(order, "asc")
    zone_info = zone(tz)
    since, until = normalise_date(since, "--since"), normalise_date(until, "--until")
    limit = TokenLimit.parse(token_limit)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    shape = Shape.of(provider)
    pricer = Pricer.load(conn, providers)
    windows = _official_windows(conn, providers, now)
    tallies = {p: _Tally() for p in windows}

    listed: list[Block] = []
    for block in _build(conn, providers, windows, tallies):
        if in_range(_local_date(block.start, zone_info), since, until):
            block.sums = block.tally.priced(block.provider, pricer)
            listed.append(block)
    listed.sort(key=lambda b: (b.start, PROVIDERS.index(b.provider)), reverse=direction == "desc")

    largest = {p: 0 for p in providers}
    for b in listed:
        if not b.gap and not b.is_active(now):
            largest[b.provider] = max(largest[b.provider], b.sums.total)
    rows = []
    for b in listed:
        row = _block_json(b, now, shape)
        projection = row["projection"]
        if limit is not None and projection is not None:
            tokens = largest[b.provider] if limit.tokens is None else limit.tokens
            if tokens > 0:
                row["tokenLimitStatus"] = _limit_status(tokens, projection["totalTokens"])
        if b.provider in windows and b.is_active(now):
            row["officialWindow"] = _window_json(
                b.provider, windows[b.provider], tallies[b.provider], pricer
            )
        if shape.multi:
            row["provider"] = b.provider
        rows.append(row)
    return finish({"blocks": rows}, pricer, shape)


def _build(
    conn: sqlite3.Connection,
    providers: tuple[str, ...],
    windows: dict[str, Window],
    tallies: dict[str, _Tally],
) -> Iterator[Block]:
    """Every block and gap of each provider, in time order per provider.

    Read from ``usage_by_hour``: the records of one part of an hour (those exactly on it, or
    the rest of it) always fall in the same block, so ccusage's record-by-record rules give
    the same blocks applied to each part at its first record's time.
    """
    for provider, window in windows.items():
        _tally_window(conn, provider, _window_span(window), tallies[provider])
    groups = conn.execute(
        "SELECT provider, hour, part, first_ts, first_key, last_ts, records, model, fast,"
        " long_context, input, output, cache_write_5m, cache_write_1h, cache_read, reasoning,"
        " total, web_searches FROM usage_by_hour"
        f" WHERE provider IN ({placeholders(providers)})"
        " ORDER BY provider, hour, part, first_ts, first_key",
        providers,
    ).fetchall()
    current: Block | None = None
    i, n = 0, len(groups)
    while i < n:
        provider, hour, part = groups[i][:3]
        j = i + 1
        while j < n and groups[j][2] == part and groups[j][1] == hour and groups[j][0] == provider:
            j += 1
        part_groups = groups[i:j]
        i = j
        ts = min(g[3] for g in part_groups)
        last = max(g[5] for g in part_groups)
        if current is not None and current.provider != provider:
            yield current
            current = None
        if current is None:
            current = _open(provider, ts)
        elif ts - current.start > BLOCK_MS or ts - current.last > BLOCK_MS:
            yield current
            if ts - current.last > BLOCK_MS:
                gap_start = current.last + BLOCK_MS
                yield Block(provider, gap_start, ts, gap=True, first=gap_start, last=gap_start)
            current = _open(provider, ts)
        current.last = last
        for g in part_groups:
            current.tally.add(g[7], g[8], g[9], tuple(g[10:]), g[6])
    if current is not None:
        yield current


def _tally_window(
    conn: sqlite3.Connection, provider: str, span: tuple[int, int], tally: _Tally
) -> None:
    """Tally the provider's records inside its own window ``span``."""
    records = conn.execute(
        "SELECT model, fast, long_context, input, output, cache_write_5m, cache_write_1h,"
        " cache_read, reasoning, total, web_searches FROM usage_records"
        " WHERE provider = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
        (provider, *span),
    )
    for model, fast, long_context, *tokens in records:
        tally.add(model, fast, long_context, tuple(tokens))


def _open(provider: str, ts: int) -> Block:
    start = ts - ts % HOUR_MS
    return Block(provider, start, start + BLOCK_MS, first=ts, last=ts)


def _block_json(b: Block, now: int, shape: Shape) -> dict[str, Any]:
    s = b.sums
    counts: dict[str, int] = {
        "inputTokens": s.input,
        "outputTokens": s.output,
        "cacheCreationInputTokens": s.cache_creation,
        "cacheReadInputTokens": s.cache_read,
    }
    if shape.reasoning:
        counts["reasoningTokens"] = s.reasoning
    active = b.is_active(now)
    burn = _burn_rate(b) if active else None
    projection = None
    if burn is not None:
        remaining = (b.end - now) / MINUTE_MS
        cost = pusd_to_usd(s.cost_pusd) + burn["costPerHour"] / 60 * remaining
        projection = {
            "totalTokens": _js_round(s.total + burn["tokensPerMinute"] * remaining),
            "totalCost": _js_number(_js_round(cost * 100) / 100),
            "remainingMinutes": _js_round(remaining),
        }
    return {
        "id": f"gap-{_iso(b.start)}" if b.gap else _iso(b.start),
        "startTime": _iso(b.start),
        "endTime": _iso(b.end),
        "actualEndTime": None if b.gap else _iso(b.last),
        "isActive": active,
        "isGap": b.gap,
        "entries": b.tally.entries,
        "tokenCounts": counts,
        "totalTokens": s.total,
        "costUSD": _js_number(pusd_to_usd(s.cost_pusd)),
        "models": list(b.tally.models),
        "burnRate": burn,
        "projection": projection,
    }


def _burn_rate(b: Block) -> dict[str, Any] | None:
    minutes = (b.last - b.first) / MINUTE_MS
    if minutes <= 0:
        return None
    s = b.sums
    return {
        "tokensPerMinute": _js_number(s.total / minutes),
        "tokensPerMinuteForIndicator": _js_number((s.input + s.output) / minutes),
        "costPerHour": _js_number(pusd_to_usd(s.cost_pusd) / minutes * 60),
    }


def _limit_status(limit: int, projected: int) -> dict[str, Any]:
    if projected > limit:
        status = "exceeds"
    elif projected > limit * WARNING_SHARE:
        status = "warning"
    else:
        status = "ok"
    return {
        "limit": limit,
        "projectedUsage": projected,
        "percentUsed": _js_number(projected / limit * 100),
        "status": status,
    }


def _official_windows(
    conn: sqlite3.Connection, providers: tuple[str, ...], now: int
) -> dict[str, Window]:
    """Each listed provider's own current 5-hour window that has not reset yet."""
    out = {}
    for provider, name in OFFICIAL_WINDOWS.items():
        if provider not in providers:
            continue
        row = conn.execute(
            "SELECT observation FROM limits WHERE provider = ? AND window_name = ?",
            (provider, name),
        ).fetchone()
        if row is None:
            continue
        fields = decode_struct(bytes(row[0]), "window")
        if fields is None:
            continue
        window = Window(fields)
        if window.resets_at is not None and window.resets_at * 1000 > now:
            out[provider] = window
    return out


def _window_span(window: Window) -> tuple[int, int]:
    end = round((window.resets_at or 0) * 1000)
    seconds = window.window_seconds or DEFAULT_WINDOW_SECONDS
    return end - seconds * 1000, end


def _window_json(provider: str, window: Window, tally: _Tally, pricer: Pricer) -> dict[str, Any]:
    start, end = _window_span(window)
    sums = tally.priced(provider, pricer)
    return {
        "window": window.window,
        "startTime": _iso(start),
        "endTime": _iso(end),
        "usedPercent": _js_number(window.used_percent),
        "observedAt": _iso(round(window.observed_at * 1000)),
        "source": window.source,
        "entries": tally.entries,
        "totalTokens": sums.total,
        "costUSD": _js_number(pusd_to_usd(sums.cost_pusd)),
    }


def _iso(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, as JavaScript's ``toISOString``."""
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def _local_date(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).date().isoformat()


def _js_round(x: float) -> int:
    """JavaScript's ``Math.round``: halves go up."""
    return math.floor(x + 0.5)


def _js_number(x: float) -> float | int:
    """A whole float as an int, so JSON prints ``3`` rather than ``3.0`` (as ccusage does)."""
    return int(x) if x.is_integer() and abs(x) < 2**53 else x
