"""Turn Gemini CLI chat lines and documents into ``UsageRecord``s, counting as ccusage 20.0.24.

The rules (FORMATS.md sections 4.2 and 4.3; ccusage's Gemini parser), in the order they apply:

1. Every line of a JSONL chat is decoded leniently: a field of an unexpected type is treated as
   absent, never as an error (ccusage does the same). A line that is not JSON, not UTF-8 where
   it matters, or not a JSON object is skipped and counted.
2. A line carrying ``sessionId`` (or ``session_id``) sets the session of the lines that follow;
   a line carrying ``model`` sets the current model. Both are non-empty strings, trimmed.
3. A ``type:"gemini"`` line **with** ``tokens`` is a billed response; without ``tokens`` it is
   the first copy of a message whose tokens have not arrived yet, and is ignored. ``$set`` and
   ``$rewindTo`` lines change nothing: rewound turns were billed and still count.
4. A line that is not a model message but carries headless ``stats`` (or ``result.stats``) gives
   one record per ``stats.models.<model>.tokens``, or one from ``stats`` itself.
5. Token counts (``normalize``): when ``cached > 0`` and ``total == input + output + thoughts +
   tool`` the logged ``input`` includes the cache, so ``input - cached`` is the uncached input;
   otherwise ``input`` is taken as already excluding the cache (so a record **without** ``total``
   counts its cache twice, as ccusage does). ``stats`` records always subtract the cache.
   Record ``input`` = uncached input + ``tool``; ``cache_read`` = ``cached``; ``output`` =
   ``output``; ``reasoning`` = ``thoughts`` (billed as output). Any part of ``total`` not
   explained by these goes to ``output`` when it is 0, else to ``reasoning``.
   Record ``total`` is ccusage's ``totalTokens``: the logged total (or the sum of the parts
   when none is logged), but never less than input + output + cache read.
   A response whose counts are all zero gives no record.
6. The timestamp is the message's ``timestamp`` (else ``created_at``) in ccusage's strict format;
   failing that, the file's mtime (JSONL) or the chat's ``startTime``/``lastUpdated`` (legacy
   JSON).
7. A ``type:"user"`` message is read as a prompt (``prompts``), in the session and project its
   replies' records get, so the store attributes them to it.

**Deliberate difference from ccusage 20.0.24:** a model message with tokens but no model (none on
the line and none seen before it) is dropped by ccusage; here it is counted under the model
``unknown`` and reported (``Collected.unknown_model``), so its tokens are visible and it is shown
as unpriced rather than silently missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

import msgspec

from bus.messages import Prompt, UsageRecord
from services.collector.claude.records import parse_timestamp_ms
from services.collector.gemini.dedup import (
    PROVIDER,
    line_key,
    message_key,
    stats_key,
    wins_gemini,
)
from services.collector.gemini.prompts import USER_TYPE, parse_prompt

UNKNOWN_MODEL: Final = "unknown"
"""The model of a record whose file never names one (ccusage's default for ``stats`` records)."""
MAX_COUNT: Final = 2**63 - 1
"""Token counts are clamped here: what SQLite stores (ccusage saturates at 2**64 - 1)."""

SkipReason = Literal["malformed_json", "invalid_utf8", "wrong_shape"]
"""Why a line or document was rejected; each value is the name of a ``SkipCounts`` field."""

_INPUT_KEYS: Final = ("input", "prompt", "input_tokens", "prompt_tokens")
_OUTPUT_KEYS: Final = ("output", "candidates", "output_tokens", "candidates_tokens")
_CACHED_KEYS: Final = ("cached", "cached_tokens")
_THOUGHTS_KEYS: Final = ("thoughts", "reasoning", "thoughts_tokens", "reasoning_tokens")
_TOOL_KEYS: Final = ("tool", "tool_tokens")


# -- token counts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tokens:
    """A ``tokens`` object as logged (``GenerateContentResponseUsageMetadata``)."""

    input: int = 0
    output: int = 0
    cached: int = 0
    thoughts: int = 0
    tool: int = 0
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as ccusage counts them (rule 5 of this module's docstring)."""

    input: int
    output: int
    cache_read: int
    reasoning: int
    total: int


def parse_tokens(value: dict[str, Any]) -> Tokens:
    """The counts of a ``tokens`` (or ``stats``) object, under any of ccusage's key aliases.

    A count is any JSON number, negative ones read as 0 and fractions truncated; a value of
    another type is ignored (the next alias, else 0). ``total`` (else ``total_tokens``) stays
    ``None`` when not logged.
    """
    total_raw = value["total"] if "total" in value else value.get("total_tokens")
    return Tokens(
        input=_first_count(value, _INPUT_KEYS),
        output=_first_count(value, _OUTPUT_KEYS),
        cached=_first_count(value, _CACHED_KEYS),
        thoughts=_first_count(value, _THOUGHTS_KEYS),
        tool=_first_count(value, _TOOL_KEYS),
        total=count_of(total_raw),
    )


def normalize(tokens: Tokens, *, always_subtract_cache: bool = False) -> Usage | None:
    """ccusage's counts for one response, or ``None`` when every count is zero.

    Chat records subtract the cache from ``input`` only when ``total`` shows that ``input``
    includes it; ``stats`` records (``always_subtract_cache``) always do.
    """
    inclusive = tokens.input + tokens.output + tokens.thoughts + tokens.tool
    if always_subtract_cache or (tokens.cached > 0 and tokens.total == inclusive):
        uncached = tokens.input - min(tokens.input, tokens.cached)
    else:
        uncached = tokens.input
    input_tokens = uncached + tokens.tool
    cache_read = tokens.cached
    known = input_tokens + tokens.output + cache_read + tokens.thoughts
    total = known if tokens.total is None else tokens.total
    output, reasoning = tokens.output, tokens.thoughts
    missing = total - known
    if missing > 0:
        if output == 0:
            output = missing
        else:
            reasoning += missing
    if not (input_tokens or output or cache_read or reasoning):
        return None
    # ccusage reports totalTokens as input + output + cache read plus whatever of the total
    # exceeds them: a logged total smaller than those three is raised to their sum.
    total = max(total, input_tokens + output + cache_read)
    return Usage(
        input=min(input_tokens, MAX_COUNT),
        output=min(output, MAX_COUNT),
        cache_read=min(cache_read, MAX_COUNT),
        reasoning=min(reasoning, MAX_COUNT),
        total=min(total, MAX_COUNT),
    )


def count_of(value: object) -> int | None:
    """A token count from a JSON value as ccusage reads it, or ``None`` if it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return min(max(value, 0), MAX_COUNT)
    if isinstance(value, float) and math.isfinite(value):
        return min(int(max(value, 0.0)), MAX_COUNT)
    return None


def _first_count(value: dict[str, Any], keys: tuple[str, ...]) -> int:
    """The first alias in ``keys`` holding a number, else 0."""
    for key in keys:
        found = count_of(value.get(key))
        if found is not None:
            return found
    return 0


# -- decoding ------------------------------------------------------------------------------------


class _Fields(msgspec.Struct, gc=False):
    """What ccusage reads of a line or message. Every field accepts any JSON type and is checked
    where it is used, so an oddly typed field never rejects the line; undeclared fields (the
    message text, tool calls) are skipped without being materialised."""

    type: Any = None
    session_id_camel: Any = msgspec.field(default=None, name="sessionId")
    session_id: Any = None
    model: Any = None
    id: Any = None
    timestamp: Any = None
    created_at: Any = None
    tokens: Any = None
    stats: Any = None
    result: Any = None

    def session(self) -> str | None:
        """``sessionId``, else ``session_id``, when a non-empty string."""
        return non_empty(self.session_id_camel) or non_empty(self.session_id)

    def headless_stats(self) -> Any:
        """``stats``, else ``result.stats``."""
        if self.stats is not None:
            return self.stats
        return self.result.get("stats") if isinstance(self.result, dict) else None

    def timestamp_ms(self) -> int | None:
        """``timestamp``, else ``created_at``, when in ccusage's strict format."""
        found = timestamp_of(self.timestamp)
        return timestamp_of(self.created_at) if found is None else found


class _Document(_Fields, gc=False):
    """A whole ``.json`` file: a legacy chat, a single message, or a headless output."""

    start_time: Any = msgspec.field(default=None, name="startTime")
    last_updated: Any = msgspec.field(default=None, name="lastUpdated")
    messages: msgspec.Raw = msgspec.Raw()


_LINE_DECODER: Final = msgspec.json.Decoder(_Fields)
_DOCUMENT_DECODER: Final = msgspec.json.Decoder(_Document)
_MESSAGES_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw])


def non_empty(value: object) -> str | None:
    """A string field trimmed, or ``None`` when it is not a string or is blank."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text or None


def timestamp_of(value: object) -> int | None:
    """Epoch milliseconds of a strict-format timestamp string, else ``None``."""
    return parse_timestamp_ms(value) if isinstance(value, str) else None


_T = TypeVar("_T")


def _decode(decoder: msgspec.json.Decoder[_T], raw: bytes | msgspec.Raw) -> _T | SkipReason:
    """``decoder.decode(raw)``, or the ``SkipReason`` it fails with."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        return "wrong_shape"
    except msgspec.DecodeError:
        return _malformed_reason(raw)
    except UnicodeDecodeError:
        return "invalid_utf8"


def _malformed_reason(raw: bytes) -> SkipReason:
    """``invalid_utf8`` when broken JSON is not even UTF-8 (a torn or binary write is the likelier
    story then), else ``malformed_json``."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    return "malformed_json"


# -- records -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Collected:
    """Records of one read, keyed (the last copy of a key within the read wins), the keys
    that needed a stand-in model or timestamp, for the adapter to report, and the user prompts
    (``prompts.parse_prompt``; the first copy of a key wins) unless ``read_prompts`` is off."""

    project: str
    sidechain: bool = False
    read_prompts: bool = True
    records: dict[str, UsageRecord] = field(default_factory=dict)
    unknown_model: set[str] = field(default_factory=set)
    fallback_timestamp: set[str] = field(default_factory=set)
    prompts: dict[str, Prompt] = field(default_factory=dict)

    def user(self, raw: bytes, session: str) -> None:
        """A ``type:"user"`` message: its prompt, in the session its replies' records get.

        A subagent's chat has none: its user turns are the task the model wrote.
        """
        if not self.read_prompts or self.sidechain:
            return
        prompt = parse_prompt(raw, self.project, session)
        if prompt is not None:
            self.prompts.setdefault(prompt.key, prompt)

    def add(
        self,
        key: str,
        usage: Usage,
        model: str | None,
        session: str,
        ts_ms: int | None,
        fallback_ms: int,
        revision: int,
    ) -> None:
        """Build the record of one response and keep it unless a later copy is already kept."""
        if model is None:
            model = UNKNOWN_MODEL
            self.unknown_model.add(key)
        if ts_ms is None:
            ts_ms = fallback_ms
            self.fallback_timestamp.add(key)
        record = UsageRecord(
            key=key,
            provider=PROVIDER,
            ts_ms=ts_ms,
            model=model,
            project=self.project,
            session=session,
            input=usage.input,
            output=usage.output,
            cache_read=usage.cache_read,
            sidechain=self.sidechain,
            reasoning=usage.reasoning,
            revision=revision,
            total=usage.total,
        )
        old = self.records.get(key)
        if old is None or wins_gemini(record, old):
            self.records[key] = record

    def message(
        self,
        fields: _Fields,
        raw: bytes,
        model: str | None,
        session: str,
        fallback_ms: int,
        revision: int,
    ) -> SkipReason | None:
        """A ``type:"gemini"`` message: its record if it has tokens (rule 3)."""
        tokens = fields.tokens
        if tokens is None:
            return None
        if not isinstance(tokens, dict):
            return "wrong_shape"
        usage = normalize(parse_tokens(tokens))
        if usage is None:
            return None
        message_id = non_empty(fields.id)
        key = line_key(session, raw) if message_id is None else message_key(session, message_id)
        self.add(key, usage, model, session, fields.timestamp_ms(), fallback_ms, revision)
        return None

    def stats(
        self,
        stats: object,
        raw: bytes,
        model: str | None,
        session: str,
        ts_ms: int,
        revision: int,
    ) -> None:
        """Headless ``stats``: one record per model of ``stats.models``, else one from ``stats``
        itself under ``model`` (rule 4). The cache is always subtracted from the prompt."""
        if not isinstance(stats, dict):
            return
        found = False
        models = stats.get("models")
        if isinstance(models, dict):
            for name, data in models.items():
                tokens = data.get("tokens") if isinstance(data, dict) else None
                if not isinstance(tokens, dict) or not name.strip():
                    continue
                usage = normalize(parse_tokens(tokens), always_subtract_cache=True)
                if usage is not None:
                    key = stats_key(session, raw, name)
                    self.add(key, usage, name, session, ts_ms, ts_ms, revision)
                    found = True
        if found:
            return
        usage = normalize(parse_tokens(stats), always_subtract_cache=True)
        if usage is not None:
            key = stats_key(session, raw, model or UNKNOWN_MODEL)
            self.add(key, usage, model, session, ts_ms, ts_ms, revision)


class ChatParser:
    """Reads a JSONL chat line by line, carrying the session and current model (rule 2) from
    one line to the next: their values after the last line read are what a cursor keeps."""

    def __init__(
        self,
        collected: Collected,
        session: str,
        model: str | None = None,
        *,
        fallback_ms: int = 0,
    ) -> None:
        self.collected = collected
        self.session = session
        self.model = model
        self.fallback_ms = fallback_ms
        """Timestamp of a response that has none: the file's mtime, as in ccusage."""

    def feed(self, line: bytes, offset: int) -> SkipReason | None:
        """Read one line (without its newline) that starts at byte ``offset`` of the file."""
        if not line.strip():
            return None
        fields = _decode(_LINE_DECODER, line)
        if isinstance(fields, str):
            return fields
        session = fields.session()
        if session is not None:
            self.session = session
        model = non_empty(fields.model)
        if model is not None:
            self.model = model
        if fields.type == "gemini":
            return self.collected.message(
                fields, line, self.model, self.session, self.fallback_ms, offset
            )
        if fields.type == USER_TYPE:
            self.collected.user(line, self.session)
            return None
        stats = fields.headless_stats()
        if stats is not None:
            ts_ms = fields.timestamp_ms()
            ts_ms = self.fallback_ms if ts_ms is None else ts_ms
            self.collected.stats(stats, line, self.model, self.session, ts_ms, offset)
        return None


def parse_document(
    collected: Collected, content: bytes, session: str, mtime_ms: int
) -> tuple[str, list[SkipReason]]:
    """Read a whole ``.json`` file; return its session and why parts of it were rejected.

    A legacy chat (``messages[]``) gives a record per ``type:"gemini"`` message with tokens, whose
    ``revision`` is its index in ``messages``, and a prompt per ``type:"user"`` one; a bare
    ``type:"gemini"`` object gives one record; anything else is read as headless output
    (``stats``). ``session`` is the file stem, used when the document names none. An empty file
    is not (yet) a document and gives nothing.
    """
    if not content.strip():
        return session, []
    doc = _decode(_DOCUMENT_DECODER, content)
    if isinstance(doc, str):
        return session, [doc]
    session = doc.session() or session
    messages = _messages(doc)
    if messages is not None:
        start = timestamp_of(doc.start_time)
        if start is None:
            start = timestamp_of(doc.last_updated)
        fallback_ms = mtime_ms if start is None else start
        skipped: list[SkipReason] = []
        for index, entry in enumerate(messages):
            raw = bytes(entry)
            fields = _decode(_LINE_DECODER, raw)
            if isinstance(fields, str):
                continue  # ccusage reads only the objects of ``messages``
            if fields.type == USER_TYPE:
                collected.user(raw, session)
                continue
            if fields.type != "gemini":
                continue
            model = non_empty(fields.model)
            reason = collected.message(fields, raw, model, session, fallback_ms, index)
            if reason is not None:
                skipped.append(reason)
        return session, skipped
    if doc.type == "gemini":
        reason = collected.message(doc, content, non_empty(doc.model), session, mtime_ms, 0)
        return session, [] if reason is None else [reason]
    ts_ms = doc.timestamp_ms()
    ts_ms = mtime_ms if ts_ms is None else ts_ms
    collected.stats(doc.headless_stats(), content, non_empty(doc.model), session, ts_ms, 0)
    return session, []


def _messages(doc: _Document) -> list[msgspec.Raw] | None:
    """The entries of a legacy chat's ``messages``, or ``None`` when it is not an array."""
    if not len(doc.messages):
        return None
    decoded = _decode(_MESSAGES_DECODER, doc.messages)
    return None if isinstance(decoded, str) else decoded
