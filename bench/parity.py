"""ccusage parity: one corpus through ``ccusage`` 20.0.24 and ``otm report``, every difference.

``python -m bench.parity [--size-mb N] [--seed S] [--keep DIR] [--json] [--update-fixtures]``

For each variant (``plain``: no edge cases; ``edge``: every edge case of the generators) it

1. writes a mixed corpus (``otm.corpus.mixed``) — Claude config dir, ``CODEX_HOME`` and a Gemini
   home (``GEMINI_CLI_HOME``, whose ``.gemini/tmp`` is ccusage's ``GEMINI_DATA_DIR``);
2. writes ONE price list as both tools' overrides (`PRICES`): ccusage's ``pricingOverrides``
   (FORMATS.md §5; keyed by the exact model string, ``google/<model>`` for Gemini) and our
   ``[pricing.overrides."<model>"]`` in ``$OTM_HOME/config.toml``. The long-context rates and
   fast multipliers given to ccusage are the ones our pricing resolves for those overrides;
3. runs ``ccusage <agent> <kind> --json --offline -z UTC`` (Codex with ``--speed standard``) and
   ``otm report <kind> --provider <agent> --json --tz UTC`` on the same files, every
   report ccusage has for the agent (`REPORTS`);
4. maps both onto one schema (`Entry`; ccusage's Codex ``costUSD``/``models`` and blocks'
   ``tokenCounts`` included) and compares every row: token fields must be identical, costs
   within `COST_TOLERANCE`;
5. classifies each difference: *expected* when a deliberate difference listed in README.md
   ("Deliberate differences from ccusage") explains it — the README row must still be there, and
   for the data-dependent ones the generator's ground truth must place such a record in that
   row — else UNEXPECTED. The exit status is 1 on any unexpected difference.

``--update-fixtures`` runs the fixture corpus (`FIXTURE`, both variants) and writes ccusage's
JSON to ``tests/parity/fixtures/``, which ``tests/parity/test_parity_fixtures.py`` compares our
reports with, without ccusage.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TextIO
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench import ccusage
from otm.corpus import claude as claude_corpus
from otm.corpus import codex as codex_corpus
from otm.corpus import gemini as gemini_corpus
from otm.corpus.mixed import MixedManifest, generate_mixed

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FIXTURES = ROOT / "tests" / "parity" / "fixtures"
CACHE = ROOT / "bench" / ".cache"

PROVIDERS = ("claude", "codex", "gemini")
REPORTS: dict[str, tuple[str, ...]] = {
    "claude": ("daily", "weekly", "monthly", "session", "blocks"),
    "codex": ("daily", "monthly", "session"),
    "gemini": ("daily", "monthly", "session"),
}
"""Every report ccusage 20.0.24 has per agent (``codex``/``gemini`` have no weekly or blocks)."""
VARIANTS = ("plain", "edge")
"""Corpus variants: ``plain`` has no edge cases, ``edge`` every edge case of the generators."""
COST_TOLERANCE = 0.005
"""Costs are equal when they differ by less than this many USD (FORMATS.md §7)."""
TZ = "UTC"
TOTALS = "totals"
"""The row key of a report's ``totals``."""


# -- corpus -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusSpec:
    """Everything that fixes a corpus byte for byte (``start`` fixed, never "now")."""

    size_mb: float
    seed: int
    start: datetime = datetime(2026, 6, 1, tzinfo=UTC)
    days: int = 30
    shares: tuple[float, float, float] = (0.7, 0.2, 0.1)

    def describe(self) -> dict[str, Any]:
        """The spec as JSON-ready values."""
        return {**asdict(self), "start": self.start.isoformat(), "shares": list(self.shares)}


FIXTURE = CorpusSpec(size_mb=0.9, seed=7, shares=(1.0, 1.0, 1.0))
"""The fixtures' corpus: about 0.3 MB per provider."""


@dataclass(frozen=True)
class Corpus:
    """A generated tree and its ground truth."""

    root: Path
    manifest: MixedManifest

    @property
    def claude_dir(self) -> Path:
        """``CLAUDE_CONFIG_DIR``."""
        return self.root / "claude"

    @property
    def codex_home(self) -> Path:
        """``CODEX_HOME``."""
        return self.root / "codex"

    @property
    def gemini_home(self) -> Path:
        """``GEMINI_CLI_HOME`` (Gemini CLI's home directory, holding ``.gemini``)."""
        return self.root / "gemini-home"

    @property
    def gemini_tmp(self) -> Path:
        """``GEMINI_DATA_DIR``: the chats root ccusage reads."""
        return self.gemini_home / ".gemini" / "tmp"


def generate_corpus(root: Path, spec: CorpusSpec, edge_cases: bool) -> Corpus:
    """Write the mixed corpus of ``spec`` under ``root`` (empty or absent) and return it.

    ``otm.corpus.mixed`` writes a Gemini home's contents to ``root/gemini``; it is moved to
    ``root/gemini-home/.gemini`` so that ``GEMINI_CLI_HOME`` can point at it.
    """
    manifest = generate_mixed(
        root, spec.size_mb, spec.seed, spec.start, spec.days, edge_cases, spec.shares
    )
    corpus = Corpus(root, manifest)
    corpus.gemini_home.mkdir()
    (root / "gemini").rename(corpus.gemini_home / ".gemini")
    return corpus


def corpus_digest(root: Path) -> str:
    """SHA-256 of every file's relative path and bytes under ``root``, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


# -- prices -----------------------------------------------------------------------------------


class Price(NamedTuple):
    """Base prices in USD per million tokens, as our ``config.toml`` overrides spell them."""

    provider: str
    input: float
    output: float
    cache_read: float
    cache_write: float = 0.0
    cache_write_1h: float = 0.0


PRICES: dict[str, Price] = {
    # Anthropic's published prices; a 1-hour cache write is 2x input, as ccusage always bills it.
    "claude-sonnet-4-5-20250929": Price("claude", 3, 15, 0.3, 3.75, 6),
    "claude-opus-4-6": Price("claude", 5, 25, 0.5, 6.25, 10),
    "claude-haiku-4-5-20251001": Price("claude", 1, 5, 0.1, 1.25, 2),
    "claude-opus-4-1-20250805": Price("claude", 15, 75, 1.5, 18.75, 30),
    # OpenAI and Google bill no cache writes on the CLIs' paths.
    "gpt-5.3-codex": Price("codex", 1.75, 14, 0.175),
    "gpt-5.4": Price("codex", 2.5, 15, 0.25),
    "gpt-5.5": Price("codex", 5, 30, 0.5),
    "gpt-5-codex": Price("codex", 1.25, 10, 0.125),
    "gpt-5": Price("codex", 1.25, 10, 0.125),
    "gemini-2.5-pro": Price("gemini", 1.25, 10, 0.125),
    "gemini-2.5-flash": Price("gemini", 0.3, 2.5, 0.03),
    "gemini-3-pro-preview": Price("gemini", 2, 12, 0.2),
}
"""One price per model string the generators write; both tools get exactly these."""

_OVERRIDE_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")


def corpus_models(manifest: MixedManifest) -> dict[str, str]:
    """Every model string the corpus can contain, with its provider; ``KeyError`` for one
    `PRICES` lacks (give it a price there)."""
    models = {
        *(m for m, _ in claude_corpus.MODELS),
        *(m for m, _ in codex_corpus.MODELS),
        codex_corpus.FALLBACK_MODEL,
        *(m for m, _ in gemini_corpus.MODELS),
    }
    for part in manifest:
        models.update(r.model for r in part.expected if r.model)
    missing = sorted(models - PRICES.keys())
    if missing:
        raise KeyError(f"no price in bench.parity.PRICES for {', '.join(missing)}")
    return {m: PRICES[m].provider for m in sorted(models)}


def otm_config(models: Iterable[str]) -> str:
    """``config.toml`` with a ``[pricing.overrides."<model>"]`` table per model."""
    lines: list[str] = []
    for model in sorted(models):
        price = PRICES[model]
        lines.append(f'[pricing.overrides."{model}"]')
        lines += [f"{key} = {float(getattr(price, key))!r}" for key in _OVERRIDE_KEYS]
        lines.append("")
    return "\n".join(lines)


def ccusage_config(models: dict[str, str]) -> dict[str, Any]:
    """ccusage's config with ``pricingOverrides`` giving each model our resolved price.

    Every field is given (an unspecified one would fall back to 0, FORMATS.md §5). Above-200k
    rates are our long-context rates for the model (its base rates when it has none); the fast
    multiplier is ours.
    """
    return {
        "defaults": {
            "pricingOverrides": {
                ccusage_model_key(provider, model): _ccusage_price(provider, model)
                for model, provider in models.items()
            }
        }
    }


def ccusage_model_key(provider: str, model: str) -> str:
    """The key ccusage looks a model's price up by first (``google/<m>`` for Gemini)."""
    return f"google/{model}" if provider == "gemini" else model


def _ccusage_price(provider: str, model: str) -> dict[str, float]:
    from otm.config import PriceOverride
    from services.collector.pricing import resolve_price

    override = PriceOverride(**{k: float(getattr(PRICES[model], k)) for k in _OVERRIDE_KEYS})
    price = resolve_price(provider, model, {model: override}).price
    if price is None:
        raise ValueError(f"our pricing leaves {model} unpriced despite its override")
    base = (price.input, price.output, price.cache_write_5m, price.cache_read)
    long = (
        price.long_context_input,
        price.long_context_output,
        price.long_context_cache_write_5m,
        price.long_context_cache_read,
    )
    names = (
        "inputCostPerToken",
        "outputCostPerToken",
        "cacheCreationInputTokenCost",
        "cacheReadInputTokenCost",
    )
    entry = {name: _per_token(b) for name, b in zip(names, base, strict=True)}
    for name, b, high in zip(names, base, long, strict=True):
        entry[f"{name}Above200kTokens"] = _per_token(high if high is not None else b)
    entry["fastMultiplier"] = float(price.fast_multiplier)
    return entry


def _per_token(usd_per_mtok: str) -> float:
    return float(Decimal(usd_per_mtok) / 1_000_000)


# -- running both tools -----------------------------------------------------------------------


def ccusage_arguments(provider: str, kind: str, config: Path) -> list[str]:
    """``<agent> <kind> --json --offline -z UTC [--speed standard] --config <config>``."""
    speed = ["--speed", "standard"] if provider == "codex" else []
    return [provider, kind, "--json", "--offline", "-z", TZ, *speed, "--config", str(config)]


def ccusage_data_dirs(corpus: Corpus) -> dict[str, str]:
    """One data variable per agent, pointing into the corpus."""
    return {
        "CLAUDE_CONFIG_DIR": str(corpus.claude_dir),
        "CODEX_HOME": str(corpus.codex_home),
        "GEMINI_DATA_DIR": str(corpus.gemini_tmp),
    }


def ccusage_reports(
    binary: Path, corpus: Corpus, config: Path, home: Path
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every report of `REPORTS` from ccusage, by ``(provider, kind)``."""
    dirs = ccusage_data_dirs(corpus)
    return {
        (provider, kind): ccusage.run_json(
            binary, ccusage_arguments(provider, kind, config), dirs, home
        )
        for provider in PROVIDERS
        for kind in REPORTS[provider]
    }


def otm_env(corpus: Corpus, otm_home: Path, home: Path) -> dict[str, str]:
    """Our environment: as bare as ccusage's, with the corpus as every CLI's data."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "TZ": TZ,
        "OTM_HOME": str(otm_home),
        "CLAUDE_CONFIG_DIR": str(corpus.claude_dir),
        "CODEX_HOME": str(corpus.codex_home),
        "GEMINI_CLI_HOME": str(corpus.gemini_home),
    }


def prepare_otm_home(otm_home: Path, models: Iterable[str]) -> None:
    """A fresh state folder holding only ``config.toml`` with our price overrides."""
    otm_home.mkdir(parents=True, exist_ok=True)
    (otm_home / "config.toml").write_text(otm_config(models))


def otm_report(env: dict[str, str], provider: str, kind: str) -> dict[str, Any]:
    """``otm report <kind> --provider <provider> --json --tz UTC`` (catching up first)."""
    command = [sys.executable, "-m", "otm", "report", kind, "--provider", provider]
    command += ["--json", "--tz", TZ]
    done = subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def otm_reports(env: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every report of `REPORTS` from ``otm report``, by ``(provider, kind)``."""
    return {
        (provider, kind): otm_report(env, provider, kind)
        for provider in PROVIDERS
        for kind in REPORTS[provider]
    }


# -- one schema -------------------------------------------------------------------------------

TOKEN_FIELDS = (
    "inputTokens",
    "outputTokens",
    "cacheCreationTokens",
    "cacheReadTokens",
    "reasoningTokens",
    "totalTokens",
)
"""Our token fields (otm/reports); ccusage's are mapped onto them."""
COMPARED_TOKENS: dict[str, tuple[str, ...]] = {
    "claude": ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"),
    "codex": ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"),
    "gemini": ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"),
}
"""Token fields every row of both tools must carry (``totalTokens``/``reasoningTokens`` are
compared too wherever both give them)."""
_CODEX_NAMES = {"reasoningOutputTokens": "reasoningTokens", "costUSD": "totalCost"}
_BLOCK_NAMES = {
    "inputTokens": "inputTokens",
    "outputTokens": "outputTokens",
    "cacheCreationInputTokens": "cacheCreationTokens",
    "cacheReadInputTokens": "cacheReadTokens",
}
_BLOCK_OTHER = ("startTime", "endTime", "actualEndTime", "isGap", "entries")
_ROW_KEYS = {"daily": "date", "weekly": "week", "monthly": "month"}
_ROWS = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "session": "sessions"}


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
"""Row key (date, week, month, session, block id, or `TOTALS`) to row."""


def _tokens(item: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, int]:
    renamed = {(names or {}).get(k, k): v for k, v in item.items()}
    return {k: int(renamed[k]) for k in TOKEN_FIELDS if k in renamed}


def _local_date(stamp: str, tz: str = TZ) -> str:
    """The local date of an ISO timestamp, or the value itself when it is already a date."""
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


def _session_other(provider: str, row: dict[str, Any]) -> dict[str, Any]:
    wanted = ("firstActivity", "lastActivity") if provider == "claude" else ("lastActivity",)
    return {k: _local_date(row[k]) for k in wanted if k in row}


def _ccusage_entry(provider: str, kind: str, row: dict[str, Any]) -> Entry:
    if kind == "blocks":
        return _block_entry(row)
    if provider == "codex":
        renamed = {_CODEX_NAMES.get(k, k): v for k, v in row.items()}
        models = {
            name: Entry(_tokens(m, _CODEX_NAMES), None) for name, m in row.get("models", {}).items()
        }
        other = _session_other(provider, row) if kind == "session" else {}
        return Entry(_tokens(renamed), float(renamed["totalCost"]), other, models)
    return _our_entry(provider, kind, row)


def _our_entry(provider: str, kind: str, row: dict[str, Any]) -> Entry:
    if kind == "blocks":
        return _block_entry(row)
    models = {
        m["modelName"]: Entry(_tokens(m), float(m["cost"])) for m in row.get("modelBreakdowns", [])
    }
    other = _session_other(provider, row) if kind == "session" else {}
    used = row.get("modelsUsed")
    return Entry(_tokens(row), float(row["totalCost"]), other, models, used)


def _block_entry(row: dict[str, Any]) -> Entry:
    tokens = _tokens(row["tokenCounts"], _BLOCK_NAMES)
    tokens["totalTokens"] = int(row["totalTokens"])
    other = {k: row.get(k) for k in _BLOCK_OTHER}
    return Entry(tokens, float(row["costUSD"]), other, {}, list(row.get("models", [])))


def normalise(provider: str, kind: str, report: dict[str, Any], ours: bool) -> Report:
    """A report of either tool as rows of `Entry` by row key (totals under `TOTALS`)."""
    entry = _our_entry if ours else _ccusage_entry
    rows_key = "blocks" if kind == "blocks" else _ROWS[kind]
    out: Report = {}
    for row in report.get(rows_key, []):
        key = _row_key(provider, kind, row)
        if key in out:
            raise ValueError(f"{provider} {kind}: row {key!r} appears twice")
        out[key] = entry(provider, kind, row)
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
    (present in one tool only), ``model <name>`` (a model present in one only), ``<name>.<f>``
    (a field of one model's breakdown) or a block's or session's other field. ``rule`` names the
    README deliberate difference that explains it (empty: UNEXPECTED).
    """

    variant: str
    provider: str
    kind: str
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
    def delta(self) -> float | None:
        """Ours minus ccusage, for numbers."""
        if isinstance(self.ours, int | float) and isinstance(self.ccusage, int | float):
            return float(self.ours) - float(self.ccusage)
        return None


def _differs(name: str, ours: Any, theirs: Any) -> bool:
    if name.endswith("Cost") or name.endswith(".cost"):
        return abs(float(ours) - float(theirs)) >= COST_TOLERANCE
    return bool(ours != theirs)


def compare_entries(
    ours: Entry, theirs: Entry, required: tuple[str, ...]
) -> list[tuple[str, Any, Any]]:
    """``(field, ours, ccusage)`` for every field of two rows that differs."""
    out: list[tuple[str, Any, Any]] = []
    for name in TOKEN_FIELDS:
        mine, other = ours.tokens.get(name), theirs.tokens.get(name)
        if (mine is None or other is None) and name not in required:
            continue
        if mine != other:
            out.append((name, mine, other))
    costs = ours.cost is not None and theirs.cost is not None
    if costs and _differs("totalCost", ours.cost, theirs.cost):
        out.append(("totalCost", ours.cost, theirs.cost))
    for name in sorted(ours.other.keys() & theirs.other.keys()):
        if ours.other.get(name) != theirs.other.get(name):
            out.append((name, ours.other.get(name), theirs.other.get(name)))
    out += _compare_models(ours, theirs)
    return out


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


def compare_reports(
    variant: str, provider: str, kind: str, ours: Report, theirs: Report
) -> list[Difference]:
    """Every difference between our report and ccusage's, rows in key order, totals last."""
    keys = sorted((ours.keys() | theirs.keys()) - {TOTALS})
    if TOTALS in ours or TOTALS in theirs:
        keys.append(TOTALS)
    required = COMPARED_TOKENS[provider]
    out: list[Difference] = []
    for key in keys:
        mine, other = ours.get(key), theirs.get(key)
        if mine is None or other is None:
            out.append(
                Difference(variant, provider, kind, key, "row", mine is not None, other is not None)
            )
            continue
        for name, a, b in compare_entries(mine, other, required):
            out.append(Difference(variant, provider, kind, key, name, a, b))
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
        "models_order",
        "order of `modelsUsed`",
        frozenset(PROVIDERS),
        _ALL_KINDS,
        frozenset({"order"}),
        located=False,
    ),
)
"""Every deliberate difference the corpus can show (README.md, "Deliberate differences")."""


def rule_case(name: str) -> str:
    """The README case of the rule called ``name``."""
    return next(r.readme_case for r in RULES if r.name == name)


class Mark(NamedTuple):
    """Where the ground truth puts a record a rule is about: its time and session row key."""

    ts_ms: int
    session: str


Marks = dict[tuple[str, str], list[Mark]]
"""``(rule, provider)`` to the records the rule is about."""


def readme_cases(readme: Path = README) -> list[str]:
    """The first cells of README.md's "Deliberate differences from ccusage" table."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(
        r"^#+ Deliberate differences from ccusage.*?$(.*?)(?=^#|\Z)", text, re.M | re.S
    )
    if match is None:
        return []
    cells = [
        line.split("|")[1].strip() for line in match.group(1).splitlines() if line.startswith("|")
    ]
    return [c for c in cells[2:] if c]


def listed_rules(cases: Iterable[str]) -> tuple[Rule, ...]:
    """The rules README.md still lists."""
    cases = list(cases)
    return tuple(r for r in RULES if any(c.startswith(r.readme_case) for c in cases))


def marks_of(manifest: MixedManifest) -> Marks:
    """The records of the ground truth each located rule is about."""
    marks: Marks = {}

    def add(rule: str, provider: str, ts_ms: int, session: str) -> None:
        marks.setdefault((rule, provider), []).append(Mark(ts_ms, session))

    for c in manifest.claude.expected:
        session = f"{c.project}/{c.session}"
        if c.quirk in ("requestless_dup", "sidechain_replay"):
            add(c.quirk, "claude", c.ts_ms, session)
        if c.input + c.cache_write_5m + c.cache_write_1h + c.cache_read > 200_000:
            add("long_prompt", "claude", c.ts_ms, session)
    for g in manifest.gemini.expected:
        if g.quirk == "long_context":
            add("long_prompt", "gemini", g.ts_ms, g.session)
    return marks


def field_class(name: str) -> str:
    """``row``, ``order``, ``cost``, ``tokens`` (token fields, models, entries) or ``other``."""
    if name in ("row", "modelsUsed order"):
        return "order" if name != "row" else "row"
    if name == "totalCost" or name.endswith(".cost"):
        return "cost"
    leaf = name.rsplit(".", 1)[-1]
    if leaf in TOKEN_FIELDS or name in ("entries", "modelsUsed") or name.startswith("model "):
        return "tokens"
    return "other"


def row_of(kind: str, mark: Mark, blocks: dict[str, tuple[int, int]]) -> set[str]:
    """The row keys of a report ``kind`` the marked record falls in."""
    moment = datetime.fromtimestamp(mark.ts_ms / 1000, ZoneInfo(TZ))
    day = moment.date()
    if kind == "daily":
        return {day.isoformat()}
    if kind == "weekly":
        return {(day - timedelta(days=(day.weekday() + 1) % 7)).isoformat()}
    if kind == "monthly":
        return {day.isoformat()[:7]}
    if kind == "session":
        return {mark.session}
    return {key for key, (lo, hi) in blocks.items() if lo <= mark.ts_ms < hi}


def block_spans(*reports: Report) -> dict[str, tuple[int, int]]:
    """Each block's ``[start, end)`` in epoch ms, by block id, from either tool."""
    spans: dict[str, tuple[int, int]] = {}
    for report in reports:
        for key, entry in report.items():
            if key != TOTALS and entry.other.get("startTime"):
                spans[key] = (_ms(entry.other["startTime"]), _ms(entry.other["endTime"]))
    return spans


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def explain(
    diff: Difference, rules: Iterable[Rule], marks: Marks, blocks: dict[str, tuple[int, int]]
) -> str:
    """The name of the first listed rule explaining ``diff``, or "" (UNEXPECTED)."""
    cls = field_class(diff.field)
    for rule in rules:
        if diff.provider not in rule.providers or diff.kind not in rule.kinds:
            continue
        if cls not in rule.fields:
            continue
        if not rule.located:
            return rule.name
        found = marks.get((rule.name, diff.provider), [])
        if diff.row == TOTALS and found:
            return rule.name
        if any(diff.row in row_of(diff.kind, m, blocks) for m in found):
            return rule.name
    return ""


def classify(
    diffs: list[Difference],
    rules: Iterable[Rule],
    marks: Marks,
    blocks: dict[str, tuple[int, int]],
) -> list[Difference]:
    """``diffs`` with ``rule`` set where a listed deliberate difference explains one."""
    rules = tuple(rules)
    return [Difference(**{**asdict(d), "rule": explain(d, rules, marks, blocks)}) for d in diffs]


def check_reports(
    variant: str,
    provider: str,
    kind: str,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    manifest: MixedManifest,
    rules: Iterable[Rule],
) -> list[Difference]:
    """Normalise, compare and classify one report of both tools."""
    mine = normalise(provider, kind, ours, ours=True)
    other = normalise(provider, kind, theirs, ours=False)
    diffs = compare_reports(variant, provider, kind, mine, other)
    return classify(diffs, rules, marks_of(manifest), block_spans(mine, other))


# -- a run ------------------------------------------------------------------------------------


@dataclass
class ReportResult:
    """One ``(provider, kind)`` compared: row counts, both tools' totals and the differences."""

    provider: str
    kind: str
    rows_ours: int
    rows_ccusage: int
    cost_ours: float
    cost_ccusage: float
    tokens_ours: int
    tokens_ccusage: int
    differences: list[Difference]

    @property
    def unexpected(self) -> list[Difference]:
        """The differences no listed deliberate difference explains."""
        return [d for d in self.differences if not d.expected]


@dataclass
class VariantResult:
    """One corpus variant through both tools."""

    variant: str
    corpus: dict[str, Any]
    reports: list[ReportResult]

    @property
    def unexpected(self) -> list[Difference]:
        """Every unexpected difference of the variant."""
        return [d for r in self.reports for d in r.unexpected]


def summed(report: Report) -> tuple[float, int]:
    """Cost and ``totalTokens`` over the rows (not the totals: blocks have none)."""
    rows = [e for k, e in report.items() if k != TOTALS]
    cost = sum(e.cost or 0.0 for e in rows)
    return cost, sum(e.tokens.get("totalTokens", 0) for e in rows)


def result_of(
    variant: str,
    provider: str,
    kind: str,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    manifest: MixedManifest,
    rules: Iterable[Rule],
) -> ReportResult:
    """Compare one report of both tools and sum up both sides."""
    diffs = check_reports(variant, provider, kind, ours, theirs, manifest, rules)
    mine = normalise(provider, kind, ours, ours=True)
    other = normalise(provider, kind, theirs, ours=False)
    cost_ours, tokens_ours = summed(mine)
    cost_theirs, tokens_theirs = summed(other)
    return ReportResult(
        provider,
        kind,
        len(mine) - (TOTALS in mine),
        len(other) - (TOTALS in other),
        cost_ours,
        cost_theirs,
        tokens_ours,
        tokens_theirs,
        diffs,
    )


def corpus_figures(corpus: Corpus) -> dict[str, Any]:
    """Size, files, records and digest of a corpus."""
    m = corpus.manifest
    return {
        "bytes": m.bytes,
        "files": m.files,
        "records": m.records,
        "by_provider_bytes": {
            "claude": m.claude.bytes,
            "codex": m.codex.bytes,
            "gemini": m.gemini.bytes,
        },
        "digest": corpus_digest(corpus.root),
    }


def fixture_path(variant: str, provider: str, kind: str, base: Path = FIXTURES) -> Path:
    """Where ccusage's JSON for one report of the fixture corpus is kept."""
    return base / variant / f"{provider}-{kind}.json"


def write_fixtures(
    variant: str,
    corpus: Corpus,
    config: dict[str, Any],
    theirs: dict[tuple[str, str], dict[str, Any]],
    base: Path = FIXTURES,
) -> None:
    """ccusage's reports, its price config and the corpus digest, under ``base/variant``."""
    (base / variant).mkdir(parents=True, exist_ok=True)
    for (provider, kind), report in theirs.items():
        fixture_path(variant, provider, kind, base).write_text(_dump(report))
    meta = {
        "ccusage": ccusage.VERSION,
        "spec": FIXTURE.describe(),
        "edge_cases": variant == "edge",
        "corpus": corpus_figures(corpus),
        "ccusage_config": config,
    }
    (base / variant / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def _dump(report: dict[str, Any]) -> str:
    """Compact JSON with one row per line, so diffs of fixtures stay readable."""
    parts = []
    for key, value in report.items():
        if isinstance(value, list):
            rows = ",\n".join(json.dumps(r, separators=(",", ":")) for r in value)
            parts.append(f"{json.dumps(key)}:[\n{rows}\n]")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def run_variant(
    variant: str, spec: CorpusSpec, work: Path, binary: Path, update_fixtures: bool = False
) -> VariantResult:
    """Generate the variant's corpus, run both tools on it, compare every report."""
    base = work / variant
    corpus = generate_corpus(base / "corpus", spec, edge_cases=variant == "edge")
    models = corpus_models(corpus.manifest)
    config = ccusage_config(models)
    config_path = base / "ccusage.json"
    config_path.write_text(json.dumps(config, indent=1))
    home = base / "home"
    home.mkdir()
    theirs = ccusage_reports(binary, corpus, config_path, home)
    prepare_otm_home(base / "otm", models)
    ours = otm_reports(otm_env(corpus, base / "otm", home))
    if update_fixtures:
        write_fixtures(variant, corpus, config, theirs)
    rules = listed_rules(readme_cases())
    reports = [
        result_of(variant, p, k, ours[p, k], theirs[p, k], corpus.manifest, rules)
        for p, k in theirs
    ]
    return VariantResult(variant, corpus_figures(corpus), reports)


# -- output -----------------------------------------------------------------------------------


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "present", False: "absent", None: "—"}[value]
    if isinstance(value, float):
        return f"{value:,.6f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def summary_table(result: VariantResult) -> Table:
    """One line per report: rows, summed tokens and cost of both tools, differences."""
    table = Table(
        title=f"{result.variant}: {result.corpus['bytes'] / 1e6:.2f} MB, "
        f"{result.corpus['files']} files, {result.corpus['records']} records"
    )
    for name in (
        "report",
        "rows ours/cc",
        "tokens ours",
        "tokens ccusage",
        "cost ours",
        "cost ccusage",
        "expected",
        "UNEXPECTED",
    ):
        table.add_column(name, justify="left" if name == "report" else "right")
    for r in result.reports:
        bad = len(r.unexpected)
        table.add_row(
            f"{r.provider} {r.kind}",
            f"{r.rows_ours}/{r.rows_ccusage}",
            f"{r.tokens_ours:,}",
            f"{r.tokens_ccusage:,}",
            f"${r.cost_ours:,.4f}",
            f"${r.cost_ccusage:,.4f}",
            str(len(r.differences) - bad),
            f"[red]{bad}[/]" if bad else "[green]0[/]",
        )
    return table


def differences_table(result: VariantResult) -> Table:
    """Every difference of a variant, with its verdict."""
    table = Table(title=f"{result.variant}: differences")
    for name in ("report", "row", "field", "ours", "ccusage", "ours - cc", "verdict"):
        table.add_column(
            name, justify="right" if name in ("ours", "ccusage", "ours - cc") else "left"
        )
    for r in result.reports:
        for d in r.differences:
            verdict = (
                f"[yellow]expected (listed in README: {escape(rule_case(d.rule))})[/]"
                if d.expected
                else "[bold red]UNEXPECTED[/]"
            )
            delta = "" if d.delta is None else _num(d.delta)
            table.add_row(
                f"{d.provider} {d.kind}",
                escape(d.row),
                escape(d.field),
                _num(d.ours),
                _num(d.ccusage),
                delta,
                verdict,
            )
    return table


def figures(results: list[VariantResult]) -> dict[str, Any]:
    """Everything printed, as JSON-ready values."""
    return {
        "ccusage": ccusage.VERSION,
        "cost_tolerance": COST_TOLERANCE,
        "variants": [
            {
                "variant": v.variant,
                "corpus": v.corpus,
                "reports": [
                    {
                        **{k: val for k, val in asdict(r).items() if k != "differences"},
                        "differences": [
                            {**asdict(d), "expected": d.expected} for d in r.differences
                        ],
                        "unexpected": len(r.unexpected),
                    }
                    for r in v.reports
                ],
                "unexpected": len(v.unexpected),
            }
            for v in results
        ],
        "unexpected": sum(len(v.unexpected) for v in results),
    }


def print_results(console: Console, results: list[VariantResult]) -> None:
    """Summary and difference tables of every variant."""
    for result in results:
        console.print(summary_table(result))
        if any(r.differences for r in result.reports):
            console.print(differences_table(result))
        else:
            console.print(f"[green]{result.variant}: no difference in any report[/]")
    total = sum(len(v.unexpected) for v in results)
    style = "bold red" if total else "bold green"
    console.print(f"[{style}]{total} unexpected difference(s)[/]")


# -- command line -----------------------------------------------------------------------------


def console(stream: TextIO) -> Console:
    """A console on ``stream``: the terminal's width, or 200 columns when not a terminal."""
    return Console(file=stream, highlight=False, width=None if stream.isatty() else 200)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m bench.parity", description=(__doc__ or "").split("\n")[0]
    )
    p.add_argument("--size-mb", type=float, default=5.0, help="MB of logs in all (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--variant",
        choices=(*VARIANTS, "both"),
        default="both",
        help="plain (no edge cases), edge, or both (default)",
    )
    p.add_argument("--keep", type=Path, help="work in this (empty) directory and keep it")
    p.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    p.add_argument(
        "--update-fixtures",
        action="store_true",
        help=f"run the fixture corpus (seed {FIXTURE.seed}, {FIXTURE.size_mb} MB) and "
        "rewrite tests/parity/fixtures from ccusage's output",
    )
    p.add_argument("--cache-dir", type=Path, default=CACHE, help="where ccusage is installed")
    return p.parse_args(argv)


@contextlib.contextmanager
def work_dir(keep: Path | None) -> Iterator[Path]:
    """A scratch directory, removed afterwards unless ``keep`` names it."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="otm-parity-") as tmp:
            yield Path(tmp)
        return
    keep.mkdir(parents=True, exist_ok=True)
    if any(keep.iterdir()):
        raise SystemExit(f"--keep {keep}: the directory is not empty")
    yield keep.resolve()


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; exit status 1 on any unexpected difference."""
    args = parse_args(argv)
    log = console(sys.stderr)
    spec = FIXTURE if args.update_fixtures else CorpusSpec(args.size_mb, args.seed)
    variants = VARIANTS if args.update_fixtures or args.variant == "both" else (args.variant,)
    binary = ccusage.ensure_installed(args.cache_dir)
    with work_dir(args.keep) as work:
        if args.update_fixtures:
            shutil.rmtree(FIXTURES, ignore_errors=True)
        results = []
        for variant in variants:
            log.print(
                f"[dim]{variant}: generating {spec.size_mb} MB (seed {spec.seed}), "
                "running ccusage and otm…[/]"
            )
            results.append(run_variant(variant, spec, work, binary, args.update_fixtures))
    if args.json:
        sys.stdout.write(json.dumps(figures(results), indent=2) + "\n")
    print_results(log if args.json else console(sys.stdout), results)
    return 1 if any(v.unexpected for v in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
