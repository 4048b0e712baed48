"""Comparing one report of ccusage 20.0.24 with ours: one schema, the differences, their verdicts.

Pure functions over parsed JSON and the generator's ground truth (no process is run), shared by
``python -m bench.parity`` and ``tests/parity``.

Mapping onto our schema (``services.queries.reports``):

- Claude and Gemini rows already use our field names (``totalCost``, ``modelBreakdowns``).
- Codex: ``costUSD`` -> ``totalCost``, ``reasoningOutputTokens`` -> ``reasoningTokens``, the
  ``models`` object -> model breakdowns without cost (ccusage gives no per-model cost) and no
  ``modelsUsed`` order; ``inputTokens`` is non-cached input in both tools.
- Blocks: ``tokenCounts.{cacheCreationInputTokens,cacheReadInputTokens}`` -> our
  ``cacheCreationTokens``/``cacheReadTokens``, ``costUSD`` -> cost; ``startTime``, ``endTime``,
  ``actualEndTime``, ``isGap`` and ``entries`` are compared exactly.
- Sessions: ccusage's ISO ``firstActivity``/``lastActivity`` become local dates (ours are).
  Claude sessions are keyed by ``projectPath/sessionId`` (ccusage's own key), others by
  ``sessionId``.

Compared: every row (present in both), every token field both give (``inputTokens``,
``outputTokens``, ``cacheCreationTokens``, ``cacheReadTokens`` always; ``totalTokens`` and
``reasoningTokens`` where both have them) exactly, costs within `COST_TOLERANCE`, the set and
order of ``modelsUsed``, every model's breakdown, and the order of the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bus.messages import PROVIDERS
from services.demo.corpus.mixed import MixedManifest

README = Path(__file__).resolve().parents[1] / "README.md"

REPORTS: dict[str, tuple[str, ...]] = {
    "claude": ("daily", "weekly", "monthly", "session", "blocks"),
    "codex": ("daily", "monthly", "session"),
    "gemini": ("daily", "monthly", "session"),
}
"""Every report ccusage 20.0.24 has per agent (``codex``/``gemini`` have no weekly or blocks)."""
COST_TOLERANCE = 0.005
"""Costs are equal when they differ by less than this many USD (FORMATS.md §7)."""
TOTALS = "totals"
"""The row key of a report's ``totals``."""
ROW_ORDER = "row order"
"""The field of a difference in the order of the rows (its row is the first position that
differs, ``#1`` for the first)."""

TOKEN_FIELDS = (
    "inputTokens",
    "outputTokens",
    "cacheCreationTokens",
    "cacheReadTokens",
    "reasoningTokens",
    "totalTokens",
)
"""Our token fields (``services.queries.reports``); ccusage's are mapped onto them."""
REQUIRED_TOKENS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
"""Token fields every row of both tools carries."""
_CODEX_NAMES = {"reasoningOutputTokens": "reasoningTokens", "costUSD": "totalCost"}
_BLOCK_NAMES = {
    "cacheCreationInputTokens": "cacheCreationTokens",
    "cacheReadInputTokens": "cacheReadTokens",
}
_BLOCK_OTHER = ("startTime", "endTime", "actualEndTime", "isGap", "entries")
_ROW_KEYS = {"daily": "date", "weekly": "week", "monthly": "month"}
_ROWS = {
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "session": "sessions",
    "blocks": "blocks",
}


class Case(NamedTuple):
    """One comparison: a corpus variant, a view (time zone, dates, order) and a report."""

    variant: str
    view: str
    provider: str
    kind: str


# -- one schema -------------------------------------------------------------------------------


@dataclass
class Entry:
    """A row, the totals, or one model of a row, in our schema.

    ``cost`` is ``None`` where the tool gives none (ccusage's Codex models); ``models_used`` is
    ``None`` where the order is not given (ccusage's Codex ``models`` object); ``other`` holds
    the non-token fields compared exactly (a session's dates, a block's times and entries).
    """

    tokens: dict[str, int]
    cost: float | None
    other: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Entry] = field(default_factory=dict)
    models_used: list[str] | None = None


Report = dict[str, Entry]
"""Row key (date, week, month, session, block id, or `TOTALS`) to row, in the tool's order."""


def _tokens(item: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, int]:
    renamed = {(names or {}).get(k, k): v for k, v in item.items()}
    return {k: int(renamed[k]) for k in TOKEN_FIELDS if k in renamed}


def local_date(stamp: str, tz: str) -> str:
    """The local date of an ISO timestamp in ``tz``, or the value itself if it is a date."""
    if len(stamp) == 10:
        return stamp
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tz)).date().isoformat()


def _row_key(provider: str, kind: str, row: dict[str, Any]) -> str:
    if kind in _ROW_KEYS:
        return str(row[_ROW_KEYS[kind]])
    if kind == "blocks":
        return str(row["id"])
    if provider == "claude":
        return f"{row['projectPath']}/{row['sessionId']}"
    return str(row["sessionId"])


def _session_other(row: dict[str, Any], tz: str) -> dict[str, Any]:
    return {k: local_date(row[k], tz) for k in ("firstActivity", "lastActivity") if k in row}


def _breakdowns(row: dict[str, Any]) -> dict[str, Entry]:
    return {
        m["modelName"]: Entry(_tokens(m), float(m["cost"])) for m in row.get("modelBreakdowns", [])
    }


def _entry(provider: str, kind: str, row: dict[str, Any], ours: bool, tz: str) -> Entry:
    if kind == "blocks":
        tokens = _tokens(row["tokenCounts"], _BLOCK_NAMES)
        tokens["totalTokens"] = int(row["totalTokens"])
        other = {k: row.get(k) for k in _BLOCK_OTHER}
        return Entry(tokens, float(row["costUSD"]), other, {}, list(row.get("models", [])))
    other = _session_other(row, tz) if kind == "session" else {}
    if provider == "codex" and not ours:
        renamed = {_CODEX_NAMES.get(k, k): v for k, v in row.items()}
        models = {
            name: Entry(_tokens(m, _CODEX_NAMES), None) for name, m in row.get("models", {}).items()
        }
        return Entry(_tokens(renamed), float(renamed["totalCost"]), other, models)
    used = row.get("modelsUsed")
    return Entry(_tokens(row), float(row["totalCost"]), other, _breakdowns(row), used)


def normalise(
    provider: str, kind: str, report: dict[str, Any], ours: bool, tz: str = "UTC"
) -> Report:
    """A report of either tool (``ours`` or ccusage's) as `Entry` rows, in the report's order,
    then its totals under `TOTALS`; ``tz`` is the report's time zone."""
    out: Report = {}
    for row in report.get(_ROWS[kind], []):
        key = _row_key(provider, kind, row)
        if key in out:
            raise ValueError(f"{provider} {kind}: row {key!r} appears twice")
        out[key] = _entry(provider, kind, row, ours, tz)
    if TOTALS in report:
        totals = report[TOTALS]
        names = _CODEX_NAMES if provider == "codex" and not ours else {}
        cost = totals.get("costUSD", totals.get("totalCost"))
        out[TOTALS] = Entry(_tokens(totals, names), None if cost is None else float(cost))
    return out


# -- comparison -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One field of one row where the two tools disagree.

    ``field`` is a token field, ``totalCost``, ``modelsUsed``, ``modelsUsed order``, ``row``
    (present in one tool only: ``ours``/``ccusage`` say where), ``model <name>`` (a model in one
    only), ``<model>.<field>`` (a field of one model's breakdown), `ROW_ORDER`, or a block's or
    session's other field. ``rule`` names the README deliberate difference explaining it
    (empty: UNEXPECTED).
    """

    case: Case
    row: str
    field: str
    ours: Any
    ccusage: Any
    rule: str = ""

    @property
    def expected(self) -> bool:
        """Whether a deliberate difference listed in README.md explains it."""
        return bool(self.rule)

    @property
    def delta(self) -> int | float | None:
        """Ours minus ccusage, for numbers (not for presence flags)."""
        values = (self.ours, self.ccusage)
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            return None
        difference: int | float = self.ours - self.ccusage
        return difference

    def as_json(self) -> dict[str, Any]:
        """The difference as JSON-ready values."""
        return {
            **self.case._asdict(),
            "row": self.row,
            "field": self.field,
            "ours": self.ours,
            "ccusage": self.ccusage,
            "expected": self.expected,
            "rule": self.rule,
        }


def _costs_differ(ours: float | None, theirs: float | None) -> bool:
    return ours is not None and theirs is not None and abs(ours - theirs) >= COST_TOLERANCE


def compare_entries(
    ours: Entry, theirs: Entry, required: tuple[str, ...] = REQUIRED_TOKENS
) -> list[tuple[str, Any, Any]]:
    """``(field, ours, ccusage)`` for every field of two rows that differs."""
    out: list[tuple[str, Any, Any]] = []
    for name in TOKEN_FIELDS:
        mine, other = ours.tokens.get(name), theirs.tokens.get(name)
        if (mine is None or other is None) and name not in required:
            continue
        if mine != other:
            out.append((name, mine, other))
    if _costs_differ(ours.cost, theirs.cost):
        out.append(("totalCost", ours.cost, theirs.cost))
    for name in sorted(ours.other.keys() & theirs.other.keys()):
        if ours.other[name] != theirs.other[name]:
            out.append((name, ours.other[name], theirs.other[name]))
    return out + _compare_models(ours, theirs)


def _compare_models(ours: Entry, theirs: Entry) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    if ours.models_used is not None and theirs.models_used is not None:
        if set(ours.models_used) != set(theirs.models_used):
            out.append(("modelsUsed", sorted(ours.models_used), sorted(theirs.models_used)))
        elif ours.models_used != theirs.models_used:
            out.append(("modelsUsed order", ours.models_used, theirs.models_used))
    for name in sorted(ours.models.keys() | theirs.models.keys()):
        mine, other = ours.models.get(name), theirs.models.get(name)
        if mine is None or other is None:
            out.append((f"model {name}", mine is not None, other is not None))
            continue
        for sub, a, b in compare_entries(mine, other, ()):
            out.append((f"{name}.{'cost' if sub == 'totalCost' else sub}", a, b))
    return out


def compare_order(ours: Report, theirs: Report) -> tuple[int, str, str] | None:
    """The first position (0-based) where the rows both tools have come in another order, with
    the row each puts there; ``None`` when the order agrees."""
    mine = [k for k in ours if k != TOTALS and k in theirs]
    other = [k for k in theirs if k != TOTALS and k in ours]
    for i, (a, b) in enumerate(zip(mine, other, strict=True)):
        if a != b:
            return i, a, b
    return None


def compare_reports(case: Case, ours: Report, theirs: Report) -> list[Difference]:
    """Every difference between our report and ccusage's: rows in key order, totals, then the
    order of the rows."""
    keys = sorted((ours.keys() | theirs.keys()) - {TOTALS})
    if TOTALS in ours or TOTALS in theirs:
        keys.append(TOTALS)
    out: list[Difference] = []
    for key in keys:
        mine, other = ours.get(key), theirs.get(key)
        if mine is None or other is None:
            out.append(Difference(case, key, "row", mine is not None, other is not None))
            continue
        out += [Difference(case, key, n, a, b) for n, a, b in compare_entries(mine, other)]
    moved = compare_order(ours, theirs)
    if moved is not None:
        out.append(Difference(case, f"#{moved[0] + 1}", ROW_ORDER, moved[1], moved[2]))
    return out


# -- classification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A deliberate difference from ccusage, as README.md's table lists it.

    ``readme_case``: how the row's first cell begins (the rule only applies while README.md
    lists it). ``fields``: the field classes it can change (`field_class`). ``located``: it
    only explains a row that the generator's ground truth puts such a record in (`Mark`).
    """

    name: str
    readme_case: str
    providers: frozenset[str]
    kinds: frozenset[str]
    fields: frozenset[str]
    located: bool = True


_ALL_KINDS = frozenset(k for kinds in REPORTS.values() for k in kinds)
_COUNTS = frozenset({"tokens", "cost", "row", "other"})
RULES = (
    Rule(
        "long_prompt",
        "prompt above 200k tokens",
        frozenset({"claude", "gemini"}),
        _ALL_KINDS,
        frozenset({"cost"}),
    ),
    Rule(
        "web_search",
        "Claude Code web searches",
        frozenset({"claude"}),
        _ALL_KINDS,
        frozenset({"cost"}),
    ),
    Rule(
        "requestless_dup",
        "requestless duplicates",
        frozenset({"claude"}),
        frozenset({"daily"}),
        _COUNTS,
    ),
    Rule(
        "sidechain_replay",
        "sidechain replays",
        frozenset({"claude"}),
        frozenset({"weekly", "monthly", "session", "blocks"}),
        _COUNTS,
    ),
    Rule(
        "progress_only",
        "agent `progress` lines",
        frozenset({"claude"}),
        frozenset({"weekly", "monthly", "session", "blocks"}),
        _COUNTS,
    ),
    Rule(
        "archived_copy",
        "Codex event in both",
        frozenset({"codex"}),
        frozenset({"session"}),
        _COUNTS,
    ),
    Rule(
        "session_order",
        "row order of session reports",
        frozenset({"codex", "gemini"}),
        frozenset({"session"}),
        frozenset({"row_order"}),
        located=False,
    ),
    Rule(
        "codex_daily_order",
        "row order of session reports",
        frozenset({"codex"}),
        frozenset({"daily"}),
        frozenset({"row_order"}),
        located=False,
    ),
    Rule(
        "models_order",
        "order of `modelsUsed`",
        frozenset(PROVIDERS),
        _ALL_KINDS,
        frozenset({"models_order"}),
        located=False,
    ),
)
"""Every deliberate difference the corpora can show (README.md, "Deliberate differences")."""


def rule_case(name: str) -> str:
    """The README case of the rule called ``name``."""
    return next(r.readme_case for r in RULES if r.name == name)


class Mark(NamedTuple):
    """Where the ground truth puts a record a rule is about: its time and session row key."""

    ts_ms: int
    session: str


Marks = dict[tuple[str, str], list[Mark]]
"""``(rule, provider)`` to the records the rule is about."""


@dataclass(frozen=True)
class Context:
    """What locating a record in a report's rows needs: the report's time zone and date
    range, and its blocks' ``[start, end)`` in epoch ms by id."""

    tz: str = "UTC"
    since: str | None = None
    until: str | None = None
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)


def readme_cases(readme: Path = README) -> list[str]:
    """The first cells of README.md's "Deliberate differences from ccusage" table."""
    text = readme.read_text(encoding="utf-8")
    section = re.search(
        r"^#+ Deliberate differences from ccusage.*?$(.*?)(?=^#|\Z)", text, re.M | re.S
    )
    if section is None:
        return []
    lines = [line for line in section.group(1).splitlines() if line.startswith("|")]
    cells = [line.split("|")[1].strip() for line in lines[2:]]
    return [c for c in cells if c]


def listed_rules(cases: Iterable[str]) -> tuple[Rule, ...]:
    """The rules README.md still lists."""
    listed = list(cases)
    return tuple(r for r in RULES if any(c.startswith(r.readme_case) for c in listed))


def marks_of(manifest: MixedManifest) -> Marks:
    """The records of the ground truth each located rule is about."""
    marks: Marks = {}

    def add(rule: str, provider: str, ts_ms: int, session: str) -> None:
        marks.setdefault((rule, provider), []).append(Mark(ts_ms, session))

    for c in manifest.claude.expected:
        session = f"{c.project}/{c.session}"
        if c.quirk in ("requestless_dup", "sidechain_replay", "progress_only"):
            add(c.quirk, "claude", c.ts_ms, session)
        if c.input + c.cache_write_5m + c.cache_write_1h + c.cache_read > 200_000:
            add("long_prompt", "claude", c.ts_ms, session)
        if c.web_search_requests:
            add("web_search", "claude", c.ts_ms, session)
    for x in manifest.codex.expected:
        if x.quirk == "archived_copy":
            # ccusage's second row is the archived file's own session id: its bare name.
            add("archived_copy", "codex", x.ts_ms, x.session.rsplit("/", 1)[-1])
    for g in manifest.gemini.expected:
        if g.quirk == "long_context":
            add("long_prompt", "gemini", g.ts_ms, g.session)
    return marks


def field_class(name: str) -> str:
    """``row``, ``row_order``, ``models_order``, ``cost``, ``tokens`` (token fields, models,
    entries) or ``other``."""
    fixed = {"row": "row", ROW_ORDER: "row_order", "modelsUsed order": "models_order"}
    if name in fixed:
        return fixed[name]
    if name == "totalCost" or name.endswith(".cost"):
        return "cost"
    leaf = name.rsplit(".", 1)[-1]
    if leaf in TOKEN_FIELDS or name in ("entries", "modelsUsed") or name.startswith("model "):
        return "tokens"
    return "other"


def _day(mark: Mark, tz: str) -> str:
    return datetime.fromtimestamp(mark.ts_ms / 1000, ZoneInfo(tz)).date().isoformat()


def rows_of(kind: str, mark: Mark, context: Context) -> set[str]:
    """The row keys of a report ``kind`` the marked record falls in, `TOTALS` included.

    Periods and sessions are built from the records dated in the range (ccusage 20.0.24 filters
    a session's entries by date, not whole sessions by last activity, whatever FORMATS.md §2.6
    says), so a record outside it is in no row. A block is selected as a whole (by its start),
    so a record counts in its block's row wherever its own date lies.
    """
    if kind == "blocks":
        return {key for key, (lo, hi) in context.blocks.items() if lo <= mark.ts_ms < hi}
    day = _day(mark, context.tz)
    if (context.since and day < context.since) or (context.until and day > context.until):
        return set()
    if kind == "session":
        return {mark.session, TOTALS}
    start = datetime.fromisoformat(day).date()
    week = start - timedelta(days=(start.weekday() + 1) % 7)
    rows = {"daily": day, "weekly": week.isoformat(), "monthly": day[:7]}
    return {rows[kind], TOTALS}


def block_spans(*reports: Report) -> dict[str, tuple[int, int]]:
    """Each block's ``[start, end)`` in epoch ms, by block id, from either tool."""
    spans: dict[str, tuple[int, int]] = {}
    for report in reports:
        for key, entry in report.items():
            if entry.other.get("startTime"):
                spans[key] = (_ms(entry.other["startTime"]), _ms(entry.other["endTime"]))
    return spans


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def explain(diff: Difference, rules: Iterable[Rule], marks: Marks, context: Context) -> str:
    """The name of the first listed rule explaining ``diff``, or "" (UNEXPECTED)."""
    cls = field_class(diff.field)
    provider, kind = diff.case.provider, diff.case.kind
    for rule in rules:
        if provider not in rule.providers or kind not in rule.kinds or cls not in rule.fields:
            continue
        found = marks.get((rule.name, provider), [])
        if not rule.located or any(diff.row in rows_of(kind, m, context) for m in found):
            return rule.name
    return ""


def classify(
    diffs: list[Difference], rules: Iterable[Rule], marks: Marks, context: Context
) -> list[Difference]:
    """``diffs`` with ``rule`` set where a listed deliberate difference explains one."""
    listed = tuple(rules)
    return [replace(d, rule=explain(d, listed, marks, context)) for d in diffs]


def check(
    case: Case,
    ours: Report,
    theirs: Report,
    manifest: MixedManifest,
    rules: Iterable[Rule],
    context: Context,
) -> list[Difference]:
    """Compare two normalised reports and classify every difference."""
    diffs = compare_reports(case, ours, theirs)
    located = replace(context, blocks=block_spans(ours, theirs))
    return classify(diffs, rules, marks_of(manifest), located)
