"""``otm tail``'s readable lines: one line per event, for people.

Usage: local time, provider, model (short), tokens in / out / cache writes / cache reads, and
dollars, as the reports price them. Every other kind (prices, limits, prompts, alerts, and,
under ``sys.`` or ``cmd.``, heartbeats and refresh requests) gets a line of its own kind.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from bus.messages import (
    ActivityCommitted,
    AlertCommitted,
    Heartbeat,
    LimitsCommitted,
    LimitWindow,
    Message,
    PriceCommitted,
    RefreshRequested,
    UsageCommitted,
    UsageRecord,
)
from services.queries.costs import PUSD_PER_USD
from services.queries.reports.common import Group, Pricer
from services.store.projections import is_fast, logged_total, long_context_column

PriceLookup = Callable[[str, str], Any]
"""``(provider, model)`` to its committed price (``None``: unpriced or not known yet)."""

PROMPT_SHOWN = 52
"""A prompt's first characters only: the line is about that it came, not all it said, and
fits 80 columns."""
_DATE_SUFFIX = re.compile(r"-\d{8}$")
WINDOW_LABELS = {
    "five_hour": "5-hour",
    "seven_day": "weekly",
    "weekly": "weekly",
    "seven_day_opus": "weekly Opus",
    "seven_day_sonnet": "weekly Sonnet",
    "spend_limit": "spend limit",
}


def short_model(model: str | None) -> str:
    """A model as a person calls it: ``claude-opus-4-6-20260101`` is ``opus-4-6``."""
    if not model:
        return "<synthetic>"
    return _DATE_SUFFIX.sub("", model.removeprefix("claude-"))


def count(n: int) -> str:
    """A token count in at most five characters: ``412``, ``12.3k``, ``1.25M``."""
    if abs(n) < 1000:
        return str(n)
    # Bounds a little under each power of ten: rounding must not add a sixth character.
    if abs(n) < 99_950:
        return f"{n / 1000:.1f}k"
    if abs(n) < 999_500:
        return f"{n / 1000:.0f}k"
    if abs(n) < 9_995_000:
        return f"{n / 1_000_000:.2f}M"
    if abs(n) < 99_950_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1_000_000:.0f}M"


def dollars(pusd: int) -> str:
    """Pico-dollars as dollars: four decimals under a dollar (a response is often cents)."""
    usd = pusd / PUSD_PER_USD
    return f"${usd:.4f}" if abs(usd) < 1 else f"${usd:,.2f}"


def clock(at: float, now: float | None = None) -> str:
    """Local ``HH:MM:SS``, with the date in front when it is not today."""
    local = time.localtime(at)
    today = time.localtime(time.time() if now is None else now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M:%S", local)


def _head(at: float | None, who: str) -> str:
    """Time and who; an event that carries no time of its own (a price, an empty batch) gets
    blanks rather than a time it does not have."""
    when = clock(at) if at is not None else " " * 8
    return f"{when} {who:<7}"


class Readable:
    """Turns events into lines; prices usage with the committed prices it is given."""

    def __init__(self, prices: PriceLookup) -> None:
        self.prices = prices

    def line(self, topic: str, message: Message) -> str:
        """The one line for ``message`` (received under ``topic``)."""
        if isinstance(message, UsageCommitted):
            return self.usage(message)
        if isinstance(message, PriceCommitted):
            return price_line(message)
        if isinstance(message, LimitsCommitted):
            return limits_line(message)
        if isinstance(message, ActivityCommitted):
            return activity_line(message)
        if isinstance(message, AlertCommitted):
            a = message.alert
            return _cut(f"{_head(a.raised_at, a.provider)} alert   {a.title} — {a.body}")
        if isinstance(message, Heartbeat):
            return heartbeat_line(message)
        if isinstance(message, RefreshRequested):
            return refresh_line(message)
        return f"{_head(None, '')} {topic} ({type(message).__name__})"

    def usage(self, event: UsageCommitted) -> str:
        """Net tokens and dollars the batch added (copies it replaces taken off)."""
        if not event.records:
            return f"{_head(None, event.provider)} no new responses" + _skips(event)
        added = self._sums(event.records)
        taken = self._sums(event.replaces)
        tokens = [a - b for a, b in zip(added[:4], taken[:4], strict=True)]
        models = list(dict.fromkeys(short_model(r.model) for r in event.records))
        shown = models[0] if len(models) == 1 else f"{models[0]} +{len(models) - 1}"
        at = max(r.ts_ms for r in event.records) / 1000
        text = (
            # 80 columns with a dollar amount under $10: the width of a usual terminal.
            f"{_head(at, event.provider)} {shown:<14} in {count(tokens[0]):>5} "
            f"out {count(tokens[1]):>5} cache w {count(tokens[2]):>5} r {count(tokens[3]):>5} "
        )
        if added[5] or taken[5]:
            text += "$? (unpriced)"
        else:
            text += dollars(added[4] - taken[4])
        notes = []
        if len(event.records) > 1:
            notes.append(f"{len(event.records)} responses")
        if event.replaces:
            notes.append(f"{len(event.replaces)} updated")
        return text + (f" ({', '.join(notes)})" if notes else "")

    def _sums(self, records: Iterable[UsageRecord]) -> tuple[int, int, int, int, int, int]:
        """Input, output, cache writes, cache reads, cost (pUSD), unpriced count."""
        inp = out = write = read = cost = unpriced = 0
        for r in records:
            inp, out = inp + r.input, out + r.output
            write, read = write + r.cache_write_5m + r.cache_write_1h, read + r.cache_read
            pricer = Pricer({(r.provider, r.model or ""): self.prices(r.provider, r.model or "")})
            group = Group(
                r.provider, r.model or "", is_fast(r), long_context_column(r),
                r.input, r.output, r.cache_write_5m, r.cache_write_1h, r.cache_read,
                r.reasoning, logged_total(r), r.web_search_requests,
            )  # fmt: skip
            cost += pricer.sums(group).cost_pusd
            unpriced += len(pricer.unpriced)
        return inp, out, write, read, cost, unpriced


def _skips(event: UsageCommitted) -> str:
    parts = []
    if event.duplicates:
        parts.append(f"{event.duplicates} duplicates")
    if event.skipped.total:
        parts.append(f"{event.skipped.total} lines skipped")
    return f" ({', '.join(parts)})" if parts else ""


def price_line(event: PriceCommitted) -> str:
    """A model's price from now on: per million tokens in and out, or unpriced."""
    head = f"{_head(None, event.provider)} price   {short_model(event.model)}"
    if event.price is None:
        return f"{head}: unpriced (no price list knows it)"
    p = event.price
    return f"{head}: ${p.input}/M in, ${p.output}/M out ({event.source})"


def window_text(w: LimitWindow) -> str:
    """``5-hour 42 % (resets 15:00)``."""
    label = WINDOW_LABELS.get(w.window, w.window)
    text = f"{label} {w.used_percent:.0f} %"
    if w.resets_at is not None:
        soon = w.resets_at - time.time() < 86_400
        when = time.strftime("%H:%M" if soon else "%a %H:%M", time.localtime(w.resets_at))
        text += f" (resets {when})"
    return text


def limits_line(event: LimitsCommitted) -> str:
    """The windows observed, with their source; a live poll's state when it has one."""
    parts = [window_text(w) for w in event.windows]
    status = event.status
    if status is not None and status.state != "ok":
        reason = f": {status.reason.rstrip('.')}" if status.reason else ""
        parts.append(f"live {status.state}{reason}")
    body = ", ".join(parts) or "no windows"
    return _cut(f"{_head(event.observed_at, event.provider)} limits  {body} [{event.source}]")


def activity_line(event: ActivityCommitted) -> str:
    """New prompts: how many, and the newest one's first words."""
    if event.scrubbed or not event.prompts:
        return f"{_head(None, event.provider)} prompts scrubbed"
    newest = max(event.prompts, key=lambda p: p.ts_ms)
    many = f"{len(event.prompts)} prompts, newest: " if len(event.prompts) > 1 else ""
    text = _cut(" ".join(newest.text.split()), PROMPT_SHOWN)
    return f"{_head(newest.ts_ms / 1000, event.provider)} prompt  {many}“{text}”"


def heartbeat_line(beat: Heartbeat) -> str:
    """A process is alive (or stopping): its pid, how long it has run, the store's head seq."""
    up = int(beat.sent_at - beat.started_at)
    state = "stopping" if beat.stopping else "alive  "
    text = f"{_head(beat.sent_at, beat.process)} {state} pid {beat.pid}, up {up // 60} min"
    return text + (f", head seq {beat.head_seq}" if beat.head_seq is not None else "")


def refresh_line(message: RefreshRequested) -> str:
    """A refresh was asked for: why, how many files, and whether live limits too."""
    text = f"{_head(message.requested_at, message.provider)} refresh ({message.reason}"
    if message.paths:
        text += f", {len(message.paths)} file{'' if len(message.paths) == 1 else 's'}"
    return text + (", live limits)" if message.live else ")")


def _cut(line: str, width: int = 160) -> str:
    """Keep a line on one line: an alert's body or a prompt can be long."""
    return line if len(line) <= width else line[: width - 1] + "…"
