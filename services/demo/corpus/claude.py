"""Seedable generator of realistic Claude Code transcript trees, with their own ground truth.

Layout, record shapes and the duplicate rules follow FORMATS.md §2. The tree is::

    <root>/projects/<project-dir>/<sessionId>.jsonl                        main transcripts
    <root>/projects/<project-dir>/<sessionId>/subagents/agent-<id>.jsonl   Task subagents
    <root>/projects/<project-dir>/<sessionId>/subagents/agent-<id>.meta.json

Ground truth ("our rule", computed here while writing, never by parsing what was written):

- A billed response is keyed by ``message.id`` when the line has a ``requestId`` (across every file
  and session), and by ``(session, message.id)`` when it has none.
- Among the lines of one key the winner is the non-sidechain one, then the largest
  ``input + output + cache writes + cache reads``, then the first in (relative path, line number)
  order — ccusage's "winner keeps the original slot" on a path-sorted read.
- ``type:"progress"`` lines (edge cases only) are read as the subagent record they nest
  (FORMATS §2.3.8). Normally that record is also in the subagent's ``subagents/`` file, under the
  same key, so it counts once. One subagent (``progress_only``) has no ``subagents/`` file, as in
  real histories where the folder is missing: its records are only in progress lines, and are
  expected with quirk ``progress_only`` (ccusage's daily counts them, its other reports do not).
- ``malformed_json`` and ``wrong_shape`` lines (`UNREADABLE_KINDS`) are never counted.
- ``invalid_utf8``, ``spaced_usage``, ``null_key`` and ``microsecond_ts`` lines (`ODD_KINDS`)
  carry intact usage, so they are expected, tagged with their kind in `ExpectedRecord.quirk`. A
  reader that skips such lines checks against ``[r for r in expected if r.quirk not in kinds]``
  (or ``expected_daily_tokens(..., skip=kinds)``). ccusage 20.0.24 skips all four
  (`CCUSAGE_SKIPS`: FORMATS §2.3, and a probe for invalid UTF-8 in ignored text).
- ``quirk`` also names the keys where ccusage's daily and monthly loaders disagree
  (``requestless_dup``, ``sidechain_replay``; FORMATS §2.4). Each odd line has its own
  message.id, so leaving one out never lets another copy win.

Sizes are in MB of 10**6 bytes of JSONL; the ``.meta.json`` sidecars are not counted.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import string
from collections import Counter, deque
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from services.demo.corpus.cli import run_generator
from services.demo.corpus.prompts import typed_prompt

BAD_KINDS = (
    "malformed_json",
    "invalid_utf8",
    "wrong_shape",
    "spaced_usage",
    "null_key",
    "microsecond_ts",
)
"""Every kind of bad line the generator writes (keys of `Manifest.bad_lines`)."""

UNREADABLE_KINDS = ("malformed_json", "wrong_shape")
"""Bad lines no reader can count: they are absent from `Manifest.expected`."""

ODD_KINDS = ("invalid_utf8", "spaced_usage", "null_key", "microsecond_ts")
"""Bad lines with intact usage: expected, with the kind in `ExpectedRecord.quirk`."""

CCUSAGE_SKIPS = ("invalid_utf8", "spaced_usage", "null_key", "microsecond_ts")
"""Valid records ccusage silently ignores (FORMATS §2.3). They stay in `Manifest.expected`
(tagged by `quirk`); a reader matching ccusage, like our collector, skips them too."""

MODELS: tuple[tuple[str, float], ...] = (
    ("claude-sonnet-4-5-20250929", 0.60),
    ("claude-opus-4-6", 0.20),
    ("claude-haiku-4-5-20251001", 0.10),
    ("claude-opus-4-1-20250805", 0.10),
)
HAIKU = "claude-haiku-4-5-20251001"
FAST_MODEL = "claude-opus-4-6"

PROJECT_CWDS = (
    "/home/dev/webapp",
    "/home/dev/api-server",
    "/home/dev/work/acme/backend",
    "/home/dev/infra",
    "/home/dev/ml-pipeline",
    "/home/dev/blog.example.com",
    "/home/dev/mobile-app",
    "/home/dev/cli-tool",
    "/home/dev/data-etl",
    "/home/dev/dotfiles",
)
VERSIONS = ("2.0.76", "2.1.9", "2.1.22", "2.1.30")

MB = 1_000_000
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ExpectedRecord(msgspec.Struct, frozen=True):
    """One billed response a correct reader counts exactly once: the dedup winner's line."""

    message_id: str
    request_id: str | None
    ts_ms: int
    model: str | None  # None for <synthetic> error stubs
    speed: str  # "standard" or "fast"
    project: str  # first path component under projects/
    session: str  # path-derived session id (FORMATS §2.1)
    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    sidechain: bool = False
    quirk: str = ""  # why ccusage may count this key differently; "" when it agrees
    web_search_requests: int = 0  # server-side web searches: billed per search, not tokens

    @property
    def key(self) -> str:
        """The dedup key: message.id, scoped by session when the line has no requestId."""
        if self.request_id is None:
            return f"{self.session}/{self.message_id}"
        return self.message_id

    @property
    def total(self) -> int:
        """All four token kinds, the quantity the dedup rule maximises."""
        return (
            self.input + self.output + self.cache_write_5m + self.cache_write_1h + self.cache_read
        )


class Manifest(msgspec.Struct, frozen=True):
    """What `generate` wrote and what must be counted from it."""

    files: int  # .jsonl files (sidecars excluded)
    bytes: int  # bytes of .jsonl
    lines: int  # lines of .jsonl, bad ones included
    bad_lines: dict[str, int]  # by kind, every kind of BAD_KINDS present as a key
    expected: list[ExpectedRecord]  # sorted by (ts_ms, key)
    edge_lines: dict[str, int]  # duplicate / non-usage lines by kind (streaming_copies, ...)
    start_ms: int  # the time window the sessions were spread over
    end_ms: int


# --- filler text -------------------------------------------------------------------------------
# Content is sliced from precomputed, already JSON-escaped text, so a line is one f-string and
# never a json.dumps of a nested object. The only escapes used are \n, \t and \" (never \\), so a
# backslash always starts a two-character escape and a slice only has to avoid cutting one.

_B62 = string.ascii_letters + string.digits
_B64 = _B62 + "+/"
_WORDS_TEXT = (
    "the a to of and in that is for it this with as we can will should not be on are from "
    "file test tests function module config session request response cache token error value "
    "handler parser record event store cursor offset window limit update fix add remove check "
    "run build import export return type field schema query index database migration endpoint "
    "client server route middleware auth user payload timeout retry log logger output input "
    "let me now first then after before because so I see looks like issue bug failing passing "
    "refactor rename move split merge helper util wrapper async await promise stream buffer "
    "line lines path directory commit branch diff change changes works correctly properly"
)
_WORDS = tuple(_WORDS_TEXT.split())
_NONASCII = ("—", "→", "…", "✓")
_IDENTS_TEXT = (
    "user config session request result items cache token parser offset record payload client "
    "handler path limit window event store cursor data rows batch entry"
)
_IDENTS = tuple(_IDENTS_TEXT.split())
_FUNCS_TEXT = "load parse fetch update render validate build flush resolve apply collect merge"
_FUNCS = tuple(_FUNCS_TEXT.split())
_TYPES_TEXT = "Config Session Record Client Store Event Parser Window Cursor Result Batch"
_TYPES = tuple(_TYPES_TEXT.split())
_MODULES_TEXT = "os json typing pathlib asyncio datetime re logging ./utils ../api/client"
_MODULES = tuple(_MODULES_TEXT.split())
_CODE_LINES = (
    r"import {m}",
    r"from {m} import {T}",
    r"",
    r"class {T}({T2}):",
    r"    \"\"\"{W}.\"\"\"",
    r"    def {f}_{a}(self, {a}: {T}) -> {T2}:",
    r"        {a} = self.{b}.get(\"{a}\", {n})",
    r"        if not {a}:",
    r"            return None",
    r"        for {b} in {a}:",
    r"            self.{b}.append({b})",
    r"        # {W}",
    r"        logger.info(\"{w} %s\", {a})",
    r"        return {T}({a}={a}, {b}={b})",
    r"export async function {f}{T}({a}: {T}): Promise<{T2}> {{",
    r"  const {a} = await {f}({b});",
    r"  if ({a}.length > {n}) {{ throw new Error(`{W}`); }}",
    r"  return {{ ...{a}, {b} }};",
    r"}}",
    r"func ({a} *{T}) {F}({b} string) error {{",
    r"\tif err := {a}.{f}({b}); err != nil {{",
    r"\t\treturn fmt.Errorf(\"{w}: %w\", err)",
    r"\t}}",
    r"tests/test_{a}.py::test_{f}_{b} PASSED                    [{n2}%]",
    r"FAILED tests/test_{a}.py::test_{f}_{b} - AssertionError: assert {n} == {n2}",
    r"E       AssertionError: {W}",
)


class _Filler:
    """Precomputed JSON-safe text and a cutter that never splits an escape."""

    __slots__ = ("b64", "code", "numbered", "prose")

    def __init__(self, prose: str, code: str, numbered: str, b64: str) -> None:
        self.prose = prose
        self.code = code
        self.numbered = numbered
        self.b64 = b64

    def take(self, rng: random.Random, src: str, n: int) -> str:
        """About n characters of src from a random place (longer asks join several slices)."""
        size = len(src)
        half = size // 2
        if n > half:
            return "".join(self.take(rng, src, min(half, n - i)) for i in range(0, n, half))
        start = rng.randrange(size - n)
        end = start + max(1, n)
        if start and src[start - 1] == "\\":
            start += 1  # do not begin on the second character of an escape
        if src[end - 1] == "\\":
            end -= 1  # do not end on a lone backslash
        return src[start:end]


def _build_prose(rng: random.Random, size: int) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        words = rng.choices(_WORDS, k=rng.randint(5, 22))
        if rng.random() < 0.15:
            words[rng.randrange(len(words))] = f"`{rng.choice(_IDENTS)}.{rng.choice(_FUNCS)}()`"
        if rng.random() < 0.05:
            words.append(rng.choice(_NONASCII))
        sentence = " ".join(words)
        sentence = sentence[0].upper() + sentence[1:] + rng.choice((". ", ". ", ": ", "? "))
        if rng.random() < 0.12:
            sentence += r"\n\n"
        elif rng.random() < 0.06:
            sentence += r"\n- "
        parts.append(sentence)
        total += len(sentence)
    return "".join(parts)


def _build_code(rng: random.Random, size: int) -> tuple[str, str]:
    lines: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(_CODE_LINES).format(
            a=rng.choice(_IDENTS),
            b=rng.choice(_IDENTS),
            f=rng.choice(_FUNCS),
            F=rng.choice(_FUNCS).capitalize(),
            T=rng.choice(_TYPES),
            T2=rng.choice(_TYPES),
            m=rng.choice(_MODULES),
            w=rng.choice(_WORDS),
            W=" ".join(rng.choices(_WORDS, k=rng.randint(3, 8))),
            n=rng.randint(0, 999),
            n2=rng.randint(0, 100),
        )
        lines.append(line)
        total += len(line) + 2
    plain = r"\n".join(lines)
    # Read results look like `cat -n`: a right-aligned line number and an arrow.
    numbered = r"\n".join(f"{i:>6}→{line}" for i, line in enumerate(lines, 1))
    return plain, numbered


@cache
def _filler() -> _Filler:
    """The shared filler, built once per process from a fixed seed (so content is reproducible)."""
    rng = random.Random(0x07A11)
    prose = _build_prose(rng, 160_000)
    code, numbered = _build_code(rng, 260_000)
    b64 = "".join(rng.choices(_B64, k=16_384))
    return _Filler(prose, code, numbered, b64)


# --- small helpers ------------------------------------------------------------------------------

_COMMANDS = (
    "pytest -x -q",
    "pytest tests/ -q --maxfail=3",
    "npm test -- --watch=false",
    "npm run build",
    "npm run lint",
    "git status",
    "git diff --stat",
    "git log --oneline -20",
    "ls -la src",
    "cargo test",
    "go test ./...",
    "make check",
    "ruff check .",
    "mypy src",
    "docker compose ps",
    r"grep -rn \"TODO\" src | head -50",
    r"git add -A && git commit -m \"fix: handle empty payload\"",
    "terraform plan -no-color",
    "kubectl get pods -A",
)
_BASH_DESCRIPTIONS = (
    "Run the test suite",
    "Check git status",
    "Build the project",
    "List source files",
    "Run linter",
    "Show recent commits",
    "Run type checker",
)
_FILES = (
    "src/app.py",
    "src/api/routes.py",
    "src/models/user.py",
    "tests/test_api.py",
    "tests/conftest.py",
    "src/components/Header.tsx",
    "src/lib/client.ts",
    "src/utils/format.ts",
    "package.json",
    "README.md",
    "pyproject.toml",
    "cmd/server/main.go",
    "internal/store/store.go",
    "migrations/0003_add_index.sql",
    "Dockerfile",
    ".github/workflows/ci.yml",
    "src/pipeline/train.py",
    "src/etl/load.py",
    "terraform/main.tf",
)
_BRANCHES = (
    "main",
    "main",
    "main",
    "develop",
    "feat/auth-flow",
    "fix/flaky-tests",
    "chore/deps",
    "",
)
_TITLES = (
    "Fix failing tests",
    "Refactor auth middleware",
    "Add pagination to the API",
    "Debug flaky CI job",
    "Migrate config to TOML",
    "Speed up the ETL loader",
    "Review dashboard layout",
)
_SUBAGENT_TYPES = ("general-purpose", "Explore", "Plan")
_TOOLS = ("Bash", "Read", "Edit", "Grep", "Glob", "Write", "TodoWrite")
_TOOL_WEIGHTS = (30, 30, 16, 8, 5, 5, 6)
_SUBAGENT_TOOLS = ("Bash", "Read", "Grep", "Glob")
_SUBAGENT_TOOL_WEIGHTS = (20, 50, 20, 10)
_CALL_EDGES = ("requestless", "requestless_dup", "sidechain_replay", *BAD_KINDS)
# Per main-session API call; with ~3.5 lines per call this keeps edge lines well under 0.1 %.
_EDGE_RATE = 0.004
_FORCED = frozenset(
    {
        "streaming",
        "subagent",
        "progress_only",
        "web_search",
        "system",
        "synthetic",
        "resume",
        *_CALL_EDGES,
    },
)


def _lognorm(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    """A log-normal integer clamped to [lo, hi]: sizes and durations have long right tails."""
    return int(min(hi, max(lo, median * math.exp(sigma * rng.gauss(0.0, 1.0)))))


def _iso(ms: int) -> str:
    """UTC ISO timestamp with milliseconds and Z, as Claude Code writes it."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _epoch_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def project_dir(cwd: str) -> str:
    """Claude Code's project directory name for a cwd: separators and dots become dashes."""
    return cwd.replace("/", "-").replace(".", "-")


_CWD_BY_DIR = {project_dir(cwd): cwd for cwd in PROJECT_CWDS}


def _q(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def _head(side: bool, cwd: str, sid: str, version: str, branch: str, agent: str) -> str:
    """The envelope fields shared by every line of one conversation, after parentUuid."""
    head = (
        f'"isSidechain":{"true" if side else "false"},"userType":"external","cwd":"{cwd}",'
        f'"sessionId":"{sid}","version":"{version}","gitBranch":"{branch}"'
    )
    return f'{head},"agentId":"{agent}"' if agent else head


def _usage(inp: str, c5: int, c1: int, read: int, out: int, speed: str) -> str:
    return (
        f'"usage":{{"input_tokens":{inp},"cache_creation_input_tokens":{c5 + c1},'
        f'"cache_read_input_tokens":{read},"cache_creation":{{"ephemeral_5m_input_tokens":{c5},'
        f'"ephemeral_1h_input_tokens":{c1}}},"output_tokens":{out},"service_tier":"standard"'
        f"{speed}}}"
    )


def _message(model: str, mid: str, content: str, stop: str, usage: str) -> str:
    return (
        f'{{"model":"{model}","id":"{mid}","type":"message","role":"assistant",'
        f'"content":[{content}],"stop_reason":{stop},"stop_sequence":null,{usage}}}'
    )


def _assistant(parent: str | None, head: str, msg: str, rid: str | None, uuid: str, ts: str) -> str:
    req = f'"requestId":"{rid}",' if rid else ""
    return (
        f'{{"parentUuid":{_q(parent)},{head},"message":{msg},{req}"type":"assistant",'
        f'"uuid":"{uuid}","timestamp":"{ts}"}}'
    )


def _user(parent: str | None, head: str, content: str, uuid: str, ts: str, tail: str = "") -> str:
    return (
        f'{{"parentUuid":{_q(parent)},{head},"type":"user","message":{{"role":"user",'
        f'"content":{content}}},"uuid":"{uuid}","timestamp":"{ts}"{tail}}}'
    )


@dataclass(slots=True)
class _Conv:
    """One conversation being written: a main session or a subagent, with its cache state."""

    project: str
    cwd: str
    sid: str
    version: str
    branch: str
    model: str
    speed: str
    thinking: bool
    cache_mode: str  # "5m", "1h" or "mixed"
    clock: int  # ms since epoch of the next line
    sys_tokens: int  # system prompt + tools: the prefix every call starts with
    side: bool = False
    agent: str = ""
    parent: str | None = None
    ctx: int = 0  # tokens in context before the next call
    cached: int = 0  # prefix cached by the previous call
    last_call: int = 0
    compact_at: int = 160_000
    head: str = ""
    last_ms: int = 0  # the newest line already in the file, when resuming one
    unfiled: bool = False  # a subagent whose subagents/ file is missing: progress lines only

    def __post_init__(self) -> None:
        self.head = _head(self.side, self.cwd, self.sid, self.version, self.branch, self.agent)
        self.ctx = self.ctx or self.sys_tokens


@dataclass(slots=True)
class _Tool:
    """A tool_use the next user line must answer."""

    name: str
    id: str
    path: str = ""
    args: tuple[str, ...] = ()


class _Buf:
    """One JSONL file, kept in memory and written whole when closed."""

    __slots__ = ("chunks", "n", "path", "project", "rel", "session")

    def __init__(self, path: Path, rel: str, project: str, session: str) -> None:
        self.path = path
        self.rel = rel
        self.project = project
        self.session = session
        self.chunks: list[bytes] = []
        self.n = 0

    def add(self, data: bytes) -> int:
        self.chunks.append(data)
        self.n += 1
        return self.n - 1

    def close(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"".join(self.chunks))


class _Unfiled(_Buf):
    """A subagent file that is never written (its records survive in progress lines only)."""

    __slots__ = ()

    def add(self, data: bytes) -> int:
        self.n += 1
        return self.n - 1

    def close(self) -> None:
        pass


class _LiveBuf(_Buf):
    """An existing or new file appended to like Claude Code does: one write per complete line."""

    __slots__ = ("fh",)

    def __init__(self, path: Path, rel: str, project: str, session: str) -> None:
        super().__init__(path, rel, project, session)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = path.open("ab", buffering=0)

    def add(self, data: bytes) -> int:
        self.fh.write(data)
        self.n += 1
        return self.n - 1

    def close(self) -> None:
        self.fh.close()


def _day_slots(
    rng: random.Random, start_ms: int, end_ms: int
) -> tuple[list[tuple[int, int]], list[float]]:
    """Active hours (07:00 to 23:00 UTC) of each day in the window; weekends weigh less."""
    slots: list[tuple[int, int]] = []
    cum: list[float] = []
    total = 0.0
    day = start_ms // _DAY_MS * _DAY_MS
    while day < end_ms:
        a = max(day + 7 * _HOUR_MS, start_ms)
        b = min(day + 23 * _HOUR_MS, end_ms)
        if b > a:
            weekend = (day // _DAY_MS + 3) % 7 >= 5  # 1970-01-01 was a Thursday
            weight = (b - a) / (16 * _HOUR_MS) * (0.3 if weekend else 1.0) * rng.uniform(0.4, 1.6)
            total += weight
            slots.append((a, b))
            cum.append(total)
        day += _DAY_MS
    if not slots:
        return [(start_ms, end_ms)], [1.0]
    return slots, cum


class _Gen:
    """The writer: sessions, turns, calls, tools, subagents, edge cases and the dedup ledger."""

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
        self.stream = edge  # one line per content block (streaming copies) only with edge cases
        self.target = target
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.written = 0
        self.lines = 0
        self.files = 0
        self.bad = dict.fromkeys(BAD_KINDS, 0)
        self.kinds: Counter[str] = Counter()
        self.best: dict[str, tuple[int, int, str, int, ExpectedRecord]] = {}
        self.quirks: dict[str, str] = {}
        self.pending: set[str] = set(_FORCED) if edge else set()
        self.tails: dict[str, tuple[str, list[tuple[str, ExpectedRecord | None, str]]]] = {}
        self.recent: deque[tuple[str, ExpectedRecord | None, str]] = deque(maxlen=8)
        self.progress: tuple[_Conv, _Buf, str] | None = None
        self.last_main: ExpectedRecord | None = None
        self.first_cwd = ""
        self.big_cap = max(20_000, target // 40)
        self.slots, self.cum = _day_slots(rng, start_ms, end_ms)
        self.cwds: tuple[str, ...] = ()
        self.cwd_weights: list[float] = []

    # ids, time, output

    def b62(self, n: int) -> str:
        return "".join(self.rng.choices(_B62, k=n))

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def tick(self, c: _Conv, lo: int, hi: int) -> None:
        # Saturating at the window's end keeps timestamps monotone and never in the future.
        c.clock = min(c.clock + self.rng.randint(lo, hi), self.end_ms)

    def emit(self, buf: _Buf, line: str | bytes) -> int:
        data = (line + "\n").encode() if isinstance(line, str) else line + b"\n"
        if isinstance(buf, _Unfiled):
            return buf.add(data)
        self.written += len(data)
        self.lines += 1
        return buf.add(data)

    def open(self, rel: str, project: str, session: str) -> _Buf:
        return _Buf(self.root / "projects" / rel, rel, project, session)

    def close(self, buf: _Buf) -> None:
        buf.close()
        self.files += not isinstance(buf, _Unfiled)

    def register(self, rec: ExpectedRecord, buf: _Buf, idx: int) -> None:
        """Apply our dedup rule to one usage line as it is written."""
        rank = (0 if rec.sidechain else 1, rec.total)
        key = rec.key
        cur = self.best.get(key)
        if cur is None or rank > cur[:2] or (rank == cur[:2] and (buf.rel, idx) < cur[2:4]):
            self.best[key] = (rank[0], rank[1], buf.rel, idx, rec)

    # planning

    def plan(self, size_mb: float) -> None:
        n = min(len(PROJECT_CWDS), 3 + int(math.log2(1 + size_mb)))
        self.cwds = PROJECT_CWDS[:n]
        self.cwd_weights = [1 / (i + 1) for i in range(n)]  # a few projects get most of the work

    def when(self, frac: float) -> int:
        """Map progress through the byte budget to a time in the window's active hours."""
        x = frac * self.cum[-1]
        i = min(bisect.bisect_left(self.cum, x), len(self.cum) - 1)
        lo = self.cum[i - 1] if i else 0.0
        pos = (x - lo) / (self.cum[i] - lo) if self.cum[i] > lo else 0.0
        a, b = self.slots[i]
        return int(a + pos * (b - a)) + self.rng.randint(-1_200_000, 1_200_000)

    def new_conv(self, cwd: str, clock: int, frac: float, model: str = "") -> _Conv:
        rng = self.rng
        model = model or rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
        sys_tokens = rng.randint(14_000, 24_000)
        return _Conv(
            project=project_dir(cwd),
            cwd=cwd,
            sid=self.uuid(),
            version=VERSIONS[min(len(VERSIONS) - 1, int(frac * len(VERSIONS)))],
            branch=rng.choice(_BRANCHES),
            model=model,
            speed="fast" if model == FAST_MODEL and rng.random() < 0.2 else "standard",
            thinking=model != HAIKU and rng.random() < 0.6,
            cache_mode=rng.choices(("5m", "1h", "mixed"), (0.65, 0.25, 0.10))[0],
            clock=clock,
            sys_tokens=sys_tokens,
            compact_at=rng.randint(150_000, 170_000),
        )

    def run(self, size_mb: float) -> None:
        self.plan(size_mb)
        idx = 0
        while self.written < self.target or self.pending:
            self.session(idx)
            idx += 1

    def session(self, idx: int) -> None:
        """One main transcript: maybe a resumed copy, then turns until done or over budget."""
        rng = self.rng
        first = self.edge and idx == 0
        cwd, resume = self.pick_project()
        gaps, calls = self.pick_turns(first)
        c = self.start_session(idx, cwd, gaps, calls)
        buf = self.open(f"{c.project}/{c.sid}.jsonl", c.project, c.sid)
        self.recent.clear()
        self.last_main = None
        if resume:
            self.copy_tail(c, buf)
        for t in range(len(gaps)):
            self.turn(c, buf, calls[t], gaps[t], force_task=first and t == 0)
            if first and t == 0:
                self.compact(c, buf, "manual")
            if t >= 1 and ("synthetic" in self.pending or (self.edge and rng.random() < 0.004)):
                self.pending.discard("synthetic")
                self.synthetic(c, buf)
                break  # a usage limit ends the session
            if self.written >= self.target and self.pending <= {"resume"}:
                break
            if rng.random() < 0.02:  # /model switch mid-session
                c.model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
                c.speed = c.speed if c.model == FAST_MODEL else "standard"
        self.close(buf)
        self.tails[c.project] = (c.sid, list(self.recent))
        if idx == 0:
            self.first_cwd = cwd

    def pick_project(self) -> tuple[str, bool]:
        """The session's cwd, and whether it resumes the project's previous session."""
        if "resume" in self.pending and self.tails:
            self.pending.discard("resume")
            return self.first_cwd, True
        cwd = self.rng.choices(self.cwds, self.cwd_weights)[0]
        resume = self.edge and project_dir(cwd) in self.tails and self.rng.random() < 0.12
        return cwd, resume

    def pick_turns(self, first: bool) -> tuple[list[int], list[int]]:
        """Think time before each turn (ms) and API calls in each turn."""
        rng = self.rng
        n_turns = max(2 if first else 1, _lognorm(rng, 7, 0.9, 1, 80))
        gaps = [_lognorm(rng, 75_000, 1.1, 4_000, 2_700_000) for _ in range(n_turns)]
        calls = [_lognorm(rng, 3, 0.8, 1, 30) for _ in range(n_turns)]
        if first:
            calls[0] = max(calls[0], 3)  # room for the forced Task call
        return gaps, calls

    def start_session(self, idx: int, cwd: str, gaps: list[int], calls: list[int]) -> _Conv:
        """A new conversation placed in time by how much of the byte budget is spent."""
        # Long sessions near the window's end start earlier: no line lands in the future.
        est = sum(gaps) + sum(calls) * 25_000 + 120_000
        frac = min(1.0, self.written / self.target) if self.target else 1.0
        t0 = max(self.start_ms, min(self.when(frac), self.end_ms - est))
        # The first sessions use each model once (the Opus 4.6 one in fast mode), so even a
        # small tree mixes them; later ones draw from the weights.
        c = self.new_conv(cwd, t0, frac, MODELS[idx][0] if idx < len(MODELS) else "")
        if idx < len(MODELS) and c.model == FAST_MODEL:
            c.speed = "fast"
        return c

    def copy_tail(self, c: _Conv, buf: _Buf) -> None:
        """A resumed session starts with a summary and copies of the previous session's tail."""
        old_sid, lines = self.tails[c.project]
        if not lines:
            return
        leaf = lines[-1][2]
        self.emit(
            buf, f'{{"type":"summary","summary":"{self.rng.choice(_TITLES)}","leafUuid":"{leaf}"}}'
        )
        self.kinds["summary"] += 1
        for line, rec, _uuid in lines:
            idx = self.emit(buf, line.replace(old_sid, c.sid))
            self.kinds["resumed_copies"] += 1
            if rec is not None:
                self.register(msgspec.structs.replace(rec, session=c.sid), buf, idx)
        c.parent = leaf

    # turns and calls

    def turn(self, c: _Conv, buf: _Buf, calls: int, gap: int, *, force_task: bool) -> None:
        rng = self.rng
        self.tick(c, gap, gap)
        self.prompt(c, buf)
        task_at = -1
        # Once a filed subagent exists, the next Task is forced: its subagent goes unfiled.
        force_task = force_task or {"progress_only"} == self.pending & {"progress_only", "subagent"}
        if calls > 1 and (force_task or rng.random() < 0.08):
            task_at = 0 if force_task else rng.randrange(calls - 1)
        for i in range(calls):
            self.call(c, buf, final=i == calls - 1, task=i == task_at)
            if self.edge:
                self.inject(c, buf)
            if c.ctx > c.compact_at:
                self.compact(c, buf, "auto")

    def prompt(self, c: _Conv, buf: _Buf) -> None:
        """A user turn, preceded by the file-history snapshot newer versions write."""
        rng = self.rng
        uuid = self.uuid()
        ts = _iso(c.clock)
        self.emit(
            buf,
            f'{{"type":"file-history-snapshot","messageId":"{uuid}","snapshot":{{"messageId":'
            f'"{uuid}","trackedFileBackups":{{}},"timestamp":"{ts}"}},"isSnapshotUpdate":false}}',
        )
        # The prose slice is drawn as always (so a seed keeps its tree's sizes and tokens); the
        # prompt written is a typed-looking one of the same size (services.demo.corpus.prompts).
        drawn = self.fill.take(rng, self.fill.prose, _lognorm(rng, 160, 1.0, 5, 6000))
        line = _user(c.parent, c.head, f'"{typed_prompt(drawn)}"', uuid, ts)
        self.emit(buf, line)
        self.recent.append((line, None, uuid))
        c.parent = uuid
        c.ctx += len(drawn) // 4 + 8

    def text_block(self, median: int, hi: int) -> tuple[str, int]:
        text = self.fill.take(self.rng, self.fill.prose, _lognorm(self.rng, median, 0.9, 15, hi))
        return f'{{"type":"text","text":"{text}"}}', len(text)

    def thinking_block(self) -> tuple[str, int]:
        rng = self.rng
        text = self.fill.take(rng, self.fill.prose, _lognorm(rng, 900, 0.8, 80, 12_000))
        sig = self.fill.take(rng, self.fill.b64, _lognorm(rng, 700, 0.5, 200, 3000))
        return f'{{"type":"thinking","thinking":"{text}","signature":"{sig}"}}', len(text)

    def call(self, c: _Conv, buf: _Buf, *, final: bool, task: bool) -> ExpectedRecord:
        """One API call: its response lines, then the result of every tool it asked for."""
        rng = self.rng
        blocks: list[tuple[str, int]] = []
        tools: list[_Tool] = []
        if c.thinking and rng.random() < 0.65:
            blocks.append(self.thinking_block())
        if final:
            blocks.append(self.text_block(900, 9000))
            stop = "end_turn"
        else:
            if rng.random() < 0.4:
                blocks.append(self.text_block(150, 1500))
            names = ["Task"] if task else self.pick_tools(c)
            for name in names:
                block, tool = self.tool_use(c, name)
                blocks.append((block, len(block)))
                tools.append(tool)
            stop = "tool_use"
        if "streaming" in self.pending and not c.side and len(blocks) < 2:
            blocks.insert(0, self.text_block(150, 1500))
        self.tick(c, 1500, 15_000 if len(blocks) > 2 else 9000)
        rec = self.response(c, buf, blocks, stop)
        if not c.side:
            self.last_main = rec
            if len(blocks) > 1:
                self.pending.discard("streaming")
        for tool in tools:
            self.tool_result(c, buf, tool)
        return rec

    def pick_tools(self, c: _Conv) -> list[str]:
        rng = self.rng
        k = 1 if rng.random() < 0.85 else rng.randint(2, 3)  # parallel tool calls now and then
        if c.side:
            return rng.choices(_SUBAGENT_TOOLS, _SUBAGENT_TOOL_WEIGHTS, k=k)
        return rng.choices(_TOOLS, _TOOL_WEIGHTS, k=k)

    def usage(self, c: _Conv) -> tuple[int, int, int, int]:
        """(input, cache_write_5m, cache_write_1h, cache_read) of a call made at c.clock.

        The prefix the previous call cached is read back while its TTL lasts, so cache_read
        grows over a session; everything after it is written. After a pause longer than the TTL
        only the system prompt (shared by all sessions) is usually still cached.
        """
        rng = self.rng
        ttl = _HOUR_MS if c.cache_mode == "1h" else 300_000
        if c.cached and c.clock - c.last_call <= ttl:
            read = c.cached
        else:
            read = min(c.sys_tokens, c.ctx) if rng.random() < 0.75 else 0
        write = max(0, c.ctx - read)
        c.cached = c.ctx
        c.last_call = c.clock
        inp = rng.randint(1, 9) if rng.random() < 0.93 else rng.randint(10, 600)
        if c.cache_mode == "5m":
            return inp, write, 0, read
        if c.cache_mode == "1h":
            return inp, 0, write, read
        one_hour = int(write * rng.random())
        return inp, write - one_hour, one_hour, read

    def outputs(self, k: int, final: int) -> list[int]:
        """output_tokens of k streaming lines: small and growing, the last one the real total."""
        vals: list[int] = []
        v = 0
        for _ in range(k - 1):
            v += self.rng.randint(1, 12)
            vals.append(v)
        vals.append(max(final, v + 1))
        return vals

    def response(
        self, c: _Conv, buf: _Buf, blocks: list[tuple[str, int]], stop: str
    ) -> ExpectedRecord:
        """Write one API response: a line per content block when streaming, else one line."""
        rng = self.rng
        out = max(1, sum(n for _, n in blocks) * 10 // 37 + rng.randint(2, 40))
        inp, c5, c1, read = self.usage(c)
        mid = "msg_01" + self.b62(22)
        rid = "req_011C" + self.b62(20)
        speed = ',"speed":"fast"' if c.speed == "fast" else ""
        # About 1 % of main responses ran web searches (billed per search, apart from tokens):
        # Claude Code builds of late 2026 log them as usage.server_tool_use (FORMATS §9). Picked
        # from the message id, not the random stream, so the rest of the tree does not change.
        picked = sum(map(ord, mid)) % 100
        searches = 0
        if self.edge and not c.side and ("web_search" in self.pending or picked == 0):
            self.pending.discard("web_search")
            searches = 1 + picked % 5
            speed += (
                f',"server_tool_use":{{"web_search_requests":{searches},"web_fetch_requests":0}}'
            )
            self.kinds["web_search"] += 1
        parts = [b for b, _ in blocks] if self.stream else [",".join(b for b, _ in blocks)]
        outs = self.outputs(len(parts), out)
        rec: ExpectedRecord | None = None
        for i, (content, o) in enumerate(zip(parts, outs, strict=True)):
            last = i == len(parts) - 1
            msg = _message(
                c.model,
                mid,
                content,
                f'"{stop}"' if last else "null",
                _usage(str(inp), c5, c1, read, o, speed),
            )
            uuid = self.uuid()
            ts = _iso(c.clock)
            line = _assistant(c.parent, c.head, msg, rid, uuid, ts)
            idx = self.emit(buf, line)
            rec = ExpectedRecord(
                mid,
                rid,
                c.clock,
                c.model,
                c.speed,
                c.project,
                c.sid,
                inp,
                o,
                c5,
                c1,
                read,
                c.side,
                web_search_requests=searches,
            )
            if not c.unfiled:
                self.register(rec, buf, idx)
            if c.side:
                self.kinds["subagent_lines"] += 1
                if self.progress is not None and self.edge:
                    self.progress_line(c, msg, rid, uuid, ts, rec)
            else:
                self.recent.append((line, rec, uuid))
            c.parent = uuid
            if not last:
                self.kinds["streaming_copies"] += 1
                self.tick(c, 300, 4000)
        c.ctx += outs[-1]
        assert rec is not None
        return rec

    def progress_line(
        self, sub: _Conv, msg: str, rid: str, uuid: str, ts: str, rec: ExpectedRecord
    ) -> None:
        """The main file's agent_progress copy of a subagent assistant line: the same key as the
        subagent file's copy, and the only copy when the subagent is unfiled."""
        assert self.progress is not None
        main, buf, tool_id = self.progress
        nested = (
            f'{{"type":"assistant","timestamp":"{ts}","requestId":"{rid}","isSidechain":true,'
            f'"message":{msg},"uuid":"{uuid}"}}'
        )
        idx = self.emit(
            buf,
            f'{{"parentUuid":{_q(main.parent)},{main.head},"type":"progress","data":{{"message":'
            f'{nested},"type":"agent_progress","prompt":"","agentId":"{sub.agent}"}},'
            f'"toolUseID":"agent_msg_01{self.b62(22)}","parentToolUseID":"{tool_id}",'
            f'"uuid":"{self.uuid()}","timestamp":"{ts}"}}',
        )
        self.kinds["progress"] += 1
        if sub.unfiled:
            self.register(rec, buf, idx)
            self.quirks[rec.key] = "progress_only"
            self.kinds["progress_only"] += 1

    # tools

    def tool_use(self, c: _Conv, name: str) -> tuple[str, _Tool]:
        """A tool_use block and what its result needs."""
        rng = self.rng
        fill = self.fill
        tid = "toolu_01" + self.b62(22)
        path = f"{c.cwd}/{rng.choice(_FILES)}"
        tool = _Tool(name, tid, path)
        if name == "Bash":
            inp = (
                f'{{"command":"{rng.choice(_COMMANDS)}",'
                f'"description":"{rng.choice(_BASH_DESCRIPTIONS)}"}}'
            )
        elif name == "Read":
            inp = f'{{"file_path":"{path}"}}'
        elif name == "Edit":
            old = fill.take(rng, fill.code, _lognorm(rng, 300, 0.9, 20, 4000))
            new = fill.take(rng, fill.code, _lognorm(rng, 400, 0.9, 20, 5000))
            tool.args = (old, new)
            inp = f'{{"file_path":"{path}","old_string":"{old}","new_string":"{new}"}}'
        elif name == "Write":
            content = fill.take(rng, fill.code, _lognorm(rng, 2500, 0.8, 200, 20_000))
            tool.args = (content,)
            inp = f'{{"file_path":"{path}","content":"{content}"}}'
        elif name == "Grep":
            inp = (
                f'{{"pattern":"{rng.choice(_IDENTS)}","path":"{c.cwd}",'
                f'"output_mode":"content","-n":true}}'
            )
        elif name == "Glob":
            inp = f'{{"pattern":"**/*.{rng.choice(("py", "ts", "go", "tsx"))}"}}'
        elif name == "TodoWrite":
            todos = self.todos()
            tool.args = (todos,)
            inp = f'{{"todos":{todos}}}'
        else:  # Task
            desc = " ".join(rng.choices(_WORDS, k=rng.randint(3, 6)))
            prompt = fill.take(rng, fill.prose, _lognorm(rng, 700, 0.6, 100, 5000))
            kind = rng.choice(_SUBAGENT_TYPES)
            tool.args = (prompt, desc, kind)
            inp = f'{{"description":"{desc}","prompt":"{prompt}","subagent_type":"{kind}"}}'
        return f'{{"type":"tool_use","id":"{tid}","name":"{name}","input":{inp}}}', tool

    def todos(self) -> str:
        rng = self.rng
        items = []
        for _ in range(rng.randint(2, 6)):
            what = " ".join(rng.choices(_WORDS, k=rng.randint(3, 7)))
            status = rng.choice(("pending", "in_progress", "completed"))
            items.append(f'{{"content":"{what}","status":"{status}","activeForm":"{what}"}}')
        return "[" + ",".join(items) + "]"

    def big_or(self, median: int) -> int:
        """A typical tool output size, or now and then a 50-500 KB one (capped for tiny corpora)."""
        rng = self.rng
        if rng.random() < 0.005:
            return min(self.big_cap, int(50_000 * 10 ** rng.random()))
        return _lognorm(rng, median, 0.9, 20, 40_000)

    def tool_result(self, c: _Conv, buf: _Buf, tool: _Tool) -> None:
        """The user line answering a tool_use, with Claude Code's toolUseResult sidecar object."""
        if tool.name == "Task":
            content, extra = self.task_result(c, buf, tool)
        else:
            content, extra = self.plain_result(c, tool)
            # Commands take seconds to minutes; file tools answer in milliseconds.
            slow = tool.name == "Bash"
            self.tick(c, 150 if slow else 20, 90_000 if slow else 400)
        uuid = self.uuid()
        body = (
            f'[{{"tool_use_id":"{tool.id}","type":"tool_result","content":{content},'
            f'"is_error":false}}]'
        )
        self.emit(
            buf, _user(c.parent, c.head, body, uuid, _iso(c.clock), f',"toolUseResult":{extra}')
        )
        c.parent = uuid
        c.ctx += min(len(content), 120_000) // 4 + 20
        if c.side:
            self.kinds["subagent_lines"] += 1

    def plain_result(self, c: _Conv, tool: _Tool) -> tuple[str, str]:
        rng = self.rng
        fill = self.fill
        name = tool.name
        if name == "Bash":
            out = fill.take(rng, fill.code, self.big_or(1200))
            return (
                f'"{out}"',
                f'{{"stdout":"{out}","stderr":"","interrupted":false,"isImage":false}}',
            )
        if name == "Read":
            size = self.big_or(4000)
            shown = fill.take(rng, fill.numbered, size)
            raw = fill.take(rng, fill.code, size)
            n = raw.count(r"\n") + 1
            return f'"{shown}"', (
                f'{{"type":"text","file":{{"filePath":"{tool.path}","content":"{raw}",'
                f'"numLines":{n},"startLine":1,"totalLines":{n}}}}}'
            )
        if name == "Edit":
            old, new = tool.args
            snippet = fill.take(rng, fill.numbered, _lognorm(rng, 900, 0.5, 100, 4000))
            original = fill.take(rng, fill.code, _lognorm(rng, 6000, 0.9, 300, 60_000))
            start = rng.randint(1, 400)
            return (
                f"\"The file {tool.path} has been updated. Here's the result of running `cat -n` "
                f'on a snippet of the edited file:\\n{snippet}"'
            ), (
                f'{{"filePath":"{tool.path}","oldString":"{old}","newString":"{new}",'
                f'"originalFile":"{original}","structuredPatch":[{{"oldStart":{start},"oldLines":3,'
                f'"newStart":{start},"newLines":4,"lines":["-{old[:60].rstrip(chr(92))}",'
                f'"+{new[:60].rstrip(chr(92))}"]}}],"userModified":false,"replaceAll":false}}'
            )
        if name == "Write":
            (content,) = tool.args
            return f'"File created successfully at: {tool.path}"', (
                f'{{"type":"create","filePath":"{tool.path}","content":"{content}","structuredPatch":[]}}'
            )
        if name == "Grep":
            k = rng.randint(1, 30)
            rows = [
                f"{c.cwd}/{rng.choice(_FILES)}:{rng.randint(1, 900)}:"
                + fill.take(rng, fill.code, rng.randint(20, 90)).replace("\\n", " ")
                for _ in range(k)
            ]
            text = r"\n".join(rows)
            return f'"{text}"', (
                f'{{"mode":"content","numFiles":{k},"filenames":[],"content":"{text}","numLines":{k}}}'
            )
        if name == "Glob":
            files = sorted({f"{c.cwd}/{f}" for f in rng.choices(_FILES, k=rng.randint(1, 12))})
            quoted = ",".join(f'"{f}"' for f in files)
            listing = r"\n".join(files)
            return f'"{listing}"', (
                f'{{"filenames":[{quoted}],"durationMs":{rng.randint(3, 400)},'
                f'"numFiles":{len(files)},"truncated":false}}'
            )
        (todos,) = tool.args
        return (
            '"Todos have been modified successfully. Ensure that you continue to use the todo list '
            'to track your progress. Please proceed with the current tasks if applicable"'
        ), f'{{"oldTodos":[],"newTodos":{todos}}}'

    def task_result(self, c: _Conv, buf: _Buf, tool: _Tool) -> tuple[str, str]:
        """Run a subagent into its own file; progress copies go to the main file meanwhile."""
        rng = self.rng
        prompt, desc, kind = tool.args
        aid = f"a{rng.getrandbits(24):06x}"
        model = HAIKU if rng.random() < 0.5 else c.model
        sub = _Conv(
            project=c.project,
            cwd=c.cwd,
            sid=c.sid,
            version=c.version,
            branch=c.branch,
            model=model,
            speed=c.speed if model == c.model else "standard",
            thinking=False,
            cache_mode=c.cache_mode,
            clock=c.clock,
            sys_tokens=rng.randint(5000, 12_000),
            side=True,
            agent=aid,
        )
        rel = f"{c.project}/{c.sid}/subagents/agent-{aid}.jsonl"
        sub.unfiled = {"progress_only"} == self.pending & {"progress_only", "subagent"}
        sbuf = self.open(rel, c.project, c.sid)
        if sub.unfiled:
            self.pending.discard("progress_only")
            sbuf = _Unfiled(sbuf.path, rel, c.project, c.sid)
        uuid = self.uuid()
        self.emit(sbuf, _user(None, sub.head, f'"{prompt}"', uuid, _iso(sub.clock)))
        self.kinds["subagent_lines"] += 1
        sub.parent = uuid
        saved, self.progress = self.progress, (c, buf, tool.id)
        n = rng.randint(2, 9)
        start = sub.clock
        totals = [0, 0, 0, 0, 0]
        rec = None
        for i in range(n):
            rec = self.call(sub, sbuf, final=i == n - 1, task=False)
            for j, v in enumerate(
                (rec.input, rec.cache_write_5m, rec.cache_write_1h, rec.cache_read, rec.output)
            ):
                totals[j] += v
        self.progress = saved
        self.close(sbuf)
        meta = {"agentType": kind, "description": desc}
        if not sub.unfiled:
            (sbuf.path.parent / f"agent-{aid}.meta.json").write_text(
                json.dumps(meta, separators=(",", ":"))
            )
        self.pending.discard("subagent")
        c.clock = sub.clock
        assert rec is not None
        summary = self.fill.take(rng, self.fill.prose, _lognorm(rng, 1200, 0.7, 100, 8000))
        text = f'[{{"type":"text","text":"{summary}"}}]'
        # The Task result repeats a usage object inside a *user* line: a trap for loose parsers.
        usage = _usage(
            str(rec.input), rec.cache_write_5m, rec.cache_write_1h, rec.cache_read, rec.output, ""
        )
        self.kinds["task_result_usage"] += 1
        return text, (
            f'{{"status":"completed","prompt":"{prompt}","agentId":"{aid}","content":{text},'
            f'"totalDurationMs":{sub.clock - start},"totalTokens":{sum(totals)},'
            f'"totalToolUseCount":{n - 1},{usage}}}'
        )

    # non-usage lines

    def compact(self, c: _Conv, buf: _Buf, trigger: str) -> None:
        """A compact_boundary system line and the summary that replaces the context."""
        rng = self.rng
        pre = c.ctx
        self.tick(c, 20_000, 90_000)
        uuid = self.uuid()
        ts = _iso(c.clock)
        self.emit(
            buf,
            f'{{"parentUuid":null,"logicalParentUuid":{_q(c.parent)},{c.head},"type":"system",'
            f'"subtype":"compact_boundary","content":"Conversation compacted","isMeta":false,'
            f'"timestamp":"{ts}","uuid":"{uuid}","level":"info",'
            f'"compactMetadata":{{"trigger":"{trigger}","preTokens":{pre}}}}}',
        )
        self.kinds["system"] += 1
        summary = self.fill.take(rng, self.fill.prose, _lognorm(rng, 4000, 0.4, 1500, 12_000))
        uuid2 = self.uuid()
        text = (
            "This session is being continued from a previous conversation that ran out of "
            f"context. The conversation is summarized below:\\n{summary}"
        )
        self.emit(buf, _user(uuid, c.head, f'"{text}"', uuid2, ts, ',"isCompactSummary":true'))
        c.parent = uuid2
        c.ctx = c.sys_tokens + len(summary) // 4
        c.cached = 0
        self.pending.discard("system")

    def synthetic(self, c: _Conv, buf: _Buf) -> None:
        """The local <synthetic> error stub Claude Code writes when the usage limit is hit."""
        self.tick(c, 1000, 3000)
        reset = (c.clock // _HOUR_MS + self.rng.randint(1, 5)) * 3600
        mid = self.uuid()
        uuid = self.uuid()
        idx = self.emit(
            buf,
            f'{{"parentUuid":{_q(c.parent)},{c.head},"type":"assistant","uuid":"{uuid}",'
            f'"timestamp":"{_iso(c.clock)}","message":{{"id":"{mid}","model":"<synthetic>",'
            f'"role":"assistant","stop_reason":"stop_sequence","stop_sequence":"","type":"message",'
            f'"usage":{{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,'
            f'"cache_read_input_tokens":0}},"content":[{{"type":"text",'
            f'"text":"Claude AI usage limit reached|{reset}"}}]}},"isApiErrorMessage":true}}',
        )
        rec = ExpectedRecord(mid, None, c.clock, None, "standard", c.project, c.sid, 0, 0, 0, 0, 0)
        self.register(rec, buf, idx)
        self.kinds["synthetic"] += 1
        c.parent = uuid

    # edge cases

    def inject(self, c: _Conv, buf: _Buf) -> None:
        """After a main-session call: every still-pending edge case, plus a rare random one."""
        kinds = [k for k in _CALL_EDGES if k in self.pending]
        if self.rng.random() < _EDGE_RATE:
            kinds.append(self.rng.choice(_CALL_EDGES))
        for kind in kinds:
            self.pending.discard(kind)
            if kind == "sidechain_replay":
                self.replay(c, buf)
            else:
                self.lone(c, buf, kind)

    def replay(self, c: _Conv, buf: _Buf) -> None:
        """A /btw-style sidechain replay: same message.id, new requestId, bigger cache read."""
        rng = self.rng
        orig = self.last_main
        assert orig is not None
        self.tick(c, 5000, 60_000)
        rid = "req_011C" + self.b62(20)
        uuid = self.uuid()
        read = orig.cache_read + orig.cache_write_5m + orig.cache_write_1h + rng.randint(200, 4000)
        c5 = rng.randint(50, 800)
        text, _ = self.text_block(200, 1500)
        speed = ',"speed":"fast"' if orig.speed == "fast" else ""
        model = orig.model or c.model
        msg = _message(
            model,
            orig.message_id,
            text,
            '"end_turn"',
            _usage(str(orig.input), c5, 0, read, orig.output, speed),
        )
        head = c.head.replace('"isSidechain":false', '"isSidechain":true', 1)
        idx = self.emit(buf, _assistant(c.parent, head, msg, rid, uuid, _iso(c.clock)))
        rec = ExpectedRecord(
            orig.message_id,
            rid,
            c.clock,
            model,
            orig.speed,
            c.project,
            c.sid,
            orig.input,
            orig.output,
            c5,
            0,
            read,
            True,
        )
        self.register(rec, buf, idx)
        self.quirks[orig.message_id] = "sidechain_replay"
        self.kinds["sidechain_replays"] += 1

    def lone(self, c: _Conv, buf: _Buf, kind: str) -> None:
        """A standalone response written with one defect or oddity (requestless, bad lines)."""
        rng = self.rng
        fill = self.fill
        self.tick(c, 800, 6000)
        inp, c5, c1, read = self.usage(c)
        text = fill.take(rng, fill.prose, _lognorm(rng, 300, 0.7, 30, 3000))
        if kind == "invalid_utf8":
            text = f"{text} @@ {fill.take(rng, fill.prose, 80)}"
        content = f'{{"type":"text","text":"{text}"}}'
        out = max(2, len(text) * 10 // 37)
        rid = None if kind.startswith("requestless") else "req_011C" + self.b62(20)
        mid = "msg_01" + self.b62(22)
        outs = [rng.randint(1, out - 1), out] if kind == "requestless_dup" else [out]
        speed = ',"speed":"fast"' if c.speed == "fast" else ""
        head = c.head.replace(f'"cwd":"{c.cwd}"', '"cwd":null', 1) if kind == "null_key" else c.head
        quirk = "" if kind in ("requestless", *UNREADABLE_KINDS) else kind
        for i, o in enumerate(outs):
            stop = '"end_turn"' if i == len(outs) - 1 else "null"
            usage = _usage('"ten"' if kind == "wrong_shape" else str(inp), c5, c1, read, o, speed)
            ts = _iso(c.clock)
            if kind == "microsecond_ts":
                ts = f"{ts[:-1]}{rng.randint(0, 999):03d}Z"
            uuid = self.uuid()
            line = _assistant(
                c.parent, head, _message(c.model, mid, content, stop, usage), rid, uuid, ts
            )
            idx = self.emit(buf, self.mangle(line, kind))
            if kind in BAD_KINDS:
                self.bad[kind] += 1
            else:
                self.kinds[kind] += 1
            if kind not in UNREADABLE_KINDS:
                rec = ExpectedRecord(
                    mid,
                    rid,
                    c.clock,
                    c.model,
                    c.speed,
                    c.project,
                    c.sid,
                    inp,
                    o,
                    c5,
                    c1,
                    read,
                    False,
                    quirk,
                )
                self.register(rec, buf, idx)
            c.parent = uuid
            if i < len(outs) - 1:
                self.tick(c, 300, 3000)
        c.ctx += out

    @staticmethod
    def mangle(line: str, kind: str) -> str | bytes:
        if kind == "spaced_usage":
            return line.replace('"usage":{', '"usage": {', 1)
        if kind == "malformed_json":
            return line[: line.index('"usage":{') + 24]  # a write cut short mid-usage
        if kind == "invalid_utf8":
            return line.encode().replace(b"@@", b"caf\xe9 \xff\xfe", 1)
        return line

    def manifest(self) -> Manifest:
        expected: list[ExpectedRecord] = []
        for key, entry in self.best.items():
            rec = entry[4]
            quirk = self.quirks.get(key)
            if quirk and not rec.quirk:
                rec = msgspec.structs.replace(rec, quirk=quirk)
            expected.append(rec)
        expected.sort(key=lambda r: (r.ts_ms, r.key))
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
    """Write about size_mb MB of Claude Code transcripts under root/projects and return the truth.

    Sessions are spread over the `days` days ending at `start` (default: now, UTC). The same
    seed, size and start give a byte-identical tree. With edge_cases=False every usage line is a
    unique, well-formed record (one line per response, no copies, no bad lines, no progress
    lines) — a corpus on which every counting rule agrees. With edge_cases=True each duplicate and
    edge case of FORMATS §2 appears at least once, and then rarely. root/projects must be empty.
    """
    if size_mb <= 0 or days < 1:
        raise ValueError("size_mb must be > 0 and days >= 1")
    projects = root / "projects"
    if projects.is_dir() and any(projects.iterdir()):
        raise FileExistsError(f"{projects} is not empty; the manifest would not describe it")
    end_ms = _epoch_ms(start or datetime.now(UTC))
    gen = _Gen(
        root,
        random.Random(seed),
        edge=edge_cases,
        target=int(size_mb * MB),
        start_ms=end_ms - days * _DAY_MS,
        end_ms=end_ms,
    )
    gen.run(size_mb)
    return gen.manifest()


def expected_daily_tokens(
    manifest: Manifest, tz: str = "UTC", skip: Collection[str] = ()
) -> dict[str, dict[str, int]]:
    """Token sums per local date of manifest.expected, in ccusage's daily field names.

    ``skip`` leaves out the records whose quirk is listed, e.g. ``CCUSAGE_SKIPS`` for a reader
    that drops those lines as ccusage does.
    """
    zone = ZoneInfo(tz)
    days: dict[str, dict[str, int]] = {}
    for r in manifest.expected:
        if r.quirk in skip:
            continue
        day = datetime.fromtimestamp(r.ts_ms // 1000, zone).date().isoformat()
        row = days.setdefault(
            day,
            {"inputTokens": 0, "outputTokens": 0, "cacheCreationTokens": 0, "cacheReadTokens": 0},
        )
        row["inputTokens"] += r.input
        row["outputTokens"] += r.output
        row["cacheCreationTokens"] += r.cache_write_5m + r.cache_write_1h
        row["cacheReadTokens"] += r.cache_read
    return dict(sorted(days.items()))


def append_live(
    root: Path, rng: random.Random, now: datetime | None = None
) -> list[ExpectedRecord]:
    """Append one new exchange: a user line, then 1-3 streaming lines of one response.

    Like Claude Code 2.x, the user line is preceded by a ``file-history-snapshot`` line.

    Usually continues the most recently written main transcript under root/projects, sometimes
    another one or a new session. Each line is written with a single write ending in a newline,
    within seconds before `now` (default: now, UTC), never after. Returns the response's expected
    record (one per response; a list so callers can sum several appends).
    """
    now_ms = _epoch_ms(now or datetime.now(UTC))
    gen = _Gen(root, rng, edge=False, target=0, start_ms=now_ms - _DAY_MS, end_ms=now_ms)
    gen.stream = True  # Claude Code writes one line per content block
    c, path = _live_conv(gen, root, now_ms)
    buf = _LiveBuf(path, f"{c.project}/{path.name}", c.project, c.sid)
    try:
        c.clock = now_ms - rng.randint(4000, 15_000)  # the prompt, then the reply lands at now
        # After the session's last line, so a reply never lands before the prompt before it.
        c.clock = max(c.clock, min(c.last_ms + 1000, now_ms - 1000))
        gen.prompt(c, buf)
        blocks = [gen.thinking_block()] if c.thinking and rng.random() < 0.6 else []
        blocks.append(gen.text_block(500, 4000))
        if rng.random() < 0.3:
            blocks.append(gen.text_block(200, 2000))
        gen.tick(c, 1500, 5000)
        rec = gen.response(c, buf, blocks, "end_turn")
    finally:
        buf.close()
    return [rec]


def _live_conv(gen: _Gen, root: Path, now_ms: int) -> tuple[_Conv, Path]:
    """The session append_live writes to: an existing main transcript or a fresh one."""
    rng = gen.rng
    projects = root / "projects"
    mains = sorted(projects.glob("*/*.jsonl")) if projects.is_dir() else []
    if mains and rng.random() >= 0.1:
        if rng.random() < 0.8:
            path = max(mains, key=lambda p: (p.stat().st_mtime_ns, p.name))
        else:
            path = rng.choice(mains)
        conv = _resume_state(gen, path, now_ms)
        if conv is not None:
            return conv, path
    dirs = sorted(d.name for d in projects.iterdir() if d.is_dir()) if projects.is_dir() else []
    if dirs:
        name = rng.choice(dirs)
        cwd = _CWD_BY_DIR.get(name, "/" + name.strip("-").replace("-", "/"))
    else:
        cwd = rng.choice(PROJECT_CWDS[:4])
    conv = gen.new_conv(cwd, now_ms, 1.0)
    return conv, projects / conv.project / f"{conv.sid}.jsonl"


def _resume_state(gen: _Gen, path: Path, now_ms: int) -> _Conv | None:
    """Rebuild a conversation's envelope and cache state from the tail of its file."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - 262_144))
        data = fh.read()
    if not data.endswith(b"\n"):
        return None  # someone is mid-write; do not append after half a line
    meta: dict[str, object] | None = None
    last: dict[str, object] | None = None
    for raw in reversed(data.split(b"\n")):
        obj = _loads(raw)
        if obj is None or obj.get("isSidechain") or obj.get("type") not in ("user", "assistant"):
            continue
        if meta is None and all(isinstance(obj.get(k), str) for k in ("cwd", "sessionId", "uuid")):
            meta = obj
        if last is None and _usage_of(obj) is not None:
            last = obj
        if meta is not None and last is not None:
            break
    if meta is None:
        return None
    conv = gen.new_conv(str(meta["cwd"]), now_ms, 1.0)
    conv.sid = path.stem
    conv.version = str(meta.get("version") or VERSIONS[-1])
    conv.branch = str(meta.get("gitBranch") or "")
    conv.head = _head(False, conv.cwd, conv.sid, conv.version, conv.branch, "")
    conv.parent = str(meta["uuid"])
    if last is not None:
        _continue_cache(conv, last)
    conv.last_ms = max((_line_ms(raw) for raw in data.split(b"\n")), default=0)
    return conv


def _line_ms(raw: bytes) -> int:
    """A transcript line's timestamp in ms (0 for a line without one)."""
    obj = _loads(raw)
    stamp = obj.get("timestamp") if obj is not None else None
    if not isinstance(stamp, str):
        return 0
    try:
        return _epoch_ms(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
    except ValueError:
        return 0


def _loads(raw: bytes) -> dict[str, object] | None:
    try:
        obj = json.loads(raw)
    except ValueError:  # malformed or invalid UTF-8 (UnicodeDecodeError is a ValueError)
        return None
    return obj if isinstance(obj, dict) else None


def _usage_of(obj: dict[str, object]) -> dict[str, Any] | None:
    msg = obj.get("message")
    if obj.get("type") != "assistant" or not isinstance(msg, dict):
        return None
    usage = msg.get("usage")
    if msg.get("model") in (None, "<synthetic>") or not isinstance(usage, dict):
        return None
    keys = (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    )
    if not all(isinstance(usage.get(k), int) for k in keys):
        return None
    return usage


def _continue_cache(conv: _Conv, obj: dict[str, object]) -> None:
    """Carry the model, speed and cache state of the last response into the next call."""
    msg = obj["message"]
    assert isinstance(msg, dict)
    usage = _usage_of(obj)
    assert usage is not None
    conv.model = str(msg["model"])
    conv.speed = "fast" if usage.get("speed") == "fast" else "standard"
    split = usage.get("cache_creation")
    one_hour = split.get("ephemeral_1h_input_tokens", 0) if isinstance(split, dict) else 0
    written = usage["cache_creation_input_tokens"]
    conv.cache_mode = "5m" if not one_hour else ("1h" if one_hour == written else "mixed")
    conv.cached = usage["cache_read_input_tokens"] + written
    conv.ctx = conv.cached + usage["output_tokens"]
    ts = obj.get("timestamp")
    if isinstance(ts, str):
        try:
            conv.last_call = _epoch_ms(datetime.fromisoformat(ts))
        except ValueError:
            conv.last_call = 0


def main(argv: list[str] | None = None) -> int:
    """`python -m services.demo.corpus.claude ROOT --size-mb N --seed S`: write a tree, print a
    summary."""
    return run_generator(
        argv,
        "services.demo.corpus.claude",
        __doc__,
        "projects/",
        "Claude Code transcripts",
        generate,
    )


if __name__ == "__main__":
    raise SystemExit(main())
