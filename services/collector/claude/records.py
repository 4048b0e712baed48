"""Turn one line of a Claude Code transcript into a ``UsageRecord``, counting as ccusage 20.0.24.

The rules (FORMATS.md section 2.3), in the order they apply:

1. Only lines holding the exact bytes ``"usage":{`` are looked at. Pretty-printed or spaced JSON
   is ignored, as ccusage ignores it; Claude Code always writes compact JSON.
2. A line where ``id``, ``cwd``, ``model``, ``speed``, ``costUSD``, ``version``, ``sessionId``,
   ``requestId``, ``isApiErrorMessage`` or either cache token count is ``:null`` is rejected
   (ccusage's schema does not allow those nulls).
3. The line is decoded strictly into Structs that declare only what is checked or used: token
   counts are non-negative integers (input and output required, cache counts default to 0),
   ``speed`` is ``standard`` or ``fast``, and every declared field must have its declared type.
4. ``timestamp`` must be ``YYYY-MM-DDTHH:MM:SS[.mmm](Z|+HH:MM|-HH:MM)``.
5. ``version`` must start with ``digits.digits.digit``; ``sessionId``, ``requestId``,
   ``message.id`` and ``message.model``, when present, must not be empty.
6. A line with no top-level ``message.usage`` but a nested ``data.message.message.usage`` is a
   subagent's record copied into the main transcript (FORMATS.md 2.3.8: Claude Code 2.1.x writes
   ``{"type":"progress","data":{"type":"agent_progress","message":{"type":"assistant",
   "timestamp":…,"requestId":…,"isSidechain":true,"message":{"id":…,"model":…,"usage":{…}}}}}``
   while a Task subagent runs). Its record is ``data.message`` itself, checked by rules 3-5: its
   own ``timestamp`` (required; the line's is ignored), ``requestId`` and ``isSidechain``. It has
   the same key as the copy in ``subagents/agent-<id>.jsonl``, so it counts once when that file
   exists, and alone when it is missing (as in real histories). ccusage 20.0.24 reads these only
   in ``daily`` (whatever the line's ``type``, probed); we read them in every report.

7. ``message.usage.server_tool_use.web_search_requests`` (FORMATS.md section 9, Claude Code
   builds of late 2026) is read into ``UsageRecord.web_search_requests``, billed per search
   apart from tokens. ccusage 20.0.24 ignores the field, so a malformed one counts 0 searches
   and never rejects the line: tokens stay exactly ccusage's.

``parse_line`` returns ``None`` for a line that is not a usage line at all (the common case, kept
cheap), a ``SkipReason`` for a usage line that was rejected (counted and reported), or the record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final, Literal

import msgspec

from bus.messages import UsageRecord
from services.collector.claude.dedup import dedup_key

PROVIDER: Final = "claude"
SYNTHETIC_MODEL: Final = "<synthetic>"
USAGE_MARKER: Final = b'"usage":{'

SkipReason = Literal["malformed_json", "invalid_utf8", "wrong_shape"]
"""Why a usage line was rejected; each value is the name of a ``SkipCounts`` field."""

# Keys whose ``null`` value makes ccusage reject the whole line, wherever they are nested.
_NON_NULLABLE: Final = frozenset(
    {
        b"id",
        b"cwd",
        b"model",
        b"speed",
        b"costUSD",
        b"version",
        b"sessionId",
        b"requestId",
        b"isApiErrorMessage",
        b"cache_read_input_tokens",
        b"cache_creation_input_tokens",
    }
)

# Token counts are unsigned 64-bit integers in ccusage: a float or a negative number fails the
# line. We cap at the signed 64-bit maximum instead (what SQLite stores and msgspec can bound);
# only absurd counts between 2**63 and 2**64 are treated differently.
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class _CacheCreation(msgspec.Struct, gc=False):
    """``message.usage.cache_creation``: cache writes split by time to live."""

    ephemeral_5m_input_tokens: Count = 0
    ephemeral_1h_input_tokens: Count = 0


class _Usage(msgspec.Struct, gc=False):
    """``message.usage``: what the response was billed for."""

    input_tokens: Count
    output_tokens: Count
    cache_creation_input_tokens: Count = 0
    cache_read_input_tokens: Count = 0
    cache_creation: _CacheCreation | None = None
    speed: Literal["standard", "fast"] | None = None
    server_tool_use: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    """Server-side tool calls (``{"web_search_requests":N,"web_fetch_requests":M}``, builds of
    late 2026), kept undecoded: ccusage 20.0.24 does not check it, so no shape of it may
    reject the line (see ``web_searches``)."""


class _ServerToolUse(msgspec.Struct, gc=False):
    """``message.usage.server_tool_use``: what is billed per call, apart from tokens."""

    web_search_requests: Count = 0


class _Message(msgspec.Struct, gc=False):
    """``message``: the API response. ``usage`` is optional here so that a user turn (whose
    message has no usage) decodes cleanly and is recognised as "not a usage line"."""

    usage: _Usage | None = None
    model: str | None = None
    id: str | None = None


class _Entry(msgspec.Struct, rename="camel", gc=False):
    """One transcript line. Fields that are never used are still declared when ccusage checks
    their type (``costUSD``, ``isApiErrorMessage``), so a wrongly typed one rejects the line."""

    message: _Message | None = None
    timestamp: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    version: str | None = None
    is_sidechain: bool | None = None
    is_api_error_message: bool | None = None
    cost_usd: float | None = msgspec.field(default=None, name="costUSD")
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    """An agent progress line's payload (rule 6), kept undecoded (empty when absent): only read
    when the line has no usage of its own, and never a reason to reject one that has."""


class _ProgressData(msgspec.Struct, gc=False):
    """``data`` of an agent progress line: the subagent's transcript entry it copies."""

    message: _Entry | None = None


_DECODER: Final = msgspec.json.Decoder(_Entry)
_PROGRESS_DECODER: Final = msgspec.json.Decoder(_ProgressData)
_TOOLS_DECODER: Final = msgspec.json.Decoder(_ServerToolUse)


def web_searches(usage: _Usage) -> int:
    """The response's billed web searches: 0 when ``server_tool_use`` is absent or has any
    other shape (ccusage ignores the field, so it never rejects a line or its tokens)."""
    if not usage.server_tool_use:
        return 0
    try:
        return _TOOLS_DECODER.decode(usage.server_tool_use).web_search_requests
    except msgspec.DecodeError:
        return 0


def parse_line(line: bytes, project: str, session: str) -> UsageRecord | SkipReason | None:
    """The usage record in one transcript line, a reason it was rejected, or ``None``.

    ``project`` and ``session`` come from the transcript's path (see ``roots``), so that session
    reports group exactly as ccusage's do, subagent files included.
    """
    if USAGE_MARKER not in line:
        return None
    return parse_marked_line(line, project, session)


def parse_marked_line(line: bytes, project: str, session: str) -> UsageRecord | SkipReason | None:
    """``parse_line`` for a line already known to hold ``"usage":{`` (the reader finds the
    marker in its whole chunk first, so checking the line again would be wasted work)."""
    if has_rejected_null(line):
        return _classify_rejected(line, "wrong_shape")
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            # ccusage 20.0.24 reads each line as a UTF-8 string first, so a usage line with a
            # broken byte anywhere (even inside ignored text) is dropped: we drop it too, but
            # count it.
            return "invalid_utf8"
    try:
        entry = _DECODER.decode(line)
    except msgspec.ValidationError:
        return _classify_rejected(line, "wrong_shape")
    except msgspec.DecodeError:
        return _classify_rejected(line, "malformed_json")
    except UnicodeDecodeError:
        return "invalid_utf8"
    message = entry.message
    if message is None or message.usage is None:
        if not entry.data:
            return None
        return _parse_progress(entry.data, line, project, session)
    return _to_record(entry, message, message.usage, line, project, session)


def _parse_progress(
    data: msgspec.Raw, line: bytes, project: str, session: str
) -> UsageRecord | SkipReason | None:
    """The subagent record nested in an agent progress line's ``data`` (rule 6), a reason it
    was rejected, or ``None`` when it nests no API response (hook or bash progress)."""
    try:
        nested = _PROGRESS_DECODER.decode(data).message
    except msgspec.ValidationError:
        return _classify_rejected(line, "wrong_shape")
    if nested is None or nested.message is None or nested.message.usage is None:
        return None
    return _to_record(nested, nested.message, nested.message.usage, line, project, session)


def _to_record(
    entry: _Entry, message: _Message, usage: _Usage, line: bytes, project: str, session: str
) -> UsageRecord | SkipReason:
    """Validate the decoded line the way ccusage does and build the record."""
    ts_ms = None if entry.timestamp is None else parse_timestamp_ms(entry.timestamp)
    if ts_ms is None or not _ids_valid(entry, message):
        return "wrong_shape"
    if usage.cache_creation is not None:
        write_5m = usage.cache_creation.ephemeral_5m_input_tokens
        write_1h = usage.cache_creation.ephemeral_1h_input_tokens
    else:
        # Older builds give only the total; ccusage prices it all at the 5-minute rate.
        write_5m = usage.cache_creation_input_tokens
        write_1h = 0
    model = message.model
    return UsageRecord(
        key=dedup_key(message.id, entry.request_id, session, line),
        provider=PROVIDER,
        ts_ms=ts_ms,
        # ``<synthetic>`` marks a local error stub: no model to report or price, tokens still count.
        model=None if model == SYNTHETIC_MODEL else model,
        project=project,
        session=session,
        input=usage.input_tokens,
        output=usage.output_tokens,
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        cache_read=usage.cache_read_input_tokens,
        speed=usage.speed,
        sidechain=entry.is_sidechain is True,
        web_search_requests=web_searches(usage),
    )


def _ids_valid(entry: _Entry, message: _Message) -> bool:
    """ccusage's schema: a present version looks like semver; present ids and model are not ''."""
    if entry.version is not None and not is_semver_prefix(entry.version):
        return False
    return (
        entry.session_id != ""
        and entry.request_id != ""
        and message.id != ""
        and message.model != ""
    )


def has_rejected_null(line: bytes) -> bool:
    """True when a non-nullable key (see ``_NON_NULLABLE``) is directly followed by ``:null``.

    The key is the quoted string just before each ``:null``, found by searching backwards for
    its quotes, exactly as ccusage does; ``"content":null`` or ``"stop_sequence":null`` are fine.
    """
    pos = line.find(b":null")
    while pos >= 0:
        end = line.rfind(b'"', 0, pos)
        if end > 0:
            start = line.rfind(b'"', 0, end)
            if start >= 0 and line[start + 1 : end] in _NON_NULLABLE:
                return True
        pos = line.find(b":null", pos + 5)
    return False


def _classify_rejected(line: bytes, reason: SkipReason) -> SkipReason | None:
    """Report a rejected line only if it really is a usage line (top-level ``message.usage``).

    Lines that merely contain ``"usage":{`` somewhere nested (a Task tool result quoting the
    subagent's usage) are not API responses: they are ignored, not counted as skips. An agent
    progress line's ``data.message.message.usage`` is one (rule 6). This runs only for rejected
    lines, so a full generic decode is affordable here.
    """
    try:
        obj = msgspec.json.decode(line)
    except UnicodeDecodeError:
        return "invalid_utf8"
    except msgspec.DecodeError:
        # Broken JSON cannot tell whether it was a usage line; it held the marker, so count it.
        return _malformed_reason(line)
    if not isinstance(obj, dict):
        return None
    if _has_usage(obj.get("message")):
        return reason
    data = obj.get("data")
    nested = data.get("message") if isinstance(data, dict) else None
    return reason if isinstance(nested, dict) and _has_usage(nested.get("message")) else None


def _has_usage(message: object) -> bool:
    """True when ``message`` is an object with a non-null ``usage`` (an API response)."""
    return isinstance(message, dict) and message.get("usage") is not None


def _malformed_reason(line: bytes) -> SkipReason:
    """``invalid_utf8`` when broken JSON is not even UTF-8 (a torn or binary write is the likelier
    story then), else ``malformed_json``."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    return "malformed_json"


def is_semver_prefix(version: str) -> bool:
    """True when ``version`` starts with ``<digits>.<digits>.<digit>`` (ASCII digits only)."""
    # A history holds a handful of versions, each on thousands of lines.
    known = _VERSION_CACHE.get(version)
    if known is None:
        if len(_VERSION_CACHE) >= _CACHE_MAX:
            _VERSION_CACHE.clear()
        known = _VERSION_CACHE[version] = _semver_prefix(version)
    return known


def _semver_prefix(version: str) -> bool:
    """``is_semver_prefix`` without the memo."""
    major, dot, rest = version.partition(".")
    if not dot or not _ascii_digits(major):
        return False
    minor, dot, rest = rest.partition(".")
    return bool(dot) and _ascii_digits(minor) and rest[:1].isascii() and rest[:1].isdigit()


def _ascii_digits(text: str) -> bool:
    """Non-empty and only ``0``-``9`` (``str.isdigit`` alone also accepts e.g. ``²``)."""
    return text.isascii() and text.isdigit()


# -- timestamps ------------------------------------------------------------------------------

_DAYS_BEFORE_MONTH: Final = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_MS_PER_DAY: Final = 86_400_000
_CACHE_MAX: Final = 4096
# Lines written in the same minute share their ``YYYY-MM-DDTHH:MM`` prefix, and a machine writes
# in one or two UTC offsets, so both parts are validated once and memoised.
_MINUTE_CACHE: dict[str, int | None] = {}
_ZONE_CACHE: dict[str, int | None] = {"Z": 0}
_VERSION_CACHE: dict[str, bool] = {}


def parse_timestamp_ms(ts: str) -> int | None:
    """UTC epoch milliseconds of ``YYYY-MM-DDTHH:MM:SS[.mmm](Z|+HH:MM|-HH:MM)``, else ``None``.

    Exactly 0 or 3 fractional digits, as ccusage requires: a microsecond timestamp is rejected.
    Written by hand because it runs once per usage line and must reject what ccusage rejects.
    """
    # What Claude Code writes, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in a minute validated before, takes
    # a few operations; anything else (and each new minute) takes the full check below.
    if len(ts) == 24 and ts[23] == "Z" and ts[19] == "." and ts[16] == ":":
        minute_ms = _MINUTE_CACHE.get(ts[:16])
        digits = ts[17:19] + ts[20:23]
        if minute_ms is not None and digits.isascii() and digits.isdigit():
            second_ms = int(digits)
            if second_ms < 60_000:
                return minute_ms + second_ms
    rest = ts[16:]
    size = len(rest)
    if size in (4, 9):  # ":SS" + zone
        digits, zone = rest[1:3] + "000", rest[3:]
    elif size in (8, 13) and rest[3:4] == ".":  # ":SS.mmm" + zone
        digits, zone = rest[1:3] + rest[4:7], rest[7:]
    else:
        return None
    if rest[0] != ":" or not _ascii_digits(digits):
        return None
    second_ms = int(digits)  # "SSmmm" read as one number is seconds * 1000 + milliseconds
    minute_ms = _cached(_MINUTE_CACHE, ts[:16], _minute_ms)
    offset = _cached(_ZONE_CACHE, zone, _zone_offset_minutes)
    if second_ms >= 60_000 or minute_ms is None or offset is None:
        return None
    return minute_ms + second_ms - offset * 60_000


def _cached(
    cache: dict[str, int | None], text: str, compute: Callable[[str], int | None]
) -> int | None:
    """``compute(text)`` through a small memo that is emptied when it grows too big."""
    try:
        return cache[text]
    except KeyError:
        pass
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    value = cache[text] = compute(text)
    return value


def _minute_ms(prefix: str) -> int | None:
    """Epoch milliseconds of ``YYYY-MM-DDTHH:MM`` (UTC wall clock), ``None`` if invalid."""
    if len(prefix) != 16 or prefix[10] != "T" or prefix[13] != ":":
        return None
    days = _epoch_day(prefix[:10])
    clock = prefix[11:13] + prefix[14:16]
    if days is None or not _ascii_digits(clock):
        return None
    hour, minute = int(clock[:2]), int(clock[2:])
    if hour > 23 or minute > 59:
        return None
    return days * _MS_PER_DAY + (hour * 60 + minute) * 60_000


def _epoch_day(date: str) -> int | None:
    """Days since 1970-01-01 of ``YYYY-MM-DD`` (proleptic Gregorian), ``None`` if invalid."""
    digits = date[0:4] + date[5:7] + date[8:10]
    if date[4] != "-" or date[7] != "-" or not _ascii_digits(digits):
        return None
    year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(month, leap):
        return None
    prior = year - 1
    # Days from 0001-01-01 to this date, minus the same count for 1970-01-01 (719162).
    ordinal = prior * 365 + prior // 4 - prior // 100 + prior // 400
    ordinal += _DAYS_BEFORE_MONTH[month] + (1 if leap and month > 2 else 0) + day - 1
    return ordinal - 719_162


def _days_in_month(month: int, leap: bool) -> int:
    """Length of ``month`` (1-12)."""
    if month == 2:
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _zone_offset_minutes(zone: str) -> int | None:
    """Minutes east of UTC for ``Z`` or ``+HH:MM``/``-HH:MM`` (HH <= 23, MM <= 59)."""
    if zone == "Z":
        return 0
    if len(zone) != 6 or zone[0] not in "+-" or zone[3] != ":":
        return None
    digits = zone[1:3] + zone[4:6]
    if not _ascii_digits(digits):
        return None
    hours, minutes = int(digits[0:2]), int(digits[2:4])
    if hours > 23 or minutes > 59:
        return None
    offset = hours * 60 + minutes
    return offset if zone[0] == "+" else -offset
