"""The per-file state machine that turns Codex log lines into usage records, as ccusage 20.0.24.

**Per-turn tokens** (FORMATS.md 3.3). Each ``event_msg``/``token_count`` line carries
``info.total_token_usage`` (a running sum) and ``info.last_token_usage`` (the latest call)::

    advanced = total is None or total != previous_totals
    raw = last if (last and advanced) else total - previous_totals   (per field, saturating)
    previous_totals = total                                          (whenever total is present)

so an identical re-emit of the totals counts nothing and a totals-only (legacy) file still
yields deltas. An event with no input, cached, output or reasoning tokens is dropped, and cached
input is capped at input.

**Model**: the line's ``payload`` model, else its ``info`` model, else the model of the last
``turn_context``, else ``gpt-5`` flagged as a fallback (ccusage's ``isFallback``; the flag has no
field in ``UsageRecord``, so the reader counts fallbacks in ``fallback_models`` instead). Once a
fallback was used it stays the current model, still flagged, until a real one is named.

**Forked and subagent sessions** (a first-line ``session_meta`` with ``forked_from_id`` or
``source.subagent.thread_spawn.parent_thread_id``) start by replaying the parent's token
counts. As in ccusage 20.0.24 they are skipped in two ways:

1. *Parent matching*: the parent's own counted events up to the fork time (the child's first
   line's timestamp) are compared one for one with the child's leading events; each match is
   skipped. The parent is looked up by session id through the ``parent_usage`` callback (the
   adapter finds the file whose name ends with that id under the same roots).
2. *Same-second burst*, when no parent event matches the child's first event (parent missing,
   or its history rewritten): if the file's first two usage-bearing ``token_count`` lines were
   written within the same second, every leading event of that second is skipped.

Skipped events still move ``previous_totals`` (the child's own first turn is a delta on top of
the replayed totals) but give no record and no rate limits. Rule 2 needs to see the *second*
usage line; when a read ends before it is written, the parser stops in front of the line that
needs the decision (the cursor stays before it) unless the file has been idle long enough to be
sure nothing more is coming.

**Prompts** (``event_msg`` ``user_message``, "Recent activity") follow the same rules. The key
hashes the rollout's session id (its ``session_meta`` ``id``), the line's timestamp as written and
the message (``prompt_key``), so a copy of the rollout (``sessions/`` and ``archived_sessions/``)
gives the same keys; a file's path, offsets and name play no part. A fork replays its parent's
``user_message`` lines (restamped), which belong to the parent: its leading user messages are
matched one for one, by a hash of their text, against the parent's up to the fork time
(``parent_prompts``) and skipped, or, when the first one matches none, skipped while they sit in
the fork's own second (the first line's). A subagent's session (``source.subagent``) has no
prompts at all: its user turns are the task the model wrote, as Claude's sidechains.

**Deliberate differences from ccusage 20.0.24**: a line with an unparsable timestamp is skipped
and counted as ``wrong_shape`` (ccusage aborts the whole report); ``previous_totals`` is not moved
by such a line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec

from bus.messages import LimitWindow, Prompt, SkipCounts, UsageRecord
from services.collector.codex.limits import latest_windows, shape_key
from services.collector.codex.records import (
    FALLBACK_MODEL,
    Stamp,
    Usage,
    format_ms,
    model_of,
    parse_stamp,
    parse_usage,
    resolve_auto_review,
    to_record,
)
from services.collector.prompts import prompt_text

UNKNOWN_PROJECT: Final = "unknown"

REPLAY_OFF: Final = 0
"""Not a fork, or past its replayed history: every event counts."""
REPLAY_MATCHING: Final = 1
"""A fork comparing its leading events with the parent's (``replay_index`` matched so far)."""
REPLAY_BURST: Final = 2
"""A fork skipping the leading events written in second ``burst_second``."""

ParentUsage = Callable[[str, int | None], Sequence[Usage]]
"""``(parent session id, fork time in ms or None) -> the parent's counted usage up to then``;
empty when the parent log cannot be found."""
ParentPrompts = Callable[[str, int | None], Sequence[str]]
"""``(parent session id, fork time in ms or None) -> the parent's user messages up to then``,
as ``prompt_mark`` hashes in file order; empty when the parent log cannot be found."""
Peek = Callable[[int], int | None]
"""``(file offset) -> epoch second of the next usage-bearing token_count line after it``, or
``None`` when no complete one has been written yet."""

# Words that must appear in any line the parser acts on; other lines are never decoded.
USAGE_MARKERS: Final = (
    b"token_count",
    b"turn_context",
    b"session_meta",
    b'"usage"',
)
MARKERS: Final = (*USAGE_MARKERS, b'"user_message"')
"""``USAGE_MARKERS`` and the prompts' (not looked for while ``[activity]`` is off)."""


class ParserState(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """Everything a file's next line depends on, carried in ``FileCursor.state``.

    Kept small: the fork fields are cleared once the replay is over.
    """

    totals: tuple[int, ...] | None = None
    """``previous_totals``: the last ``total_token_usage`` seen (input, cached, output,
    reasoning, total and, since cache writes were logged, cache writes: five or six counts)."""
    model: str | None = None
    """The current model (last ``turn_context`` or named model, or the fallback)."""
    model_guessed: bool = False
    """``model`` is the ``gpt-5`` fallback, not a model the log named."""
    cwd: str | None = None
    """The session's working directory: the project of its records."""
    replay: int = REPLAY_OFF
    parent_id: str | None = None
    forked_at_ms: int | None = None
    replay_index: int = 0
    burst_second: int | None = None
    usage_seconds: tuple[int, ...] = ()
    """Epoch seconds of the file's first two usage-bearing token_count lines (forks only)."""
    headless_stamp: str | None = None
    """The time given to ``codex exec --json`` usage lines that carry none (first read's mtime)."""
    session_id: str | None = None
    """The ``id`` the first ``session_meta`` names: part of every prompt key."""
    subagent: bool = False
    """The session is a subagent's (``source.subagent``): none of its user messages is a prompt."""
    prompt_replay: bool = False
    """A fork whose leading user messages are still the parent's (``prompt_index`` matched)."""
    prompt_index: int = 0


_encoder: Final = msgspec.msgpack.Encoder()
_state_decoder: Final = msgspec.msgpack.Decoder(ParserState)


def encode_state(state: ParserState) -> bytes:
    """The state as ``FileCursor.state`` bytes (empty for a fresh state)."""
    blob = _encoder.encode(state)
    return b"" if blob == _EMPTY_STATE else blob


def decode_state(blob: bytes) -> ParserState | None:
    """The state stored in a cursor; ``None`` when it cannot be decoded (the caller must then
    read the file again from the start)."""
    if not blob:
        return ParserState()
    try:
        return _state_decoder.decode(blob)
    except msgspec.DecodeError:
        return None


_EMPTY_STATE: Final = _encoder.encode(ParserState())


def _no_parent(parent_id: str, forked_at_ms: int | None) -> Sequence[Usage]:
    """The default ``parent_usage``: no parent log is ever found."""
    return ()


def _no_parent_prompts(parent_id: str, forked_at_ms: int | None) -> Sequence[str]:
    """The default ``parent_prompts``: no parent log is ever found."""
    return ()


def prompt_mark(message: str) -> str:
    """What a fork's replayed user message is matched on: a hash of its text."""
    return hashlib.sha1(message.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def prompt_key(session_id: str | None, stamp_text: str, message: str) -> str:
    """``codex:`` + sha1 of ``(session id, timestamp as written, message)``: the same in every
    copy of a rollout, distinct for the same text typed twice. A cursor written before the id
    was kept in the state gives ``""`` for it."""
    payload = msgspec.json.encode((session_id or "", stamp_text, message))
    return "codex:" + hashlib.sha1(payload, usedforsecurity=False).hexdigest()


class _Defer(Exception):
    """The current line needs a decision the bytes written so far cannot give yet."""


@dataclass(slots=True)
class _Tally:
    """Skip counters of one read."""

    malformed_json: int = 0
    invalid_utf8: int = 0
    wrong_shape: int = 0


@dataclass
class FileParser:
    """Feeds one file's lines, in order, through the rules in this module's docstring.

    ``session`` names the records; ``state`` is modified in place. ``replays`` switches fork
    replay skipping on (off when reading a parent's own stream). ``idle`` says the file has not
    changed for a while, so a missing second usage line will not come. ``peek`` looks ahead in
    the file (see ``Peek``). ``mtime_ms`` dates ``codex exec --json`` lines without a timestamp.
    ``parent_prompts`` finds a fork's parent's user messages (see ``ParentPrompts``);
    ``read_prompts`` off (``[activity] enabled = false``) ignores user messages altogether.
    """

    session: str
    state: ParserState = field(default_factory=ParserState)
    parent_usage: ParentUsage = _no_parent
    parent_prompts: ParentPrompts = _no_parent_prompts
    read_prompts: bool = True
    replays: bool = True
    idle: bool = True
    peek: Peek | None = None
    mtime_ms: int = 0
    records: list[UsageRecord] = field(default_factory=list)
    rate_limits: dict[tuple[object, ...], tuple[dict[str, Any], int]] = field(default_factory=dict)
    """The last ``rate_limits`` object (and its line's time) of each shape, in order of last
    appearance; parsed only when ``limits`` is asked for (most lines repeat the same ones)."""
    fallback_models: int = 0
    oversized: int = 0
    """Lines over the reader's hard cap, skipped unparsed (counted here, set by the reader)."""
    tally: _Tally = field(default_factory=_Tally)
    prompts: list[Prompt] = field(default_factory=list)
    """User prompts (``event_msg`` ``user_message``), in file order."""
    user_messages: list[tuple[int, str]] = field(default_factory=list)
    """``(epoch ms, prompt_mark)`` of every user message read that was not replayed, wrapped
    ones included: what a fork of this session is matched against."""

    @property
    def limits(self) -> list[LimitWindow]:
        """The last reading of each rate-limit window seen so far."""
        return latest_windows(self.rate_limits.values())

    @property
    def skipped(self) -> SkipCounts:
        """The skip counters as the wire type."""
        t = self.tally
        return SkipCounts(
            malformed_json=t.malformed_json,
            invalid_utf8=t.invalid_utf8,
            wrong_shape=t.wrong_shape,
        )

    def feed(self, line: bytes, start: int, end: int) -> bool:
        """Apply one complete line found at ``[start, end)`` in the file (``end`` just after its
        newline). False means the line was NOT consumed: stop and offer it again later."""
        try:
            obj = msgspec.json.decode(line)
        except UnicodeDecodeError:
            self._rejected(line, "invalid_utf8")
            return True
        except msgspec.DecodeError:
            self._rejected(line, None)
            return True
        if type(obj) is not dict:
            self._rejected(line, "wrong_shape")
            return True
        try:
            self._entry(obj, start, end)
        except _Defer:
            return False
        return True

    # -- line kinds ------------------------------------------------------------------------

    def _entry(self, obj: dict[str, Any], start: int, end: int) -> None:
        """Dispatch one decoded line on its ``type`` (and ``payload.type``)."""
        kind = obj.get("type")
        payload = obj.get("payload")
        if kind == "event_msg":
            if type(payload) is dict and payload.get("type") == "token_count":
                self._token_count(obj, payload, end)
                return
            if type(payload) is dict and payload.get("type") == "user_message":
                self._user_message(obj, payload)
                return
        elif kind == "turn_context":
            if type(payload) is dict:
                self._turn_context(payload)
            else:
                self.tally.wrong_shape += 1
            return
        elif kind == "session_meta":
            if type(payload) is not dict:
                self.tally.wrong_shape += 1
            elif start == 0:
                self._session_meta(obj, payload)
            return
        self._headless(obj, end)

    def _user_message(self, obj: dict[str, Any], payload: dict[str, Any]) -> None:
        """A prompt the person typed (``environment_context`` and instructions come as
        ``response_item`` lines and never reach here; wrapped text is dropped too), unless it
        is the parent's, replayed by a fork, or a subagent's task."""
        if not self.read_prompts:
            return
        message = payload.get("message")
        stamp = parse_stamp(obj.get("timestamp"))
        if type(message) is not str or stamp is None:
            return
        mark = prompt_mark(message)
        if self._replayed_prompt(mark, stamp):
            return
        self.user_messages.append((stamp.ms, mark))
        text = prompt_text([message])
        if text is None or self.state.subagent:
            return
        self.prompts.append(
            Prompt(
                key=prompt_key(self.state.session_id, stamp.text, message),
                provider="codex",
                ts_ms=stamp.ms,
                project=self.state.cwd or UNKNOWN_PROJECT,
                session=self.session,
                text=text,
            )
        )

    def _replayed_prompt(self, mark: str, stamp: Stamp) -> bool:
        """Whether a user message is the parent's, replayed by a fork (the module docstring);
        updates the matching state."""
        state = self.state
        if not state.prompt_replay:
            return False
        parent = self.parent_prompts(state.parent_id or "", state.forked_at_ms)
        index = state.prompt_index
        if index < len(parent) and parent[index] == mark:
            state.prompt_index = index + 1
            return True
        forked_at = state.forked_at_ms
        if index == 0 and forked_at is not None and stamp.ms // 1000 == forked_at // 1000:
            return True
        state.prompt_replay = False
        state.prompt_index = 0
        return False

    def _session_meta(self, obj: dict[str, Any], payload: dict[str, Any]) -> None:
        """The file's first line: working directory and, for forks, the parent and fork time.

        Forks also copy their ancestors' ``session_meta`` lines further down; only the first
        line counts, as in ccusage.
        """
        state = self.state
        cwd = payload.get("cwd")
        if type(cwd) is str and cwd.strip():
            state.cwd = cwd
        session_id = payload.get("id")
        if type(session_id) is str and session_id.strip():
            state.session_id = session_id.strip()
        source = payload.get("source")
        state.subagent = type(source) is dict and "subagent" in source
        parent = _parent_id(payload)
        if parent is not None and self.replays:
            stamp = parse_stamp(obj.get("timestamp"))
            state.replay = REPLAY_MATCHING
            state.prompt_replay = True
            state.parent_id = parent
            state.forked_at_ms = None if stamp is None else stamp.ms

    def _turn_context(self, payload: dict[str, Any]) -> None:
        """A new turn: its model becomes the current one (and its cwd the project if the
        session's first line named none)."""
        state = self.state
        model = model_of(payload)
        if model is not None:
            state.model = model
            state.model_guessed = False
        if state.cwd is None:
            cwd = payload.get("cwd")
            if type(cwd) is str and cwd.strip():
                state.cwd = cwd

    def _token_count(self, obj: dict[str, Any], payload: dict[str, Any], end: int) -> None:
        """One ``token_count`` event: a delta, rate limits, or both."""
        stamp = parse_stamp(obj.get("timestamp"))
        info = payload.get("info")
        if stamp is None or (info is not None and type(info) is not dict):
            self.tally.wrong_shape += 1
            return
        total = last = None
        if info is not None:
            total_obj = info.get("total_token_usage")
            last_obj = info.get("last_token_usage")
            if (total_obj is not None and type(total_obj) is not dict) or (
                last_obj is not None and type(last_obj) is not dict
            ):
                self.tally.wrong_shape += 1
                return
            total = None if total_obj is None else parse_usage(total_obj)
            last = None if last_obj is None else parse_usage(last_obj)
        state = self.state
        previous = None if state.totals is None else Usage(*state.totals)
        if last is not None and (total is None or total != previous):
            raw: Usage | None = last
        elif total is not None:
            raw = total.minus(previous)
        else:
            raw = None
        event = None if raw is None or raw.capped().empty else raw.capped()
        usage_bearing = total is not None or last is not None

        seconds = state.usage_seconds
        if usage_bearing and state.replay != REPLAY_OFF and len(seconds) < 2:
            seconds = (*seconds, stamp.ms // 1000)
        replayed = event is not None and self._replayed(event, stamp, seconds, end)
        # Nothing below may raise _Defer: from here on the line is consumed.
        if total is not None:
            state.totals = tuple(total) if total.cache_write else tuple(total[:5])
        if state.replay != REPLAY_OFF:
            state.usage_seconds = seconds
        if event is not None:
            named = model_of(payload) or (None if info is None else model_of(info))
            model, guessed = self._model(named, stamp)
            if not replayed:
                self._count(stamp, model, guessed, event)
        rate_limits = payload.get("rate_limits")
        if not replayed and type(rate_limits) is dict:
            key = shape_key(rate_limits)
            self.rate_limits.pop(key, None)
            self.rate_limits[key] = (rate_limits, stamp.ms)

    def _headless(self, obj: dict[str, Any], end: int) -> None:
        """A ``codex exec --json`` line (``{"type":"turn.completed","usage":{…}}``): per-turn
        usage at the top level or under ``data``/``result``/``response``; ccusage counts these
        wherever they appear. Their timestamp, when they have none, is the file's mtime when it
        was first read (ccusage uses the current mtime, which a re-read must not change)."""
        usage = _headless_usage(obj)
        if usage is None:
            return
        usage = usage.capped()
        if usage.empty and not usage.total:
            return
        stamp = _headless_stamp(obj)
        if stamp is None:
            state = self.state
            if state.headless_stamp is None:
                state.headless_stamp = format_ms(self.mtime_ms)
            stamp = parse_stamp(state.headless_stamp)
            if stamp is None:
                self.tally.wrong_shape += 1
                return
        replayed = self._replayed(usage, stamp, self.state.usage_seconds, end)
        model, guessed = self._model(_headless_model(obj), stamp)
        if not replayed:
            self._count(stamp, model, guessed, usage)

    # -- shared steps ----------------------------------------------------------------------

    def _model(self, named: str | None, stamp: Stamp) -> tuple[str, bool]:
        """The event's model given the one its line ``named``, and whether it is the ``gpt-5``
        guess; updates the current model."""
        state = self.state
        if named is not None:
            state.model = named
            state.model_guessed = False
        elif state.model is None:
            state.model = FALLBACK_MODEL
            state.model_guessed = True
        model = state.model
        guessed = state.model_guessed and named is None
        return resolve_auto_review(model, stamp.text) or model, guessed

    def _count(self, stamp: Stamp, model: str, guessed: bool, usage: Usage) -> None:
        """Emit the record of one counted event."""
        project = self.state.cwd or UNKNOWN_PROJECT
        self.records.append(to_record(stamp, model, usage, project, self.session))
        self.fallback_models += guessed

    def _replayed(self, event: Usage, stamp: Stamp, seconds: tuple[int, ...], end: int) -> bool:
        """Whether ``event`` is replayed parent history (see the module docstring); updates the
        replay state. Raises ``_Defer`` before changing anything when it cannot tell yet."""
        state = self.state
        if state.replay == REPLAY_OFF or not self.replays:
            return False
        if state.replay == REPLAY_MATCHING:
            index = state.replay_index
            prefix = self.parent_usage(state.parent_id or "", state.forked_at_ms)
            if index < len(prefix) and prefix[index] == event:
                if index + 1 < len(prefix):
                    state.replay_index = index + 1
                else:
                    self._replay_over()
                return True
            if index > 0:
                self._replay_over()
                return False
            burst = self._burst_second(seconds, end)
            if burst is None:
                self._replay_over()
                return False
            state.replay = REPLAY_BURST
            state.burst_second = burst
            state.replay_index = 0
        if stamp.ms // 1000 == state.burst_second:
            return True
        self._replay_over()
        return False

    def _burst_second(self, seconds: tuple[int, ...], end: int) -> int | None:
        """The second of the file's leading replay burst, if its first two usage lines share
        one; looks ahead in the file when only one has been seen."""
        if len(seconds) < 2 and self.peek is not None:
            following = self.peek(end)
            if following is not None:
                seconds = (*seconds, following)
        if len(seconds) >= 2:
            return seconds[0] if seconds[0] == seconds[1] else None
        if self.idle:
            return None
        raise _Defer

    def _replay_over(self) -> None:
        """Past the replayed history: forget the fork bookkeeping."""
        state = self.state
        state.replay = REPLAY_OFF
        state.replay_index = 0
        state.burst_second = None
        state.usage_seconds = ()

    def _rejected(self, line: bytes, reason: Literal["invalid_utf8", "wrong_shape"] | None) -> None:
        """Count a line that failed to decode, if it looks like one the parser acts on.

        ``reason`` ``None`` means broken JSON: ``invalid_utf8`` if the bytes are not UTF-8 at all,
        else ``malformed_json``. A broken line that only mentions a marker word in passing
        (say, source code quoted in a tool output) is not a usage line and is not counted.
        """
        if not looks_like_usage_line(line):
            return
        if reason is None:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                reason = "invalid_utf8"
        if reason is None:
            self.tally.malformed_json += 1
        else:
            setattr(self.tally, reason, getattr(self.tally, reason) + 1)


def looks_like_usage_line(line: bytes) -> bool:
    """True when ``line`` has a top-level-looking ``"type":"token_count"`` (or turn_context,
    session_meta) or a ``"usage":`` key, allowing blanks around the colon."""
    return _USAGE_LINE.search(line) is not None


def usage_second(line: bytes) -> int | None:
    """The epoch second of a usage-bearing ``token_count`` line (one whose ``info`` has a total
    or a last usage and whose timestamp parses), else ``None``. Used to look ahead for forks."""
    if b"token_count" not in line:
        return None
    try:
        obj = msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if type(obj) is not dict or obj.get("type") != "event_msg":
        return None
    payload = obj.get("payload")
    if type(payload) is not dict or payload.get("type") != "token_count":
        return None
    info = payload.get("info")
    if type(info) is not dict:
        return None
    if info.get("total_token_usage") is None and info.get("last_token_usage") is None:
        return None
    stamp = parse_stamp(obj.get("timestamp"))
    return None if stamp is None else stamp.ms // 1000


def _parent_id(payload: dict[str, Any]) -> str | None:
    """``forked_from_id``, else ``source.subagent.thread_spawn.parent_thread_id`` (non-empty)."""
    forked = payload.get("forked_from_id")
    if type(forked) is str and forked:
        return forked
    node: Any = payload.get("source")
    for key in ("subagent", "thread_spawn", "parent_thread_id"):
        if type(node) is not dict:
            return None
        node = node.get(key)
    return node if type(node) is str and node else None


_SECTIONS: Final = ("data", "result", "response")
_STAMP_KEYS: Final = ("timestamp", "created_at", "createdAt")


def _headless_model(obj: dict[str, Any]) -> str | None:
    """The line's model, else the first one named under ``data``/``result``/``response``."""
    for holder in (obj, *(obj.get(key) for key in _SECTIONS)):
        if type(holder) is dict and (model := model_of(holder)) is not None:
            return model
    return None


def _headless_usage(obj: dict[str, Any]) -> Usage | None:
    """``usage`` at the top level, else under ``data``/``result``/``response``."""
    usage = obj.get("usage")
    if type(usage) is dict:
        return parse_usage(usage)
    for key in _SECTIONS:
        section = obj.get(key)
        if type(section) is dict and type(section.get("usage")) is dict:
            return parse_usage(section["usage"])
    return None


def _headless_stamp(obj: dict[str, Any]) -> Stamp | None:
    """The first parsable ``timestamp``/``created_at``/``createdAt`` at the top level, else in
    ``data``/``result``/``response``, normalised to ``YYYY-MM-DDTHH:MM:SS.mmmZ`` as ccusage
    does for these lines."""
    for holder in (obj, *(obj.get(key) for key in _SECTIONS)):
        if type(holder) is not dict:
            continue
        for key in _STAMP_KEYS:
            stamp = parse_stamp(holder.get(key))
            if stamp is not None:
                text = format_ms(stamp.ms)
                return stamp if text is None else Stamp(stamp.ms, text)
    return None


_USAGE_LINE: Final = re.compile(
    rb'"type"\s*:\s*"(?:token_count|turn_context|session_meta)"|"usage"\s*:'
)
