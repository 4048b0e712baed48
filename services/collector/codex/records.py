"""Line-level rules for Codex logs: token counts, timestamps, models and record keys.

Everything here is a pure function of one decoded line (or one value in it); the state that
links lines together lives in ``turns``. The rules follow ccusage 20.0.24 (FORMATS.md 3.2-3.3):

* **Token counts** are read leniently, as ccusage does: ``input_tokens``/``prompt_tokens``/
  ``input``, ``cached_input_tokens``/``cache_read_input_tokens``/``cached_tokens``,
  ``output_tokens``/``completion_tokens``/``output``, ``reasoning_output_tokens``/
  ``reasoning_tokens`` and ``total_tokens``, the first usable synonym winning. A count that is not
  a non-negative integer (or a string of digits) counts as absent, i.e. 0. ``total`` is the
  logged ``total_tokens``, or ``input + output`` when that is missing or 0.
* **Cache writes**: Codex CLI builds of late 2026 add ``cache_write_input_tokens`` (synonym
  ``cache_creation_input_tokens``) to both ``total_token_usage`` and ``last_token_usage``: the
  part of ``input_tokens`` written to the prompt cache, billed at the model's cache-write rate
  (GPT-5.6: 1.25x input). It is inside ``input_tokens``, beside ``cached_input_tokens``; like
  every count it is a running total in ``total_token_usage`` (deltas per event). ccusage 20.0.24
  reads it the same way (probed): ``cacheCreationTokens`` = the writes, capped at ``input -
  cached``, ``inputTokens`` = ``input - cached - writes``, writes priced as cache creation.
* **Timestamps** are strings in the strict format of ``claude.records.parse_timestamp_ms``
  (surrounding blanks trimmed) or integers (milliseconds above 1e10, else seconds).
* **Models** come from ``model``, ``model_name`` or ``metadata.model``; ``codex-auto-review`` is
  replaced by the newest model released on or before the event's date.
* **Keys** hash ccusage's cross-file duplicate tuple (see ``dedup_key``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import msgspec

from bus.messages import UsageRecord
from services.collector.claude.records import parse_timestamp_ms

PROVIDER: Final = "codex"
KEY_PREFIX: Final = "codex:"
FALLBACK_MODEL: Final = "gpt-5"
"""What ccusage reports (with ``isFallback``) for usage no line names a model for."""
AUTO_REVIEW_MODEL: Final = "codex-auto-review"
AUTO_REVIEW_RELEASES: Final = (
    ("2026-04-23", "gpt-5.5"),
    ("2026-03-05", "gpt-5.4"),
    ("2026-02-05", "gpt-5.3-codex"),
    ("2025-12-11", "gpt-5.2-codex"),
    ("2025-11-13", "gpt-5.1-codex"),
    ("2025-09-15", "gpt-5-codex"),
)
"""Release dates (newest first) that ``codex-auto-review`` resolves against; earlier: gpt-5."""

_COUNT_MAX: Final = 2**63 - 1
_MS_THRESHOLD: Final = 10_000_000_000


class Usage(NamedTuple):
    """One token-count object as Codex logs it: ``input`` includes ``cached`` and
    ``cache_write``, ``output`` includes ``reasoning``, ``total`` is the logged total (see the
    module docstring). ``cache_write`` is last and defaults to 0, so the five-count totals of
    cursors written before it existed still load."""

    input: int
    cached: int
    output: int
    reasoning: int
    total: int
    cache_write: int = 0

    def minus(self, previous: Usage | None) -> Usage:
        """Field-by-field saturating difference (a counter that went backwards gives 0)."""
        if previous is None:
            return self
        return Usage(*(max(0, a - b) for a, b in zip(self, previous, strict=True)))

    def capped(self) -> Usage:
        """Cached input never exceeds input, nor cache writes what input is left (ccusage
        normalises every event this way)."""
        cached = min(self.cached, self.input)
        cache_write = min(self.cache_write, self.input - cached)
        if cached == self.cached and cache_write == self.cache_write:
            return self
        return self._replace(cached=cached, cache_write=cache_write)

    @property
    def empty(self) -> bool:
        """No input, cached, written, output or reasoning tokens (ccusage ignores ``total``)."""
        return not (self.input or self.cached or self.output or self.reasoning or self.cache_write)


class Stamp(NamedTuple):
    """A parsed timestamp: epoch milliseconds and the text ccusage keys duplicates on."""

    ms: int
    text: str


def count(value: Any) -> int | None:
    """A token count, or ``None`` when ``value`` is not one (ccusage's lenient u64 reading)."""
    if type(value) is int:
        return value if 0 <= value <= _COUNT_MAX else None
    if type(value) is str:
        text = value.strip()
        if text.isascii() and text.isdigit():
            number = int(text)
            return number if number <= _COUNT_MAX else None
    return None


def _first_count(obj: dict[str, Any], *keys: str) -> int:
    """The first of ``keys`` holding a usable count, else 0."""
    for key in keys:
        value = obj.get(key)
        if value is not None:
            number = count(value)
            if number is not None:
                return number
    return 0


def parse_usage(obj: dict[str, Any]) -> Usage:
    """A token-count object, with synonyms and the recomputed total (module docstring)."""
    get = obj.get
    a: Any = get("input_tokens")
    b: Any = get("cached_input_tokens")
    c: Any = get("output_tokens")
    d: Any = get("reasoning_output_tokens")
    e: Any = get("total_tokens")
    if (
        type(a) is int
        and type(b) is int
        and type(c) is int
        and type(d) is int
        and type(e) is int
        and min(a, b, c, d, e) >= 0
        and max(a, b, c, d, e) <= _COUNT_MAX
    ):
        # What Codex writes: the five canonical counts, all plain integers.
        return Usage(a, b, c, d, e or a + c, _cache_write(obj))
    input_tokens = _first_count(obj, "input_tokens", "prompt_tokens", "input")
    cached = _first_count(obj, "cached_input_tokens", "cache_read_input_tokens", "cached_tokens")
    output = _first_count(obj, "output_tokens", "completion_tokens", "output")
    reasoning = _first_count(obj, "reasoning_output_tokens", "reasoning_tokens")
    total = _first_count(obj, "total_tokens") or input_tokens + output
    return Usage(input_tokens, cached, output, reasoning, total, _cache_write(obj))


def _cache_write(obj: dict[str, Any]) -> int:
    """The cache writes of a token-count object (module docstring), 0 when it has none."""
    if "cache_write_input_tokens" not in obj and "cache_creation_input_tokens" not in obj:
        return 0  # what every Codex build before late 2026 writes: decided without a lookup loop
    return _first_count(obj, "cache_write_input_tokens", "cache_creation_input_tokens")


def parse_stamp(value: Any) -> Stamp | None:
    """A line's timestamp, or ``None`` when it is missing or unparsable.

    ccusage exits with "Invalid Codex timestamp" on an unparsable string; we skip the line
    instead (and the caller counts it as ``wrong_shape``).
    """
    if type(value) is str:
        text = value.strip()
        ms = parse_timestamp_ms(text)
        return None if ms is None else Stamp(ms, text)
    if type(value) is int and value >= 0:
        ms = value if value > _MS_THRESHOLD else value * 1000
        normalised = format_ms(ms)
        return None if normalised is None else Stamp(ms, normalised)
    return None


def format_ms(ms: int) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` for epoch milliseconds, as ccusage normalises numeric
    timestamps; ``None`` beyond the year 9999."""
    try:
        moment = datetime.fromtimestamp(ms // 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def model_of(obj: dict[str, Any]) -> str | None:
    """``model``, else ``model_name``, else ``metadata.model``: the first non-blank string."""
    for key in ("model", "model_name"):
        value = obj.get(key)
        if type(value) is str and (text := value.strip()):
            return text
    metadata = obj.get("metadata")
    if type(metadata) is dict:
        value = metadata.get("model")
        if type(value) is str and (text := value.strip()):
            return text
    return None


def resolve_auto_review(model: str, stamp_text: str) -> str | None:
    """The model ``codex-auto-review`` stands for on the event's date (the date as written in
    the timestamp, as ccusage reads it), or ``None`` for any other model."""
    if model != AUTO_REVIEW_MODEL:
        return None
    date = stamp_text[:10]
    for released_on, released in AUTO_REVIEW_RELEASES:
        if date >= released_on:
            return released
    return FALLBACK_MODEL


def dedup_key(stamp_text: str, model: str, usage: Usage) -> str:
    """``codex:`` + sha1 of ccusage's duplicate tuple ``(timestamp, model, input, cached,
    output, reasoning, total)``.

    ccusage drops an event whose tuple it has already seen in any file (a session copied or
    moved to another file, a file present under two roots); the store keeps one record per key,
    and since equal keys carry equal tokens the first copy simply stays. ``input`` is the raw
    input (cached included), ``cached`` is already capped, ``model`` is the resolved model and
    the timestamp is the text as logged (numeric ones normalised), all exactly as ccusage keys
    them. The tuple is JSON-encoded before hashing, so no separator can make two tuples collide.
    """
    # The five counts only: a key must never change meaning, and cache writes came later.
    payload = msgspec.json.encode((stamp_text, model, *usage[:5]))
    return KEY_PREFIX + hashlib.sha1(payload, usedforsecurity=False).hexdigest()


def to_record(stamp: Stamp, model: str, usage: Usage, project: str, session: str) -> UsageRecord:
    """The ``UsageRecord`` of one counted event.

    ``input`` is the input neither read from nor written to the cache (what ccusage reports as
    ``inputTokens``), ``cache_read`` the cached input, ``cache_write_5m`` the cache writes
    (priced at the model's cache-write rate), ``output`` includes reasoning (OpenAI bills
    reasoning as output), ``reasoning`` is informational and ``total`` is the logged total.
    """
    return UsageRecord(
        key=dedup_key(stamp.text, model, usage),
        provider=PROVIDER,
        ts_ms=stamp.ms,
        model=model,
        project=project,
        session=session,
        input=usage.input - usage.cached - usage.cache_write,
        output=usage.output,
        cache_write_5m=usage.cache_write,
        cache_read=usage.cached,
        reasoning=usage.reasoning,
        total=usage.total,
    )
