"""Seedable generator of realistic Codex CLI rollout trees, with their own ground truth.

Layout and record shapes follow FORMATS.md §3. The tree is a ``CODEX_HOME``::

    <root>/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl   live sessions
    <root>/archived_sessions/rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl     archived (flat)

Ground truth (computed here while writing, never by parsing what was written), as ccusage
20.0.24 derives it (FORMATS §3.3):

- Every ``token_count`` whose totals advanced counts its ``last_token_usage``; a totals-only
  (legacy) line counts ``total - previous total``. An identical re-emit counts nothing, nor does
  an ``info:null`` line (rate limits only) or a malformed line.
- ``cached = min(cached, input)``; ``cache_write = min(cache_write, input - cached)`` (late-2026
  builds log ``cache_write_input_tokens``, inside ``input_tokens``: the ``cache_writes`` sessions,
  on gpt-5.6); `ExpectedRecord.input` is the input neither cached nor written.
- A forked or subagent file begins by replaying its parent's ``token_count`` lines, stamped at
  the fork instant: those count nothing (the parent's own lines do).
- Identical events across files are counted once, by ``(timestamp, model, input, cached,
  output, reasoning, total)``; the first file in path order (``sessions/`` before
  ``archived_sessions/``) keeps it. A file at the same relative path in both folders is read
  from ``sessions/`` only.
- A file that names no model anywhere is counted as ``gpt-5`` (``fallback=True``).

``quirk`` names what ccusage counts or prices differently from a plain reading: ``long_context``
(a prompt over 272k tokens, priced by ccusage at its long-context tier for the whole request)
and ``archived_copy`` (the same events also sit in an archived copy of the session, so a
per-session report keyed by session may count them twice).

`Manifest.limits` holds the latest ``rate_limits`` of each window (``primary`` = 5 h,
``secondary`` = weekly, named by ``window_minutes``: a ``weekly_only`` session's account is on a
weekly-only plan, whose lines put the 7-day window in ``primary``) among the lines a reader
reads, with ``resets_at`` in epoch seconds (for the older ``resets_in_seconds`` lines: the
line's time plus that many seconds).

Sizes are in MB of 10**6 bytes of JSONL, archived copies included.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from services.demo.corpus.claude import (
    _B62,
    _BRANCHES,
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
    ("gpt-5.3-codex", 0.62),
    ("gpt-5.4", 0.14),
    ("gpt-5.5", 0.14),
    ("gpt-5-codex", 0.10),
)
FALLBACK_MODEL = "gpt-5"
"""What ccusage counts a file under when no line names a model."""
LONG_CONTEXT_TOKENS = 272_000
"""Prompts above this are priced by ccusage 20.0.24 at a long-context tier (FORMATS §3.4)."""

EDGE_KINDS = (
    "reemit",
    "rate_limit_only",
    "legacy_totals",
    "no_model",
    "fork",
    "subagent",
    "orphan_fork",
    "archived",
    "archived_copy",
    "same_path_archive",
    "resets_in_seconds",
    "cached_over_input",
    "long_context",
    "compacted",
    "cache_writes",
    "weekly_only",
)
"""Every edge case the generator writes with edge_cases=True (keys of `Manifest.edge_lines`)."""
BAD_KINDS = ("malformed_json",)
"""Lines no reader can parse (keys of `Manifest.bad_lines`); they count nothing."""

VERSIONS = ("0.98.0", "0.116.0", "0.125.0", "0.130.0")
_OLD_VERSION = "0.46.0"  # wrote resets_in_seconds
_LEGACY_VERSION = "0.21.0"  # wrote totals only
_CACHE_WRITE_VERSION = "0.140.0"  # writes cache_write_input_tokens (late 2026)
CACHE_WRITE_MODEL = "gpt-5.6"
"""The model of the ``cache_writes`` sessions (it bills cache writes, at 1.25x input)."""
_WINDOW = 258_400  # model_context_window Codex reports for the 272k models
_BIG_WINDOW = 950_000  # with model_context_window configured for gpt-5.4/5.5's 1M context
_PRIMARY_MS = 300 * 60_000
_SECONDARY_MS = 10_080 * 60_000
_EFFORTS = ("low", "medium", "medium", "medium", "high", "high", "xhigh")
_REASONING_MEDIAN = {"low": 150, "medium": 600, "high": 1800, "xhigh": 4500}
_SESSION_EDGES = (
    "legacy_totals",
    "no_model",
    "orphan_fork",
    "archived",
    "resets_in_seconds",
    "long_context",
    "cache_writes",
    "weekly_only",
)
_CALL_EDGES = ("reemit", "rate_limit_only", "cached_over_input", "malformed_json", "compacted")
_CHILD_EDGES = ("fork", "subagent")
_COPY_EDGES = ("archived_copy", "same_path_archive")
_EDGE_RATE = 0.004  # per call
_TITLES = ("Inspecting the tests", "Checking the config", "Planning the change", "Running tests")
_SESSION_RATES = {
    "legacy_totals": 0.02,
    "no_model": 0.01,
    "orphan_fork": 0.005,
    "archived": 0.08,
    "resets_in_seconds": 0.03,
    "cache_writes": 0.03,
}
_MAX_PROMPT = 199_000  # every ordinary prompt stays below ccusage's long-context tiers
_TOOL_TOKENS_CAP = 10_000  # Codex truncates what a tool returns to the model


class ExpectedRecord(msgspec.Struct, frozen=True):
    """One counted Codex model call, as ccusage 20.0.24 derives it from a token_count line."""

    ts_ms: int
    model: str
    session: str  # path relative to sessions/ (or archived_sessions/) without .jsonl
    input: int  # NON-cached input
    cached: int
    output: int  # reasoning included
    reasoning: int
    total: int  # the log's total_tokens (input incl. cached + output)
    cache_write: int = 0  # input written to the prompt cache (late-2026 builds)
    archived: bool = False  # the file lies under archived_sessions/
    fallback: bool = False  # no model named anywhere in the file: counted as gpt-5
    quirk: str = ""  # what ccusage counts or prices differently; "" when it agrees

    @property
    def identity(self) -> tuple[int, str, int, int, int, int, int]:
        """ccusage's cross-file dedup identity: time, model and the raw token fields."""
        return (
            self.ts_ms,
            self.model,
            self.input + self.cached + self.cache_write,
            self.cached,
            self.output,
            self.reasoning,
            self.total,
        )

    @property
    def key(self) -> str:
        """`identity` as one string (unique within `Manifest.expected`)."""
        return "/".join(str(part) for part in self.identity)

    @property
    def prompt(self) -> int:
        """The whole prompt (cached included): what long-context tiers are measured on."""
        return self.input + self.cached + self.cache_write


class ExpectedLimit(msgspec.Struct, frozen=True):
    """The latest value of one rate-limit window in the tree."""

    window: str  # "primary" (5 h) or "secondary" (weekly)
    used_percent: float
    window_minutes: int
    resets_at: float  # epoch seconds
    ts_ms: int  # the line it was read from
    session: str


class Manifest(msgspec.Struct, frozen=True):
    """What `generate` wrote and what must be counted from it."""

    files: int  # .jsonl files, archived copies included
    bytes: int
    lines: int  # bad ones included
    bad_lines: dict[str, int]  # by kind, every kind of BAD_KINDS present as a key
    expected: list[ExpectedRecord]  # sorted by (ts_ms, key)
    limits: list[ExpectedLimit]  # primary then secondary (absent if no line carried one)
    edge_lines: dict[str, int]  # edge cases by kind: lines, files or events of that kind
    start_ms: int
    end_ms: int


_Vals = tuple[float | None, float | None, float, float]
"""(5-hour used, resets_at, weekly used, resets_at); the 5-hour pair is None on a weekly-only
plan."""


class _Usage(NamedTuple):
    """One token_count usage object (cumulative or per call)."""

    input: int
    cached: int
    output: int
    reasoning: int
    total: int
    cache_write: int = 0

    def plus(self, other: _Usage) -> _Usage:
        return _Usage(*(a + b for a, b in zip(self, other, strict=True)))

    def json(self, writes: bool = False) -> str:
        """The object as Codex logs it; ``writes``: a build that logs cache writes."""
        written = f',"cache_write_input_tokens":{self.cache_write}' if writes else ""
        return (
            f'{{"input_tokens":{self.input},"cached_input_tokens":{self.cached}{written},'
            f'"output_tokens":{self.output},"reasoning_output_tokens":{self.reasoning},'
            f'"total_tokens":{self.total}}}'
        )


_ZERO = _Usage(0, 0, 0, 0, 0)


def _esc(text: str) -> str:
    """Escape already JSON-escaped text once more, for a JSON document inside a JSON string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _line(ts: str, kind: str, payload: str) -> str:
    return f'{{"timestamp":"{ts}","type":"{kind}","payload":{payload}}}'


def _stamp(ms: int) -> str:
    """The rollout file name's local-time stamp (the tree is written as if TZ=UTC)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H-%M-%S")


@dataclass(slots=True)
class _Sess:
    """One rollout being written, with its running totals and prompt-cache state."""

    sid: str
    rel: str  # relative to its folder, with .jsonl
    archived: bool
    cwd: str
    model: str | None  # None: no line names a model
    effort: str
    window: int
    version: str
    clock: int
    sys_tokens: int
    compact_at: int
    kind: str = "normal"
    ctx: int = 0
    totals: _Usage = _ZERO
    last_prompt: int = 0
    last_call: int = 0
    # token_count payloads and the limits they carry, for fork replays
    history: list[tuple[str, _Vals | None]] = field(default_factory=list)
    is_parent: bool = False
    instructions: str = ""

    @property
    def legacy(self) -> bool:
        return self.kind == "legacy_totals"

    @property
    def writes(self) -> bool:
        """A build that logs ``cache_write_input_tokens``."""
        return self.version == _CACHE_WRITE_VERSION

    @property
    def session(self) -> str:
        return self.rel.removesuffix(".jsonl")


class _Buf:
    """One JSONL file, kept in memory and written whole when closed."""

    __slots__ = ("archived", "chunks", "path", "rel")

    def __init__(self, path: Path, rel: str, archived: bool) -> None:
        self.path = path
        self.rel = rel
        self.archived = archived
        self.chunks: list[bytes] = []

    def add(self, data: bytes) -> int:
        self.chunks.append(data)
        return len(self.chunks) - 1

    def close(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"".join(self.chunks))


class _Limits:
    """The account's rate-limit windows as a pure function of time (so any order of writing
    gives the same values): fixed 5-hour and weekly windows whose use grows inside each."""

    def __init__(self, rng: random.Random) -> None:
        self.salt = rng.getrandbits(32)
        self.phase = rng.randrange(_PRIMARY_MS)
        self.week_phase = rng.randrange(_SECONDARY_MS)
        self.plan = rng.choice(("plus", "plus", "pro"))
        self.cache: dict[tuple[int, int], float] = {}

    def intensity(self, which: int, k: int) -> float:
        got = self.cache.get((which, k))
        if got is None:
            got = random.Random(self.salt * 31 + which * 1_000_003 + k).uniform(0.1, 1.15)
            self.cache[(which, k)] = got
        return got

    def window(self, ts: int, which: int) -> tuple[float, int]:
        """(used_percent, resets_at seconds) of window `which` (0 = 5 h, 1 = weekly) at ts."""
        period, phase = (
            (_PRIMARY_MS, self.phase) if which == 0 else (_SECONDARY_MS, self.week_phase)
        )
        k = (ts - phase) // period
        start = phase + k * period
        used = min(100.0, self.intensity(which, k) * (ts - start) / period * 100)
        return round(used, 1), (start + period) // 1000

    def json(self, ts: int, old: bool) -> tuple[str, _Vals]:
        """The rate_limits object at ts, and (used, resets_at) of both windows as a reader
        reconstructs them (old: resets_in_seconds relative to the line's time)."""
        (p_used, p_reset), (s_used, s_reset) = self.window(ts, 0), self.window(ts, 1)
        if old:
            p_in, s_in = p_reset - ts // 1000, s_reset - ts // 1000
            text = (
                f'{{"primary":{{"used_percent":{p_used:.1f},"window_minutes":300,'
                f'"resets_in_seconds":{p_in}}},"secondary":{{"used_percent":{s_used:.1f},'
                f'"window_minutes":10080,"resets_in_seconds":{s_in}}}}}'
            )
            return text, (p_used, ts / 1000 + p_in, s_used, ts / 1000 + s_in)
        text = (
            f'{{"limit_id":"codex","limit_name":null,"primary":{{"used_percent":{p_used:.1f},'
            f'"window_minutes":300,"resets_at":{p_reset}}},"secondary":{{"used_percent":'
            f'{s_used:.1f},"window_minutes":10080,"resets_at":{s_reset}}},"credits":'
            f'{{"has_credits":false,"unlimited":false,"balance":null}},"plan_type":"{self.plan}",'
            f'"rate_limit_reached_type":null}}'
        )
        return text, (p_used, float(p_reset), s_used, float(s_reset))

    def weekly_only_json(self, ts: int) -> tuple[str, _Vals]:
        """The rate_limits object of a weekly-only plan (late 2026): the 7-day window sits in
        ``primary`` and ``secondary`` is null, so a reader must name windows by
        ``window_minutes``, not by position."""
        used, reset = self.window(ts, 1)
        text = (
            f'{{"limit_id":"codex","limit_name":null,"primary":{{"used_percent":{used:.1f},'
            f'"window_minutes":10080,"resets_at":{reset}}},"secondary":null,"credits":'
            f'{{"has_credits":false,"unlimited":false,"balance":null}},"plan_type":"free",'
            f'"rate_limit_reached_type":null}}'
        )
        return text, (None, None, used, float(reset))


class _Gen:
    """The writer: sessions, turns, calls, tools, forks, archives, edge cases and the ledger."""

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
        # identity -> (order, record); order = (folder, relative path, line)
        self.best: dict[
            tuple[int, str, int, int, int, int, int], tuple[tuple[int, str, int], ExpectedRecord]
        ] = {}
        self.limit_best: dict[str, tuple[tuple[int, int, str, int], ExpectedLimit]] = {}
        self.pending: set[str] = (
            {*_SESSION_EDGES, *_CALL_EDGES, *_CHILD_EDGES, *_COPY_EDGES} if edge else set()
        )
        self.limits = _Limits(rng)
        self.slots, self.cum = _day_slots(rng, start_ms, end_ms)
        self.cwds: tuple[str, ...] = ()
        self.cwd_weights: list[float] = []
        self.copy_src: tuple[_Sess, _Buf] | None = None

    # ids, time, output

    def b62(self, n: int) -> str:
        return "".join(self.rng.choices(_B62, k=n))

    def uuid7(self, ms: int) -> str:
        """A UUIDv7 (what Codex names threads with): the time, then random bits."""
        h = f"{ms & (1 << 48) - 1:012x}{self.rng.getrandbits(80):020x}"
        return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"

    def tick(self, s: _Sess, lo: int, hi: int) -> None:
        s.clock = min(s.clock + self.rng.randint(lo, hi), self.end_ms)

    def emit(self, buf: _Buf, line: str) -> int:
        data = (line + "\n").encode()
        self.written += len(data)
        self.lines += 1
        return buf.add(data)

    def close(self, buf: _Buf) -> None:
        buf.close()
        self.files += 1

    def when(self, frac: float) -> int:
        """Map progress through the byte budget to a time in the window's active hours."""
        x = frac * self.cum[-1]
        i = min(bisect.bisect_left(self.cum, x), len(self.cum) - 1)
        lo = self.cum[i - 1] if i else 0.0
        pos = (x - lo) / (self.cum[i] - lo) if self.cum[i] > lo else 0.0
        a, b = self.slots[i]
        return int(a + pos * (b - a)) + self.rng.randint(-1_200_000, 1_200_000)

    # the ledger

    def register(self, rec: ExpectedRecord, buf: _Buf, idx: int) -> None:
        """Keep the first copy of an identity in ccusage's path order."""
        order = (1 if buf.archived else 0, buf.rel, idx)
        cur = self.best.get(rec.identity)
        if cur is None:
            self.best[rec.identity] = (order, rec)
            return
        if order < cur[0]:
            self.best[rec.identity] = (order, rec)

    def note_limits(self, s: _Sess, buf: _Buf, idx: int, ts: int, vals: _Vals) -> None:
        """Keep the latest rate-limit value of each window (ties: first in path order)."""
        order = (-ts, 1 if buf.archived else 0, buf.rel, idx)
        for name, minutes, used, reset in (
            ("primary", 300, vals[0], vals[1]),
            ("secondary", 10_080, vals[2], vals[3]),
        ):
            if used is None or reset is None:
                continue  # a weekly-only plan has no 5-hour window
            cur = self.limit_best.get(name)
            if cur is None or order < cur[0]:
                limit = ExpectedLimit(name, used, minutes, reset, ts, s.session)
                self.limit_best[name] = (order, limit)

    # planning

    def plan(self, size_mb: float) -> None:
        n = min(len(PROJECT_CWDS), 3 + int(size_mb).bit_length())
        self.cwds = PROJECT_CWDS[:n]
        self.cwd_weights = [1 / (i + 1) for i in range(n)]

    def run(self, size_mb: float) -> None:
        self.plan(size_mb)
        idx = 0
        while self.written < self.target or self.pending:
            self.session(self.pick_kind(idx), idx)
            idx += 1
            if self.edge and self.copy_src is not None:
                for kind in _COPY_EDGES:
                    if kind in self.pending or self.rng.random() < 0.01:
                        self.pending.discard(kind)
                        self.copy(kind)
                        break

    def pick_kind(self, idx: int) -> str:
        """normal, or one of the session-level edge cases (each forced once, then rare)."""
        if not self.edge or idx == 0:
            return "normal"
        for kind in _SESSION_EDGES:
            if kind in self.pending:
                self.pending.discard(kind)
                return kind
        x = self.rng.random()
        for kind, rate in _SESSION_RATES.items():
            if x < rate:
                return kind
            x -= rate
        return "normal"

    def new_session(self, kind: str, t0: int, *, archived: bool = False) -> _Sess:
        rng = self.rng
        model: str | None = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
        window = _WINDOW
        version = VERSIONS[min(len(VERSIONS) - 1, int(self.frac() * len(VERSIONS)))]
        if kind == "no_model":
            model = None
        elif kind == "long_context":
            model, window = "gpt-5.5", _BIG_WINDOW
        elif kind == "legacy_totals":
            version = _LEGACY_VERSION
        elif kind == "resets_in_seconds":
            version = _OLD_VERSION
        elif kind == "cache_writes":
            model, version = CACHE_WRITE_MODEL, _CACHE_WRITE_VERSION
        sid = self.uuid7(t0)
        rel = f"rollout-{_stamp(t0)}-{sid}.jsonl"
        if not archived:
            rel = f"{_iso(t0)[:10].replace('-', '/')}/{rel}"
        sys_tokens = rng.randint(9_000, 15_000)
        return _Sess(
            sid=sid,
            rel=rel,
            archived=archived,
            cwd=rng.choices(self.cwds, self.cwd_weights)[0],
            model=model,
            effort=rng.choice(_EFFORTS),
            window=window,
            version=version,
            clock=t0,
            sys_tokens=sys_tokens,
            compact_at=rng.randint(110_000, 145_000),
            kind=kind,
            ctx=sys_tokens,
        )

    def frac(self) -> float:
        return min(1.0, self.written / self.target) if self.target else 1.0

    def open(self, s: _Sess) -> _Buf:
        folder = "archived_sessions" if s.archived else "sessions"
        return _Buf(self.root / folder / s.rel, s.rel, s.archived)

    # sessions

    def session(self, kind: str, idx: int) -> None:
        """One rollout: meta, then turns until done or over budget (forks spawned on the way)."""
        rng = self.rng
        n_turns = max(2, _lognorm(rng, 6, 0.9, 1, 60))
        if kind != "normal":
            n_turns = 1 if kind == "long_context" else min(n_turns, 4)
        gaps = [_lognorm(rng, 90_000, 1.1, 4_000, 2_700_000) for _ in range(n_turns)]
        calls = [_lognorm(rng, 4, 0.8, 1, 30) for _ in range(n_turns)]
        if kind == "long_context":
            calls = [1]  # one huge prompt, then the session ends
        if self.written >= self.target:  # only pending edge cases left: keep it short
            gaps, calls = gaps[:2], [min(3, n) if kind == "long_context" else 3 for n in calls[:2]]
        est = sum(gaps) + sum(calls) * 30_000 + 300_000
        t0 = max(self.start_ms, min(self.when(self.frac()), self.end_ms - est))
        s = self.new_session(kind, t0, archived=kind == "archived")
        if kind in (
            "legacy_totals",
            "no_model",
            "resets_in_seconds",
            "archived",
            "cache_writes",
            "weekly_only",
        ):
            self.kinds[kind] += 1
        if idx < len(MODELS) and kind == "normal":
            s.model = MODELS[idx][0]  # the first sessions use each model once
        buf = self.open(s)
        if kind == "orphan_fork":
            parent = self.uuid7(t0 - rng.randint(60_000, 3_600_000))  # not in this tree
            self.meta(s, buf, parent=parent, source="subagent")
            self.fake_replay(s, buf)
        else:
            self.meta(s, buf)
        self.first_user(s, buf)
        for t in range(len(gaps)):
            self.turn(s, buf, calls[t], gaps[t], long=kind == "long_context" and t == 0)
            if kind == "normal" and not s.archived and t < len(gaps) - 1:
                self.maybe_child(s, buf)
            if self.written >= self.target and (not self.pending or t >= 1):
                break  # over budget: what is still pending goes to short sessions
        self.close(buf)
        if kind == "normal" and not s.is_parent and not s.archived:
            self.copy_src = (s, buf)

    def meta(self, s: _Sess, buf: _Buf, parent: str = "", source: str = "") -> None:
        """The session_meta line (with the base instructions newer versions record)."""
        rng = self.rng
        ts = _iso(s.clock)
        instructions = self.fill.take(rng, self.fill.prose, _lognorm(rng, 9000, 0.3, 4000, 16_000))
        branch = rng.choice(_BRANCHES) or "main"
        head = f"{rng.getrandbits(160):040x}"
        src, fork = '"cli"', ""
        if source == "subagent":
            src = f'{{"subagent":{{"thread_spawn":{{"parent_thread_id":"{parent}","depth":1}}}}}}'
        elif source == "fork":
            fork = f',"forked_from_id":"{parent}"'
        name = s.cwd.rsplit("/", 1)[-1]
        self.emit(
            buf,
            _line(
                ts,
                "session_meta",
                f'{{"id":"{s.sid}","timestamp":"{ts}","cwd":"{s.cwd}","originator":"codex_cli_rs",'
                f'"cli_version":"{s.version}","source":{src}{fork},"model_provider":"openai",'
                f'"base_instructions":{{"text":"{instructions}"}},"git":{{"commit_hash":"{head}",'
                f'"branch":"{branch}","repository_url":"git@github.com:acme/{name}.git"}}}}',
            ),
        )

    def first_user(self, s: _Sess, buf: _Buf) -> None:
        """The AGENTS.md instructions and environment context Codex sends first."""
        rng = self.rng
        self.tick(s, 5, 40)
        agents = self.fill.take(rng, self.fill.prose, _lognorm(rng, 1500, 0.7, 200, 8000))
        s.instructions = agents
        env = (
            f"<environment_context>\\n  <cwd>{s.cwd}</cwd>\\n  <approval_policy>on-request"
            "</approval_policy>\\n  <sandbox_mode>workspace-write</sandbox_mode>\\n  "
            "<network_access>restricted</network_access>\\n  <shell>bash</shell>\\n"
            "</environment_context>"
        )
        text = (
            f"# AGENTS.md instructions for {s.cwd}\\n\\n<INSTRUCTIONS>\\n{agents}\\n</INSTRUCTIONS>"
        )
        self.emit(
            buf,
            _line(
                _iso(s.clock),
                "response_item",
                f'{{"type":"message","role":"user","content":[{{"type":"input_text","text":"{text}"}},'
                f'{{"type":"input_text","text":"{env}"}}]}}',
            ),
        )
        s.ctx += len(agents) // 4 + 120

    # turns and calls

    def turn(self, s: _Sess, buf: _Buf, calls: int, gap: int, *, long: bool = False) -> None:
        rng = self.rng
        self.tick(s, gap, gap)
        if (
            self.edge
            and not s.legacy
            and ("rate_limit_only" in self.pending or rng.random() < 0.15)
        ):
            self.pending.discard("rate_limit_only")
            self.limits_only(s, buf)
        model = f',"model":"{s.model}"' if s.model else ""
        self.emit(
            buf,
            _line(
                _iso(s.clock),
                "turn_context",
                f'{{"turn_id":"{self.uuid7(s.clock)}","cwd":"{s.cwd}","approval_policy":"on-request",'
                f'"sandbox_policy":{{"type":"workspace-write","network_access":false,'
                f'"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}}{model},'
                f'"effort":"{s.effort}","summary":"auto","truncation_policy":{{"mode":"tokens",'
                f'"limit":10000}}}}',
            ),
        )
        # Drawn as always (a seed keeps its sizes and tokens), written typed-looking, same size.
        drawn = self.fill.take(rng, self.fill.prose, _lognorm(rng, 220, 1.0, 5, 6000))
        prompt = typed_prompt(drawn)
        self.tick(s, 2, 30)
        ts = _iso(s.clock)
        self.emit(
            buf,
            _line(
                ts,
                "response_item",
                f'{{"type":"message","role":"user","content":[{{"type":"input_text",'
                f'"text":"{prompt}"}}]}}',
            ),
        )
        self.emit(
            buf,
            _line(ts, "event_msg", f'{{"type":"user_message","message":"{prompt}","images":[]}}'),
        )
        s.ctx += len(drawn) // 4 + 10
        if long:
            s.ctx = max(s.ctx, rng.randint(LONG_CONTEXT_TOKENS + 3_000, 330_000))
        for i in range(calls):
            if not long and (s.ctx > s.compact_at or (i and "compacted" in self.pending)):
                self.pending.discard("compacted")
                self.compact(s, buf)
            self.call(s, buf, final=i == calls - 1, long=long and i == 0)

    def reasoning(self, s: _Sess, buf: _Buf) -> int:
        """A reasoning item (summary + encrypted content); returns its reasoning tokens."""
        rng = self.rng
        if rng.random() < 0.2:
            return 0
        fill = self.fill
        title = rng.choice(_TITLES)
        summary = fill.take(rng, fill.prose, _lognorm(rng, 300, 0.7, 40, 2000))
        enc = fill.take(rng, fill.b64, _lognorm(rng, 2400, 0.6, 400, 16_000))
        self.tick(s, 300, 6000)
        ts = _iso(s.clock)
        self.emit(
            buf,
            _line(
                ts,
                "response_item",
                f'{{"type":"reasoning","summary":[{{"type":"summary_text","text":"**{title}**\\n\\n'
                f'{summary}"}}],"content":null,"encrypted_content":"gAAAAA{enc}"}}',
            ),
        )
        self.emit(
            buf,
            _line(
                ts, "event_msg", f'{{"type":"agent_reasoning","text":"**{title}**\\n\\n{summary}"}}'
            ),
        )
        return _lognorm(rng, _REASONING_MEDIAN[s.effort], 1.0, 16, 40_000)

    def call(self, s: _Sess, buf: _Buf, *, final: bool, long: bool = False) -> None:
        """One model call: reasoning, then a reply or tool calls, its token_count, tool outputs."""
        rng = self.rng
        reasoning = self.reasoning(s, buf)
        outputs: list[tuple[str, int]] = []  # (output payload, ms until it is written)
        if final:
            chars = self.reply(s, buf)
        else:
            chars = 0
            for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 3)):
                n, out = self.tool_call(s, buf)
                chars += n
                outputs.append(out)
        self.tick(s, 800, 9000)
        usage = self.usage(s, chars, reasoning, long=long)
        self.token_count(s, buf, usage, quirk="long_context" if long else "")
        for payload, delay in outputs:
            self.tick(s, delay, delay + 300)
            self.emit(buf, _line(_iso(s.clock), "response_item", payload))

    def reply(self, s: _Sess, buf: _Buf) -> int:
        rng = self.rng
        text = self.fill.take(rng, self.fill.prose, _lognorm(rng, 900, 0.9, 20, 9000))
        self.tick(s, 500, 8000)
        ts = _iso(s.clock)
        self.emit(buf, _line(ts, "event_msg", f'{{"type":"agent_message","message":"{text}"}}'))
        self.emit(
            buf,
            _line(
                ts,
                "response_item",
                f'{{"type":"message","role":"assistant","content":[{{"type":"output_text",'
                f'"text":"{text}"}}]}}',
            ),
        )
        return len(text)

    def big_or(self, median: int) -> int:
        """A typical tool output size, or now and then a 50-300 KB one (capped for tiny trees)."""
        rng = self.rng
        if rng.random() < 0.005:
            return min(max(20_000, self.target // 40), int(50_000 * 6 ** rng.random()))
        return _lognorm(rng, median, 0.9, 20, 40_000)

    def tool_call(self, s: _Sess, buf: _Buf) -> tuple[int, tuple[str, int]]:
        """A function_call (exec_command) or custom_tool_call (apply_patch), and its output."""
        rng = self.rng
        fill = self.fill
        cid = "call_" + self.b62(24)
        self.tick(s, 200, 4000)
        ts = _iso(s.clock)
        if rng.random() < 0.75:
            cmd = rng.choice(_COMMANDS)
            args = _esc(f'{{"cmd":"{cmd}","workdir":"{s.cwd}","yield_time_ms":10000}}')
            self.emit(
                buf,
                _line(
                    ts,
                    "response_item",
                    f'{{"type":"function_call","name":"exec_command","arguments":"{args}",'
                    f'"call_id":"{cid}"}}',
                ),
            )
            out = fill.take(rng, fill.code, self.big_or(1500))
            wall = _lognorm(rng, 1500, 1.3, 20, 120_000)
            text = (
                f"Chunk ID: {self.b62(6)}\\nWall time: {wall / 1000:.3f} seconds\\n"
                f"Process exited with code {0 if rng.random() < 0.85 else 1}\\n"
                f"Original token count: {len(out) // 4}\\nOutput:\\n{out}"
            )
            s.ctx += min(len(out) // 4, _TOOL_TOKENS_CAP) + 30
            payload = f'{{"type":"function_call_output","call_id":"{cid}","output":"{text}"}}'
            return len(args), (payload, wall)
        path = rng.choice(_FILES)
        old = fill.take(rng, fill.code, _lognorm(rng, 300, 0.9, 20, 4000))
        new = fill.take(rng, fill.code, _lognorm(rng, 400, 0.9, 20, 5000))
        patch = (
            f"*** Begin Patch\\n*** Update File: {path}\\n@@\\n-{old}\\n+{new}\\n*** End Patch\\n"
        )
        self.emit(
            buf,
            _line(
                ts,
                "response_item",
                f'{{"type":"custom_tool_call","status":"completed","call_id":"{cid}",'
                f'"name":"apply_patch","input":"{patch}"}}',
            ),
        )
        result = _esc(
            f'{{"output":"Success. Updated the following files:\\nM {path}\\n",'
            f'"metadata":{{"exit_code":0,"duration_seconds":0.0}}}}'
        )
        s.ctx += 40
        payload = f'{{"type":"custom_tool_call_output","call_id":"{cid}","output":"{result}"}}'
        return len(patch), (payload, rng.randint(20, 400))

    def usage(self, s: _Sess, chars: int, reasoning: int, *, long: bool = False) -> _Usage:
        """The call's last_token_usage: the whole context as input, its cached prefix, output."""
        rng = self.rng
        prompt = s.ctx if long else min(s.ctx, _MAX_PROMPT)
        if s.last_prompt and s.clock - s.last_call <= 600_000 and rng.random() < 0.95:
            cached = min(prompt, s.last_prompt) // 64 * 64
        elif rng.random() < 0.6:
            cached = min(prompt, s.sys_tokens) // 64 * 64
        else:
            cached = 0
        visible = max(1, chars * 10 // 37 + rng.randint(2, 40))
        output = visible + reasoning
        s.last_prompt = prompt
        s.last_call = s.clock
        s.ctx = min(s.ctx + visible, _MAX_PROMPT) if not long else s.ctx + visible
        # A build that logs cache writes: most of the new (uncached) prompt is written.
        written = (prompt - cached) * rng.randint(60, 95) // 100 if s.writes else 0
        return _Usage(prompt, cached, output, reasoning, prompt + output, written)

    def token_count(self, s: _Sess, buf: _Buf, usage: _Usage, quirk: str = "") -> None:
        """The token_count line of one call, with its edge cases; registers what it counts."""
        rng = self.rng
        plain = self.edge and not s.legacy and not quirk  # open to one more edge case
        if plain and ("cached_over_input" in self.pending or rng.random() < _EDGE_RATE):
            self.pending.discard("cached_over_input")
            usage = usage._replace(cached=usage.input + rng.randint(1, 900))
            self.kinds["cached_over_input"] += 1
            plain = False
        s.totals = s.totals.plus(usage)
        payload = self.count_payload(s, usage)
        ts = s.clock
        if plain and ("malformed_json" in self.pending or rng.random() < _EDGE_RATE / 2):
            self.pending.discard("malformed_json")
            line = _line(_iso(ts), "event_msg", payload[0])
            self.emit(buf, line[: line.index('"last_token_usage"') + 30])  # a write cut short
            self.bad["malformed_json"] += 1
            return
        idx = self.emit(buf, _line(_iso(ts), "event_msg", payload[0]))
        s.history.append(payload)
        if payload[1] is not None:
            self.note_limits(s, buf, idx, ts, payload[1])
        cached = min(usage.cached, usage.input)
        written = min(usage.cache_write, usage.input - cached)
        rec = ExpectedRecord(
            ts_ms=ts,
            model=s.model or FALLBACK_MODEL,
            session=s.session,
            input=usage.input - cached - written,
            cached=cached,
            cache_write=written,
            output=usage.output,
            reasoning=usage.reasoning,
            total=usage.total,
            archived=s.archived,
            fallback=s.model is None,
            quirk=quirk,
        )
        self.register(rec, buf, idx)
        if quirk:
            self.kinds[quirk] += 1
            self.pending.discard(quirk)
        if self.edge and not s.legacy and ("reemit" in self.pending or rng.random() < 0.03):
            self.pending.discard("reemit")
            self.tick(s, 1, 1500)
            payload = self.count_payload(s, usage)
            idx = self.emit(buf, _line(_iso(s.clock), "event_msg", payload[0]))
            s.history.append(payload)
            if payload[1] is not None:
                self.note_limits(s, buf, idx, s.clock, payload[1])
            self.kinds["reemit"] += 1

    def count_payload(self, s: _Sess, last: _Usage) -> tuple[str, _Vals | None]:
        """A token_count payload with the current totals, and the limits it carries."""
        if s.legacy:
            info = f'{{"total_token_usage":{s.totals.json()},"model_context_window":{s.window}}}'
            return f'{{"type":"token_count","info":{info},"rate_limits":null}}', None
        if s.kind == "weekly_only":
            limits, vals = self.limits.weekly_only_json(s.clock)
        else:
            limits, vals = self.limits.json(s.clock, s.kind == "resets_in_seconds")
        info = (
            f'{{"total_token_usage":{s.totals.json(s.writes)},'
            f'"last_token_usage":{last.json(s.writes)},"model_context_window":{s.window}}}'
        )
        return f'{{"type":"token_count","info":{info},"rate_limits":{limits}}}', vals

    def limits_only(self, s: _Sess, buf: _Buf) -> None:
        """A token_count with info:null: rate limits only."""
        if s.legacy:
            return
        limits, vals = self.limits.json(s.clock, s.kind == "resets_in_seconds")
        payload = f'{{"type":"token_count","info":null,"rate_limits":{limits}}}'
        idx = self.emit(buf, _line(_iso(s.clock), "event_msg", payload))
        s.history.append((payload, vals))
        self.note_limits(s, buf, idx, s.clock, vals)
        self.kinds["rate_limit_only"] += 1

    def compact(self, s: _Sess, buf: _Buf) -> None:
        """Auto-compaction: a summarising call (counted), then the compacted line."""
        rng = self.rng
        summary = self.fill.take(rng, self.fill.prose, _lognorm(rng, 4000, 0.4, 1500, 12_000))
        self.tick(s, 5000, 40_000)
        usage = self.usage(s, len(summary), 0)
        self.token_count(s, buf, usage)
        self.emit(
            buf,
            _line(
                _iso(s.clock), "compacted", f'{{"message":"{summary}","replacement_history":[]}}'
            ),
        )
        s.ctx = s.sys_tokens + len(summary) // 4 + len(s.instructions) // 4
        s.last_prompt = 0
        self.kinds["compacted"] += 1

    # forks

    def maybe_child(self, s: _Sess, buf: _Buf) -> None:
        """Now and then a /fork or a spawned subagent, each forced once in an edge tree."""
        if not self.edge or len(s.history) < 2:
            return
        kinds = [k for k in _CHILD_EDGES if k in self.pending]
        if not kinds and self.rng.random() < 0.04:
            kinds = [self.rng.choice(_CHILD_EDGES)]
        for kind in kinds[:1]:
            self.pending.discard(kind)
            self.child(s, kind)

    def child(self, parent: _Sess, kind: str) -> None:
        """A forked/subagent rollout: the parent's token_count history replayed within the
        fork's second (counted nothing), then its own turns (counted)."""
        rng = self.rng
        parent.is_parent = True
        self.tick(parent, 300, 3000)
        fork_ts = parent.clock
        c = self.new_session("normal", fork_ts)
        c.kind = kind
        c.model = parent.model
        c.effort = parent.effort
        c.cwd = parent.cwd
        c.version = parent.version
        buf = self.open(c)
        self.meta(c, buf, parent=parent.sid, source="subagent" if kind == "subagent" else "fork")
        self.replay(c, buf, parent.history)
        c.totals = parent.totals
        if kind == "fork":
            c.ctx = parent.ctx
            c.last_prompt, c.last_call = parent.last_prompt, parent.last_call
        self.tick(c, 5_800, 15_300)  # the child's own first turn follows a real pause
        for _ in range(rng.randint(1, 3)):
            self.turn(c, buf, _lognorm(rng, 3, 0.6, 1, 8), rng.randint(1000, 60_000))
        self.close(buf)
        self.kinds[kind] += 1
        parent.clock = max(parent.clock, c.clock)

    def replay(self, c: _Sess, buf: _Buf, history: list[tuple[str, _Vals | None]]) -> None:
        """Copies of the parent's token_count lines, all stamped within ms of the fork (their
        rate limits are stale but stamped now: a latest-line reader sees them as such)."""
        ts = c.clock
        for payload, vals in history:
            ts += self.rng.randint(0, 2)
            idx = self.emit(buf, _line(_iso(ts), "event_msg", payload))
            if vals is not None:
                self.note_limits(c, buf, idx, ts, vals)
            self.kinds["replayed"] += 1
        c.clock = ts

    def fake_replay(self, c: _Sess, buf: _Buf) -> None:
        """An orphan fork's replay: history of a parent that is not in the tree."""
        rng = self.rng
        history: list[tuple[str, _Vals | None]] = []
        for _ in range(rng.randint(2, 5)):
            prompt = rng.randint(12_000, 60_000)
            cached = prompt * rng.randint(50, 95) // 100 // 64 * 64
            reasoning = rng.randint(0, 900)
            out = reasoning + rng.randint(20, 800)
            usage = _Usage(prompt, cached, out, reasoning, prompt + out)
            c.totals = c.totals.plus(usage)
            history.append(self.count_payload(c, usage))
        self.replay(c, buf, history)
        self.kinds["orphan_fork"] += 1

    # copies in archived_sessions/

    def copy(self, kind: str) -> None:
        """An archived copy of the last plain session (its events deduped across files), or a
        stale half snapshot at the same relative path (never read: sessions/ wins)."""
        assert self.copy_src is not None
        s, buf = self.copy_src
        self.copy_src = None
        if kind == "archived_copy":
            name = s.rel.rsplit("/", 1)[-1]
            chunks = buf.chunks
            for ident, (order, rec) in self.best.items():
                if rec.session == s.session and not rec.quirk:
                    self.best[ident] = (order, msgspec.structs.replace(rec, quirk=kind))
        else:
            name = s.rel
            chunks = buf.chunks[: max(1, len(buf.chunks) // 2)]
        copy = _Buf(self.root / "archived_sessions" / name, name, True)
        for chunk in chunks:
            copy.add(chunk)
            self.written += len(chunk)
        self.lines += len(chunks)
        self.close(copy)
        self.kinds[kind] += 1

    def manifest(self) -> Manifest:
        expected = sorted((rec for _, rec in self.best.values()), key=lambda r: (r.ts_ms, r.key))
        limits = [self.limit_best[w][1] for w in ("primary", "secondary") if w in self.limit_best]
        return Manifest(
            files=self.files,
            bytes=self.written,
            lines=self.lines,
            bad_lines=dict(self.bad),
            expected=expected,
            limits=limits,
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
    """Write about size_mb MB of Codex rollouts under root (a CODEX_HOME) and return the truth.

    Sessions are spread over the `days` days ending at `start` (default: now, UTC). The same
    seed, size and start give a byte-identical tree. With edge_cases=False every token_count is
    one advancing call with last_token_usage (no re-emits, no info:null lines, no legacy or
    model-less files, no forks, nothing archived, no bad lines) and every prompt stays under
    200k tokens: a corpus on which every counting rule agrees. With edge_cases=True each edge
    case of FORMATS §3 (`EDGE_KINDS`, `BAD_KINDS`) appears at least once, and then rarely.
    root/sessions and root/archived_sessions must be empty or absent.
    """
    if size_mb <= 0 or days < 1:
        raise ValueError("size_mb must be > 0 and days >= 1")
    for folder in ("sessions", "archived_sessions"):
        path = root / folder
        if path.is_dir() and any(path.iterdir()):
            raise FileExistsError(f"{path} is not empty; the manifest would not describe it")
    end_ms = _epoch_ms(start or datetime.now(UTC))
    gen = _Gen(
        root,
        random.Random(f"codex/{seed}"),
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
    """Token sums per local date of manifest.expected, in ``ccusage codex daily`` field names
    (``inputTokens`` is input neither cached nor written, ``cacheCreationTokens`` the cache
    writes; ``totalTokens`` sums the logged totals).

    ``skip`` leaves out the records whose quirk is listed.
    """
    zone = ZoneInfo(tz)
    days: dict[str, dict[str, int]] = {}
    for r in manifest.expected:
        if r.quirk in skip:
            continue
        day = datetime.fromtimestamp(r.ts_ms // 1000, zone).date().isoformat()
        row = days.setdefault(
            day,
            {
                "inputTokens": 0,
                "cacheCreationTokens": 0,
                "cacheReadTokens": 0,
                "outputTokens": 0,
                "reasoningOutputTokens": 0,
                "totalTokens": 0,
            },
        )
        row["inputTokens"] += r.input
        row["cacheCreationTokens"] += r.cache_write
        row["cacheReadTokens"] += r.cached
        row["outputTokens"] += r.output
        row["reasoningOutputTokens"] += r.reasoning
        row["totalTokens"] += r.total
    return dict(sorted(days.items()))


def main(argv: list[str] | None = None) -> int:
    """`python -m services.demo.corpus.codex ROOT --size-mb N --seed S`: write a tree, print a
    summary."""
    return run_generator(
        argv,
        "services.demo.corpus.codex",
        __doc__,
        "sessions/ and archived_sessions/",
        "Codex rollouts",
        generate,
    )


if __name__ == "__main__":
    raise SystemExit(main())
