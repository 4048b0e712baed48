"""Seedable generator of realistic Gemini CLI chat trees, with their own ground truth.

Layout and record shapes follow FORMATS.md §4. The tree is a ``~/.gemini``::

    <root>/projects.json                                               path -> project slug
    <root>/tmp/<project-id>/logs.json                                  user prompts only
    <root>/tmp/<project-id>/chats/session-YYYY-MM-DDTHH-MM-<8>.jsonl   current chats
    <root>/tmp/<project-id>/chats/session-YYYY-MM-DDTHH-MM-<8>.json    legacy single-JSON chats
    <root>/tmp/<project-id>/chats/<parentSessionId>/<sessionId>.jsonl  subagent chats

``<project-id>`` is a slug, or for one older project ``sha256(projectRoot)`` in hex.

Ground truth (computed here while writing, never by parsing what was written), as ccusage
20.0.24 reads it (FORMATS §4.3):

- A ``type:"gemini"`` message counts once per file and ``id``: the last copy that carries
  ``tokens`` (a message is re-appended when its tokens, then its tool calls, arrive).
  ``$set``, ``$rewindTo`` (rewound turns were billed and still count), ``info`` messages and
  malformed lines count nothing.
- Normalisation: when ``cached > 0`` and ``total == input + output + thoughts + tool``, the
  cached part is taken out of ``input``; `ExpectedRecord.input` = that non-cached input
  + ``tool``, ``cache_read = cached``, ``reasoning = thoughts``, ``total`` = the logged total
  (or the sum of the parts when absent).

``quirk`` names what ccusage counts or prices differently from the provider: ``no_total`` (a
record without ``total``: ccusage then takes ``input`` as excluding the cache, so it counts the
cached tokens twice) and ``long_context`` (a prompt over 200k tokens, priced by ccusage at its
above-200k tier for the whole request).

Sizes are in MB of 10**6 bytes of chat files (.jsonl and legacy .json); logs.json and
projects.json are not counted.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from services.demo.corpus.claude import (
    _COMMANDS,
    _DAY_MS,
    _FILES,
    MB,
    PROJECT_CWDS,
    _day_slots,
    _epoch_ms,
    _filler,
    _iso,
    _lognorm,
)
from services.demo.corpus.cli import run_generator
from services.demo.corpus.prompts import typed_prompt

MODELS: tuple[tuple[str, float], ...] = (
    ("gemini-2.5-pro", 0.60),
    ("gemini-2.5-flash", 0.25),
    ("gemini-3-pro-preview", 0.15),
)
FLASH = "gemini-2.5-flash"
LONG_CONTEXT_TOKENS = 200_000
"""Prompts above this are priced by ccusage 20.0.24 at the above-200k tier (FORMATS §4.3)."""

EDGE_KINDS = (
    "reappend",
    "set",
    "rewind",
    "info",
    "legacy_json",
    "subagent",
    "hash_project",
    "no_total",
    "long_context",
    "tool_tokens",
)
"""Every edge case the generator writes with edge_cases=True (keys of `Manifest.edge_lines`)."""
BAD_KINDS = ("malformed_json",)
"""Lines no reader can parse (keys of `Manifest.bad_lines`); they count nothing."""

_THINKS = {"gemini-2.5-pro": 700, "gemini-2.5-flash": 250, "gemini-3-pro-preview": 1000}
_SUBJECTS = (
    "Analyzing the Request",
    "Investigating the Failure",
    "Planning the Refactor",
    "Examining the Code",
    "Verifying the Fix",
    "Considering Edge Cases",
)
_SESSION_EDGES = ("legacy_json", "long_context")
_CALL_EDGES = ("no_total", "malformed_json", "rewind", "info", "tool_tokens")
_EDGE_RATE = 0.004
_MAX_PROMPT = 190_000
_TOOL_TOKENS_CAP = 20_000
_SUMMARIES = (
    "Fix failing tests",
    "Refactor auth middleware",
    "Add pagination to the API",
    "Debug flaky CI job",
    "Speed up the ETL loader",
)


class ExpectedRecord(msgspec.Struct, frozen=True):
    """One counted Gemini response, normalised as ccusage 20.0.24 does."""

    message_id: str
    ts_ms: int
    model: str
    project: str  # the <project-id> directory under tmp/
    session: str  # the file's sessionId
    input: int  # non-cached input + tool (ccusage's inputTokens)
    cache_read: int
    output: int  # without thoughts
    reasoning: int  # thoughts: billed as output
    total: int  # the logged total, or the sum of the parts when absent
    prompt: int  # the raw tokens.input (cached included when `total` is logged)
    tool: int
    subagent: bool = False
    legacy: bool = False  # from a single-JSON session file
    quirk: str = ""  # what ccusage counts or prices differently; "" when it agrees

    @property
    def key(self) -> str:
        """The dedup key: a message id is unique within its session file."""
        return f"{self.session}/{self.message_id}"

    @property
    def billed(self) -> int:
        """Every token the record bills: input, cache reads, output and thoughts."""
        return self.input + self.cache_read + self.output + self.reasoning


class Manifest(msgspec.Struct, frozen=True):
    """What `generate` wrote and what must be counted from it."""

    files: int  # chat files (.jsonl and legacy .json)
    bytes: int
    lines: int  # lines of the .jsonl files, bad ones included
    bad_lines: dict[str, int]  # by kind, every kind of BAD_KINDS present as a key
    expected: list[ExpectedRecord]  # sorted by (ts_ms, key)
    edge_lines: dict[str, int]  # edge cases by kind: lines, files or records of that kind
    start_ms: int
    end_ms: int


@dataclass(slots=True)
class _Tokens:
    """A response's tokens as gemini-cli logs them (input includes cached)."""

    input: int
    output: int
    cached: int
    thoughts: int
    tool: int
    with_total: bool = True

    @property
    def total(self) -> int:
        return self.input + self.output + self.thoughts + self.tool

    def json(self) -> str:
        total = f',"total":{self.total}' if self.with_total else ""
        return (
            f'{{"input":{self.input},"output":{self.output},"cached":{self.cached},'
            f'"thoughts":{self.thoughts},"tool":{self.tool}{total}}}'
        )

    def expected(self) -> tuple[int, int, int, int, int]:
        """(input, cache_read, output, reasoning, total) as ccusage normalises them."""
        if self.cached > 0 and self.with_total:
            nc = self.input - min(self.input, self.cached)
        else:
            nc = self.input
        total = self.total if self.with_total else nc + self.tool + self.output + self.cached
        if not self.with_total:
            total += self.thoughts
        return nc + self.tool, self.cached, self.output, self.thoughts, total


@dataclass(slots=True)
class _Chat:
    """One chat being written, with its context and implicit-cache state."""

    sid: str
    project: str
    cwd: str
    model: str
    clock: int
    sys_tokens: int
    compress_at: int
    rel: str
    start: int = 0
    subagent: bool = False
    legacy: bool = False
    ctx: int = 0
    last_prompt: int = 0
    last_call: int = 0
    user_ids: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # legacy: final message objects


class _Buf:
    """One chat file, kept in memory and written whole when closed."""

    __slots__ = ("chunks", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.chunks: list[bytes] = []

    def add(self, data: bytes) -> None:
        self.chunks.append(data)

    def close(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(self.chunks)
        self.path.write_bytes(data)
        return len(data)


def _slug(cwd: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", cwd.rsplit("/", 1)[-1].lower()).strip("-")


def _project_hash(cwd: str) -> str:
    return hashlib.sha256(cwd.encode()).hexdigest()


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H-%M")


class _Gen:
    """The writer: chats, turns, responses, tool calls, subagents, edge cases and the ledger."""

    def __init__(
        self,
        root: Path,
        rng: random.Random,
        *,
        edge: bool,
        target: int,
        start_ms: int,
        end_ms: int,
    ) -> None:
        self.root = root
        self.rng = rng
        self.fill = _filler()
        self.edge = edge
        self.target = target
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.written = 0
        self.lines = 0
        self.files = 0
        self.bad = dict.fromkeys(BAD_KINDS, 0)
        self.kinds: Counter[str] = Counter()
        self.expected: dict[str, ExpectedRecord] = {}
        self.pending: set[str] = {*_SESSION_EDGES, *_CALL_EDGES, "subagent"} if edge else set()
        self.slots, self.cum = _day_slots(rng, start_ms, end_ms)
        self.cwds: tuple[str, ...] = ()
        self.cwd_weights: list[float] = []
        self.prompts: dict[str, list[str]] = {}  # project -> logs.json entries

    # ids, time, output

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def tick(self, c: _Chat, lo: int, hi: int) -> None:
        c.clock = min(c.clock + self.rng.randint(lo, hi), self.end_ms)

    def emit(self, buf: _Buf, line: str) -> None:
        data = (line + "\n").encode()
        self.written += len(data)
        self.lines += 1
        buf.add(data)

    def frac(self) -> float:
        return min(1.0, self.written / self.target) if self.target else 1.0

    def when(self, frac: float) -> int:
        """Map progress through the byte budget to a time in the window's active hours."""
        x = frac * self.cum[-1]
        i = min(bisect.bisect_left(self.cum, x), len(self.cum) - 1)
        lo = self.cum[i - 1] if i else 0.0
        pos = (x - lo) / (self.cum[i] - lo) if self.cum[i] > lo else 0.0
        a, b = self.slots[i]
        return int(a + pos * (b - a)) + self.rng.randint(-1_200_000, 1_200_000)

    # planning

    def plan(self, size_mb: float) -> None:
        n = min(len(PROJECT_CWDS), 3 + int(size_mb).bit_length())
        self.cwds = PROJECT_CWDS[:n]
        self.cwd_weights = [1 / (i + 1) for i in range(n)]

    def project_id(self, cwd: str) -> str:
        """The slug, or for the third project (an older gemini-cli build) sha256 of its path."""
        return _project_hash(cwd) if cwd == self.cwds[2] and self.edge else _slug(cwd)

    def run(self, size_mb: float) -> None:
        self.plan(size_mb)
        idx = 0
        while self.written < self.target or self.pending:
            self.session(self.pick_kind(idx), idx)
            idx += 1
        self.write_side_files()

    def pick_kind(self, idx: int) -> str:
        if not self.edge or idx == 0:
            return "normal"
        for kind in _SESSION_EDGES:
            if kind in self.pending:
                self.pending.discard(kind)
                return kind
        return "legacy_json" if self.rng.random() < 0.06 else "normal"

    def new_chat(self, cwd: str, t0: int, model: str, *, legacy: bool = False) -> _Chat:
        rng = self.rng
        sid = self.uuid()
        project = self.project_id(cwd)
        ext = "json" if legacy else "jsonl"
        sys_tokens = rng.randint(7_000, 12_000)
        return _Chat(
            sid=sid,
            project=project,
            cwd=cwd,
            model=model,
            clock=t0,
            sys_tokens=sys_tokens,
            compress_at=rng.randint(110_000, 150_000),
            rel=f"{project}/chats/session-{_stamp(t0)}-{sid[:8]}.{ext}",
            start=t0,
            legacy=legacy,
            ctx=sys_tokens,
        )

    # sessions

    def session(self, kind: str, idx: int) -> None:
        """One chat: metadata, then turns until done or over budget."""
        rng = self.rng
        n_turns = max(2, _lognorm(rng, 6, 0.9, 1, 50))
        if kind != "normal":
            n_turns = min(n_turns, 3)
        gaps = [_lognorm(rng, 80_000, 1.1, 4_000, 2_700_000) for _ in range(n_turns)]
        calls = [_lognorm(rng, 3, 0.8, 1, 25) for _ in range(n_turns)]
        if self.written >= self.target:  # only pending edge cases left: keep it short
            gaps, calls = gaps[:2], [min(3, n) if kind == "long_context" else 3 for n in calls[:2]]
        est = sum(gaps) + sum(calls) * 40_000 + 300_000
        t0 = max(self.start_ms, min(self.when(self.frac()), self.end_ms - est))
        cwd = rng.choices(self.cwds, self.cwd_weights)[0]
        if kind == "legacy_json" or (self.edge and idx == 1):
            cwd = self.cwds[2]  # the hashed project: where an older build left its chats
        model = MODELS[idx][0] if idx < len(MODELS) else self.pick_model()
        c = self.new_chat(cwd, t0, model, legacy=kind == "legacy_json")
        buf = _Buf(self.root / "tmp" / c.rel)
        self.metadata(c, buf, "main")
        for t in range(len(gaps)):
            self.turn(c, buf, calls[t], gaps[t], long=kind == "long_context" and t == 0)
            if self.written >= self.target and (not self.pending or t >= 1):
                break  # over budget: what is still pending goes to short sessions
        self.close(c, buf)
        if c.project != _slug(cwd):
            self.kinds["hash_project"] += 1

    def pick_model(self) -> str:
        return self.rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]

    def metadata(self, c: _Chat, buf: _Buf, kind: str) -> None:
        if c.legacy:
            return
        ts = _iso(c.clock)
        self.emit(
            buf,
            f'{{"sessionId":"{c.sid}","projectHash":"{_project_hash(c.cwd)}","startTime":"{ts}",'
            f'"lastUpdated":"{ts}","kind":"{kind}"}}',
        )

    def close(self, c: _Chat, buf: _Buf) -> None:
        """Write the file; a legacy chat becomes one pretty-printed JSON document."""
        if c.legacy:
            doc = (
                f'{{"sessionId":"{c.sid}","projectHash":"{_project_hash(c.cwd)}",'
                f'"startTime":"{_iso(c.start)}","lastUpdated":"{_iso(c.clock)}",'
                f'"messages":[{",".join(c.messages)}]}}'
            )
            data = (json.dumps(json.loads(doc), indent=2, ensure_ascii=False) + "\n").encode()
            buf.add(data)
            self.written += len(data)
            self.kinds["legacy_json"] += 1
        buf.close()
        self.files += 1

    def record(self, c: _Chat, buf: _Buf, obj: str) -> None:
        """A message: a line of a JSONL chat, or (legacy) kept for the final document."""
        if c.legacy:
            c.messages.append(obj)
        else:
            self.emit(buf, obj)

    # turns and responses

    def turn(self, c: _Chat, buf: _Buf, calls: int, gap: int, *, long: bool = False) -> None:
        rng = self.rng
        self.tick(c, gap, gap)
        self.maybe_rewind(c, buf)
        # Drawn as always (a seed keeps its sizes and tokens), written typed-looking, same size.
        drawn = self.fill.take(rng, self.fill.prose, _lognorm(rng, 200, 1.0, 5, 6000))
        prompt = typed_prompt(drawn)
        uid = self.uuid()
        content = f'"{prompt}"' if c.legacy else f'[{{"text":"{prompt}"}}]'
        ts = _iso(c.clock)
        self.record(
            c, buf, f'{{"id":"{uid}","timestamp":"{ts}","type":"user","content":{content}}}'
        )
        c.user_ids.append(uid)
        if not c.subagent:
            self.prompts.setdefault(c.project, []).append(
                f'{{"sessionId":"{c.sid}","messageId":{len(c.user_ids) - 1},"type":"user",'
                f'"message":"{prompt}","timestamp":"{ts}"}}'
            )
        c.ctx += len(drawn) // 4 + 8
        if long:
            c.ctx = max(c.ctx, rng.randint(LONG_CONTEXT_TOKENS + 5_000, 260_000))
        for i in range(1 if long else calls):
            if c.ctx > c.compress_at and not long:
                self.compress(c, buf)
            self.response(c, buf, final=long or i == calls - 1, long=long)
        if self.edge and ("info" in self.pending or rng.random() < 0.01):
            self.pending.discard("info")
            self.info(c, buf, "Request cancelled.")
        if not c.legacy:
            self.emit(buf, f'{{"$set":{{"lastUpdated":"{_iso(c.clock)}"}}}}')
            self.kinds["set"] += 1

    def maybe_rewind(self, c: _Chat, buf: _Buf) -> None:
        """/rewind: the UI drops turns after an earlier prompt (they were billed: still count)."""
        if not self.edge or c.legacy or not c.user_ids:
            return
        if "rewind" in self.pending or self.rng.random() < 0.02:
            self.pending.discard("rewind")
            target = self.rng.choice(c.user_ids)
            self.emit(buf, f'{{"$rewindTo":"{target}"}}')
            self.kinds["rewind"] += 1

    def thoughts(self, c: _Chat) -> tuple[str, int]:
        """The thoughts summary gemini-cli records, and the thought tokens behind it."""
        rng = self.rng
        if c.model == FLASH and rng.random() < 0.4:
            return "", 0
        subject = rng.choice(_SUBJECTS)
        desc = self.fill.take(rng, self.fill.prose, _lognorm(rng, 350, 0.7, 40, 2500))
        self.tick(c, 500, 6000)
        text = (
            f',"thoughts":[{{"subject":"{subject}","description":"{desc}",'
            f'"timestamp":"{_iso(c.clock)}"}}]'
        )
        return text, _lognorm(rng, _THINKS[c.model], 1.0, 12, 30_000)

    def response(self, c: _Chat, buf: _Buf, *, final: bool, long: bool = False) -> None:
        """One model response: its message, re-appended with tokens, then with its tool calls."""
        rng = self.rng
        thoughts, thought_tokens = self.thoughts(c)
        if final:
            text = self.fill.take(rng, self.fill.prose, _lognorm(rng, 900, 0.9, 20, 9000))
            calls: list[tuple[str, int]] = []
        else:
            text = ""
            if rng.random() < 0.4:
                text = self.fill.take(rng, self.fill.prose, _lognorm(rng, 120, 0.8, 10, 800))
            n = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            calls = [self.tool_call(c) for _ in range(n)]
        self.tick(c, 800, 9000)
        mid = self.uuid()
        content = f'"{text}"' if c.legacy else (f'[{{"text":"{text}"}}]' if text else "[]")
        head = (
            f'{{"id":"{mid}","timestamp":"{_iso(c.clock)}","type":"gemini",'
            f'"content":{content}{thoughts}'
        )
        model = f',"model":"{c.model}"'
        chars = len(text) + sum(n for _, n in calls)
        tokens = self.tokens(c, chars, thought_tokens, long=long)
        tail = f',"tokens":{tokens.json()}{model}'
        tools = f',"toolCalls":[{",".join(t for t, _ in calls)}]' if calls else ""
        if c.legacy:
            c.messages.append(f"{head}{tail}{tools}}}")
        # a cut-short copy hides no other edge case
        breakable = final and tokens.with_total and not tokens.tool and not long
        if c.legacy or self.appends(buf, head, model, tail, tools, breakable):
            self.expect(c, mid, tokens, long)
        for _ in calls:
            self.tick(c, 100, 20_000)
        if final or not self.edge or c.subagent or c.legacy:
            return
        if "subagent" in self.pending or rng.random() < 0.01:
            self.pending.discard("subagent")
            self.subagent(c)

    def appends(
        self, buf: _Buf, head: str, model: str, tail: str, tools: str, breakable: bool
    ) -> bool:
        """The message, then its re-appends (tokens; tool calls). False when the only copy
        with tokens was cut short (a malformed line): then nothing counts."""
        rng = self.rng
        if not self.edge:
            self.emit(buf, f"{head}{tail}{tools}}}")
            return True
        self.emit(buf, f"{head}{model}}}")
        line = f"{head}{tail}}}"
        if breakable and ("malformed_json" in self.pending or rng.random() < _EDGE_RATE / 2):
            self.pending.discard("malformed_json")
            self.emit(buf, line[: line.index('"tokens":') + 24])  # a write cut short
            self.bad["malformed_json"] += 1
            return False
        self.emit(buf, line)
        self.kinds["reappend"] += 1
        if tools:
            self.emit(buf, f"{head}{tail}{tools}}}")
            self.kinds["reappend"] += 1
        return True

    def tokens(self, c: _Chat, chars: int, thoughts: int, *, long: bool = False) -> _Tokens:
        """The response's usage: the whole context as input, its implicitly cached part."""
        rng = self.rng
        prompt = c.ctx if long else min(c.ctx, _MAX_PROMPT)
        if c.last_prompt and c.clock - c.last_call <= 300_000 and rng.random() < 0.85:
            cached = int(min(prompt, c.last_prompt) * rng.uniform(0.75, 0.98))
        elif rng.random() < 0.3:
            cached = int(min(prompt, c.sys_tokens) * rng.uniform(0.5, 0.95))
        else:
            cached = 0
        tool = 0
        if self.edge and ("tool_tokens" in self.pending or rng.random() < 0.03):
            self.pending.discard("tool_tokens")
            tool = rng.randint(5, 400)
            self.kinds["tool_tokens"] += 1
        output = max(1, chars * 10 // 37 + rng.randint(2, 30))
        with_total = True
        odd = "no_total" in self.pending or rng.random() < _EDGE_RATE
        if self.edge and cached and not long and odd:
            self.pending.discard("no_total")
            with_total = False
        c.last_prompt, c.last_call = prompt, c.clock
        c.ctx = c.ctx + output if long else min(c.ctx + output, _MAX_PROMPT)
        return _Tokens(prompt, output, cached, thoughts, tool, with_total)

    def expect(self, c: _Chat, mid: str, tokens: _Tokens, long: bool) -> None:
        """Record what a correct reader counts for this response."""
        inp, cache_read, output, reasoning, total = tokens.expected()
        quirk = "long_context" if long else ("" if tokens.with_total else "no_total")
        if quirk:
            self.kinds[quirk] += 1
        rec = ExpectedRecord(
            message_id=mid,
            ts_ms=c.clock,
            model=c.model,
            project=c.project,
            session=c.sid,
            input=inp,
            cache_read=cache_read,
            output=output,
            reasoning=reasoning,
            total=total,
            prompt=tokens.input,
            tool=tokens.tool,
            subagent=c.subagent,
            legacy=c.legacy,
            quirk=quirk,
        )
        self.expected[rec.key] = rec

    def compress(self, c: _Chat, buf: _Buf) -> None:
        """Chat compression: the history is replaced by a summary (an info message says so)."""
        before = c.ctx
        c.ctx = c.sys_tokens + self.rng.randint(2_000, 6_000)
        c.last_prompt = 0
        self.info(c, buf, f"Chat history compressed from {before} to {c.ctx} tokens.")

    def info(self, c: _Chat, buf: _Buf, text: str) -> None:
        """An info message (shown in the UI, never billed)."""
        self.record(
            c,
            buf,
            f'{{"id":"{self.uuid()}","timestamp":"{_iso(c.clock)}","type":"info",'
            f'"content":"{text}"}}',
        )
        self.kinds["info"] += 1

    # tools and subagents

    def tool_call(self, c: _Chat) -> tuple[str, int]:
        """A ToolCallRecord with its result (the bulk of a chat file) and its size in chars."""
        rng = self.rng
        fill = self.fill
        ts = _iso(c.clock)
        path = f"{c.cwd}/{rng.choice(_FILES)}"
        x = rng.random()
        if x < 0.45:
            name, display = "read_file", "ReadFile"
            args = f'{{"absolute_path":"{path}"}}'
            out = fill.take(rng, fill.code, self.big_or(4000))
            result, shown = out, '""'
        elif x < 0.8:
            name, display = "run_shell_command", "Shell"
            cmd = rng.choice(_COMMANDS)
            args = f'{{"command":"{cmd}","description":"Run {cmd.split()[0]}"}}'
            body = fill.take(rng, fill.code, self.big_or(1500))
            result = (
                f"Command: {cmd}\\nDirectory: (root)\\nOutput: {body}\\nError: (none)\\n"
                f"Exit Code: {0 if rng.random() < 0.85 else 1}\\nSignal: (none)\\n"
                f"Background PIDs: (none)\\nProcess Group PGID: {rng.randint(1000, 99999)}"
            )
            shown = f'"{body}"'
        else:
            name, display = "replace", "Edit"
            old = fill.take(rng, fill.code, _lognorm(rng, 300, 0.9, 20, 4000))
            new = fill.take(rng, fill.code, _lognorm(rng, 400, 0.9, 20, 5000))
            args = f'{{"file_path":"{path}","old_string":"{old}","new_string":"{new}"}}'
            result = f"Successfully modified file: {path} (1 replacements)."
            original = fill.take(rng, fill.code, _lognorm(rng, 5000, 0.9, 300, 50_000))
            shown = (
                f'{{"fileDiff":"Index: {path.rsplit("/", 1)[-1]}\\n===\\n-{old}\\n+{new}\\n",'
                f'"fileName":"{path.rsplit("/", 1)[-1]}","originalContent":"{original}",'
                f'"newContent":"{original}{new}"}}'
            )
        cid = f"{name}-{c.clock}-{self.uuid()[:13].replace('-', '')}"
        c.ctx += min(len(result) // 4, _TOOL_TOKENS_CAP) + 25
        record = (
            f'{{"id":"{cid}","name":"{name}","args":{args},"result":[{{"functionResponse":'
            f'{{"id":"{cid}","name":"{name}","response":{{"output":"{result}"}}}}}}],'
            f'"status":"success","timestamp":"{ts}","displayName":"{display}",'
            f'"description":"","resultDisplay":{shown},"renderOutputAsMarkdown":true}}'
        )
        return record, len(args)

    def big_or(self, median: int) -> int:
        """A typical tool output size, or now and then a 50-300 KB one (capped for tiny trees)."""
        rng = self.rng
        if rng.random() < 0.005:
            return min(max(20_000, self.target // 40), int(50_000 * 6 ** rng.random()))
        return _lognorm(rng, median, 0.9, 20, 40_000)

    def subagent(self, parent: _Chat) -> None:
        """A subagent's own chat in chats/<parentSessionId>/<sessionId>.jsonl."""
        rng = self.rng
        model = FLASH if rng.random() < 0.6 else parent.model
        c = self.new_chat(parent.cwd, parent.clock, model)
        c.subagent = True
        c.rel = f"{parent.project}/chats/{parent.sid}/{c.sid}.jsonl"
        buf = _Buf(self.root / "tmp" / c.rel)
        self.metadata(c, buf, "subagent")
        self.turn(c, buf, rng.randint(2, 6), rng.randint(200, 2000))
        self.close(c, buf)
        self.kinds["subagent"] += 1
        parent.clock = max(parent.clock, c.clock)

    # side files

    def write_side_files(self) -> None:
        """logs.json per project (user prompts only) and projects.json (path -> slug)."""
        for project, entries in self.prompts.items():
            path = self.root / "tmp" / project / "logs.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("[\n  " + ",\n  ".join(entries) + "\n]\n")
        slugs = {cwd: self.project_id(cwd) for cwd in self.cwds}
        used = {p.name for p in (self.root / "tmp").iterdir()}
        projects = {cwd: slug for cwd, slug in slugs.items() if slug == _slug(cwd) and slug in used}
        (self.root / "projects.json").write_text(
            json.dumps({"projects": projects}, indent=2) + "\n"
        )

    def manifest(self) -> Manifest:
        expected = sorted(self.expected.values(), key=lambda r: (r.ts_ms, r.key))
        return Manifest(
            files=self.files,
            bytes=self.written,
            lines=self.lines,
            bad_lines=dict(self.bad),
            expected=expected,
            edge_lines=dict(sorted(self.kinds.items())),
            start_ms=self.start_ms,
            end_ms=self.end_ms,
        )


# --- public API ---------------------------------------------------------------------------------


def generate(
    root: Path,
    size_mb: float,
    seed: int = 0,
    start: datetime | None = None,
    days: int = 30,
    edge_cases: bool = True,
) -> Manifest:
    """Write about size_mb MB of Gemini CLI chats under root (a ~/.gemini) and return the truth.

    Sessions are spread over the `days` days ending at `start` (default: now, UTC). The same
    seed, size and start give a byte-identical tree. With edge_cases=False every response is
    one line with its tokens and a consistent total (no re-appends, rewinds, legacy files,
    subagents, hashed project dirs or bad lines) and every prompt stays under 200k tokens: a
    corpus on which every counting rule agrees. With edge_cases=True each edge case of
    FORMATS §4 (`EDGE_KINDS`, `BAD_KINDS`) appears at least once, and then rarely.
    root/tmp must be empty or absent.
    """
    if size_mb <= 0 or days < 1:
        raise ValueError("size_mb must be > 0 and days >= 1")
    tmp = root / "tmp"
    if tmp.is_dir() and any(tmp.iterdir()):
        raise FileExistsError(f"{tmp} is not empty; the manifest would not describe it")
    end_ms = _epoch_ms(start or datetime.now(UTC))
    gen = _Gen(
        root,
        random.Random(f"gemini/{seed}"),
        edge=edge_cases,
        target=int(size_mb * MB),
        start_ms=end_ms - days * _DAY_MS,
        end_ms=end_ms,
    )
    gen.run(size_mb)
    return gen.manifest()


def expected_daily_tokens(
    manifest: Manifest, tz: str = "UTC", skip: tuple[str, ...] = ()
) -> dict[str, dict[str, int]]:
    """Token sums per local date of manifest.expected, in ``ccusage gemini daily`` field names
    (``totalTokens`` sums the logged totals, thoughts included)."""
    zone = ZoneInfo(tz)
    days: dict[str, dict[str, int]] = {}
    for r in manifest.expected:
        if r.quirk in skip:
            continue
        day = datetime.fromtimestamp(r.ts_ms // 1000, zone).date().isoformat()
        row = days.setdefault(
            day, {"inputTokens": 0, "cacheReadTokens": 0, "outputTokens": 0, "totalTokens": 0}
        )
        row["inputTokens"] += r.input
        row["cacheReadTokens"] += r.cache_read
        row["outputTokens"] += r.output
        row["totalTokens"] += r.total
    return dict(sorted(days.items()))


def main(argv: list[str] | None = None) -> int:
    """`python -m services.demo.corpus.gemini ROOT --size-mb N --seed S`: write a tree, print a
    summary."""
    return run_generator(
        argv,
        "services.demo.corpus.gemini",
        __doc__,
        "tmp/ and projects.json",
        "Gemini chats",
        generate,
    )


if __name__ == "__main__":
    raise SystemExit(main())
