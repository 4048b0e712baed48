"""ccusage parity: one corpus through ``ccusage`` 20.0.24 and ``otm report``, every difference.

``python -m bench.parity [--size-mb N] [--seed S] [--keep DIR] [--json] [--update-fixtures]``

For each corpus variant (``plain``: no edge cases; ``edge``: every edge case of the generators):

1. writes a mixed corpus (``services.demo.corpus.mixed``, a fixed ``start`` so it is
   byte-identical from run to run): a Claude config dir, a ``CODEX_HOME`` and a Gemini home
   (``GEMINI_CLI_HOME``, whose ``.gemini/tmp`` is ccusage's ``GEMINI_DATA_DIR``);
2. gives both tools ONE price list (`PRICES`): ccusage's ``pricingOverrides`` (FORMATS.md §5,
   keyed by the exact model string, ``google/<model>`` for Gemini) and our
   ``[pricing.overrides."<model>"]`` in ``$OTM_HOME/config.toml``. The above-200k rates and fast
   multipliers given to ccusage are the ones our pricing resolves for those overrides;
3. runs ``ccusage <agent> <kind> --json --offline -z <tz> [--since --until --order]`` (Codex
   with ``--speed standard``) and ``otm report <kind> --provider <agent> --json --tz <tz> [...]``
   on the same files, for every report ccusage has (``paritycheck.REPORTS``) in every view
   (`VIEWS`: UTC with default order; Asia/Tokyo, the middle half of the days, ``desc``);
4. maps both onto one schema and compares every row, token field, cost, model and the row
   order (``bench.paritycheck``), and classifies each difference as expected (a deliberate
   difference README.md lists explains it) or UNEXPECTED.

The exit status is 1 on any unexpected difference. ``--update-fixtures`` runs the fixture corpus
(`FIXTURE`, both variants) and writes ccusage's JSON to ``tests/parity/fixtures/``, which
``tests/parity/test_parity_fixtures.py`` compares our reports with, without ccusage.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench import ccusage
from bench.paritycheck import (
    COST_TOLERANCE,
    PROVIDERS,
    REPORTS,
    TOTALS,
    Case,
    Context,
    Difference,
    Report,
    check,
    listed_rules,
    normalise,
    readme_cases,
    rule_case,
)
from services.demo.corpus import claude as claude_corpus
from services.demo.corpus import codex as codex_corpus
from services.demo.corpus import gemini as gemini_corpus
from services.demo.corpus.mixed import MixedManifest, generate_mixed

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "parity" / "fixtures"
CACHE = ROOT / "bench" / ".cache"
VARIANTS = ("plain", "edge")
"""Corpus variants: ``plain`` has no edge cases, ``edge`` every edge case of the generators."""


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


FIXTURE = CorpusSpec(size_mb=1.5, seed=7, days=8, shares=(1.0, 1.0, 1.0))
"""The fixtures' corpus: about 0.5 MB per provider over 8 days, dense enough that every report
has rows in both views of both variants."""


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

    ``services.demo.corpus.mixed`` writes a Gemini home's contents to ``root/gemini``; it is moved
    to ``root/gemini-home/.gemini`` so that ``GEMINI_CLI_HOME`` can point at it.
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


# -- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """How both tools are asked for a report: time zone, optional date range, optional order.

    ``window``: ``--since``/``--until`` over the middle half of the corpus's days.
    """

    name: str
    tz: str
    order: str | None = None
    window: bool = False

    def dates(self, spec: CorpusSpec) -> tuple[str | None, str | None]:
        """``(since, until)`` as ``YYYY-MM-DD``, or ``(None, None)`` without a window."""
        if not self.window:
            return None, None
        quarter = timedelta(days=spec.days // 4)
        first = (spec.start - timedelta(days=spec.days)).date() + quarter
        return first.isoformat(), (first + 2 * quarter).isoformat()

    def arguments(self, spec: CorpusSpec, zone_flag: str) -> list[str]:
        """The shared options (``zone_flag``: ccusage's ``-z`` or our ``--tz``)."""
        out = [zone_flag, self.tz]
        since, until = self.dates(spec)
        if since and until:
            out += ["--since", since.replace("-", ""), "--until", until.replace("-", "")]
        if self.order:
            out += ["--order", self.order]
        return out

    def context(self, spec: CorpusSpec) -> Context:
        """What the classification needs to know of the view."""
        since, until = self.dates(spec)
        return Context(self.tz, since, until)


VIEWS = (View("utc", "UTC"), View("tokyo", "Asia/Tokyo", order="desc", window=True))
"""UTC, whole corpus, each report's default order; and a zone ahead of UTC (late UTC evenings
fall on the next day), ``--since``/``--until``, ``--order desc``."""


def cases(variant: str) -> list[Case]:
    """Every comparison of a variant: each view of each report ccusage has."""
    return [
        Case(variant, view.name, provider, kind)
        for view in VIEWS
        for provider in PROVIDERS
        for kind in REPORTS[provider]
    ]


def view_named(name: str) -> View:
    """The view called ``name``."""
    return next(v for v in VIEWS if v.name == name)


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
    # OpenAI and Google bill no cache writes on the CLIs' paths, except GPT-5.6 (1.25x input),
    # whose Codex builds log cache_write_input_tokens.
    "gpt-5.6": Price("codex", 4, 20, 0.4, 5),
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
_CCUSAGE_FIELDS = (
    "inputCostPerToken",
    "outputCostPerToken",
    "cacheCreationInputTokenCost",
    "cacheReadInputTokenCost",
)


def corpus_models(manifest: MixedManifest) -> dict[str, str]:
    """Every model string the corpus can contain, with its provider; ``KeyError`` for one
    `PRICES` lacks (give it a price there)."""
    models = {
        *(m for m, _ in claude_corpus.MODELS),
        *(m for m, _ in codex_corpus.MODELS),
        codex_corpus.FALLBACK_MODEL,
        codex_corpus.CACHE_WRITE_MODEL,
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


def ccusage_model_key(provider: str, model: str) -> str:
    """The key ccusage looks a model's price up by first (``google/<m>`` for Gemini)."""
    return f"google/{model}" if provider == "gemini" else model


def ccusage_config(models: dict[str, str]) -> dict[str, Any]:
    """ccusage's config with ``pricingOverrides`` giving each model our resolved price.

    Every field is given (an unspecified one would fall back to 0, FORMATS.md §5). Above-200k
    rates are our long-context rates for the model (its base rates when it has none); the fast
    multiplier is ours.
    """
    overrides = {
        ccusage_model_key(provider, model): _ccusage_price(provider, model)
        for model, provider in models.items()
    }
    return {"defaults": {"pricingOverrides": overrides}}


def _ccusage_price(provider: str, model: str) -> dict[str, float]:
    # Imported here: resolving loads genai-prices, which only writing ccusage's config needs.
    from services.collector.price_resolution import resolve_price
    from services.runtime.config import PriceOverride

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
    entry = {name: _per_token(b) for name, b in zip(_CCUSAGE_FIELDS, base, strict=True)}
    for name, b, high in zip(_CCUSAGE_FIELDS, base, long, strict=True):
        entry[f"{name}Above200kTokens"] = _per_token(b if high is None else high)
    entry["fastMultiplier"] = float(price.fast_multiplier)
    return entry


def _per_token(usd_per_mtok: str) -> float:
    return float(Decimal(usd_per_mtok) / 1_000_000)


# -- running both tools -----------------------------------------------------------------------

Reports = dict[Case, dict[str, Any]]
"""Raw JSON of one tool, by comparison."""


def ccusage_arguments(case: Case, spec: CorpusSpec, config: Path) -> list[str]:
    """``<agent> <kind> --json --offline -z <tz> [...] [--speed standard] --config <config>``."""
    speed = ["--speed", "standard"] if case.provider == "codex" else []
    shared = view_named(case.view).arguments(spec, "-z")
    return [
        case.provider,
        case.kind,
        "--json",
        "--offline",
        *shared,
        *speed,
        "--config",
        str(config),
    ]


def ccusage_data_dirs(corpus: Corpus) -> dict[str, str]:
    """One data variable per agent, pointing into the corpus."""
    return {
        "CLAUDE_CONFIG_DIR": str(corpus.claude_dir),
        "CODEX_HOME": str(corpus.codex_home),
        "GEMINI_DATA_DIR": str(corpus.gemini_tmp),
    }


def ccusage_reports(
    binary: Path, corpus: Corpus, spec: CorpusSpec, variant: str, config: Path, home: Path
) -> Reports:
    """Every comparison's report from ccusage (isolated as FORMATS.md §7 says)."""
    dirs = ccusage_data_dirs(corpus)
    return {
        case: ccusage.run_json(binary, ccusage_arguments(case, spec, config), dirs, home)
        for case in cases(variant)
    }


def otm_env(corpus: Corpus, otm_home: Path, home: Path) -> dict[str, str]:
    """Our environment: as bare as ccusage's, with the corpus as every CLI's data."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "TZ": "UTC",
        "OTM_HOME": str(otm_home),
        "CLAUDE_CONFIG_DIR": str(corpus.claude_dir),
        "CODEX_HOME": str(corpus.codex_home),
        "GEMINI_CLI_HOME": str(corpus.gemini_home),
    }


def prepare_otm_home(otm_home: Path, models: Iterable[str]) -> None:
    """A fresh state folder holding only ``config.toml`` with our price overrides."""
    otm_home.mkdir(parents=True, exist_ok=True)
    (otm_home / "config.toml").write_text(otm_config(models))


def otm_report(env: dict[str, str], case: Case, spec: CorpusSpec) -> dict[str, Any]:
    """``otm report <kind> --provider <agent> --json --tz <tz> [...]`` (catching up first)."""
    command = [sys.executable, "-m", "otm", "report", case.kind, "--provider", case.provider]
    command += ["--json", *view_named(case.view).arguments(spec, "--tz")]
    done = subprocess.run(command, env=env, cwd=env["HOME"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def otm_reports(env: dict[str, str], spec: CorpusSpec, variant: str) -> Reports:
    """Every comparison's report from ``otm report``."""
    return {case: otm_report(env, case, spec) for case in cases(variant)}


def run_otm(corpus: Corpus, spec: CorpusSpec, variant: str, work: Path) -> Reports:
    """Our reports on ``corpus``, from a fresh ``$OTM_HOME`` under ``work``."""
    prepare_otm_home(work / "otm", corpus_models(corpus.manifest))
    home = work / "home"
    home.mkdir(exist_ok=True)
    return otm_reports(otm_env(corpus, work / "otm", home), spec, variant)


# -- results ----------------------------------------------------------------------------------


@dataclass
class ReportResult:
    """One comparison: row counts, both tools' sums over the rows, and the differences."""

    case: Case
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

    def as_json(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return {
            **self.case._asdict(),
            **{k: v for k, v in asdict(self).items() if k not in ("case", "differences")},
            "differences": [d.as_json() for d in self.differences],
            "unexpected": len(self.unexpected),
        }


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
    return sum(e.cost or 0.0 for e in rows), sum(e.tokens.get("totalTokens", 0) for e in rows)


def compare(
    case: Case,
    spec: CorpusSpec,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    manifest: MixedManifest,
) -> ReportResult:
    """Compare one report of both tools (rules: those README.md lists) and sum both sides."""
    view = view_named(case.view)
    mine = normalise(case.provider, case.kind, ours, ours=True, tz=view.tz)
    other = normalise(case.provider, case.kind, theirs, ours=False, tz=view.tz)
    rules = listed_rules(readme_cases())
    diffs = check(case, mine, other, manifest, rules, view.context(spec))
    cost_ours, tokens_ours = summed(mine)
    cost_theirs, tokens_theirs = summed(other)
    return ReportResult(
        case,
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
        "bytes_by_provider": {
            "claude": m.claude.bytes,
            "codex": m.codex.bytes,
            "gemini": m.gemini.bytes,
        },
        "digest": corpus_digest(corpus.root),
    }


# -- fixtures ---------------------------------------------------------------------------------


def fixture_path(case: Case, base: Path = FIXTURES) -> Path:
    """Where ccusage's JSON for one comparison of the fixture corpus is kept."""
    return base / case.variant / f"{case.view}-{case.provider}-{case.kind}.json"


def write_fixtures(
    variant: str, corpus: Corpus, config: dict[str, Any], theirs: Reports, base: Path = FIXTURES
) -> None:
    """ccusage's reports, its price config and the corpus digest, under ``base/variant``."""
    (base / variant).mkdir(parents=True, exist_ok=True)
    for case, report in theirs.items():
        fixture_path(case, base).write_text(_dump(report))
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


# -- a run ------------------------------------------------------------------------------------


def run_variant(
    variant: str, spec: CorpusSpec, work: Path, binary: Path, update_fixtures: bool = False
) -> VariantResult:
    """Generate the variant's corpus, run both tools on it, compare every report."""
    base = work / variant
    corpus = generate_corpus(base / "corpus", spec, edge_cases=variant == "edge")
    config = ccusage_config(corpus_models(corpus.manifest))
    config_path = base / "ccusage.json"
    config_path.write_text(json.dumps(config, indent=1))
    home = base / "home"
    home.mkdir()
    theirs = ccusage_reports(binary, corpus, spec, variant, config_path, home)
    ours = run_otm(corpus, spec, variant, base)
    if update_fixtures:
        write_fixtures(variant, corpus, config, theirs)
    reports = [compare(c, spec, ours[c], theirs[c], corpus.manifest) for c in theirs]
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


def _label(case: Case) -> str:
    return f"{case.view} {case.provider} {case.kind}"


def summary_table(result: VariantResult) -> Table:
    """One line per report: rows, summed tokens and cost of both tools, differences."""
    c = result.corpus
    title = (
        f"{result.variant}: {c['bytes'] / 1e6:.2f} MB, {c['files']} files, {c['records']} records"
    )
    table = Table(title=title)
    table.add_column("report")
    for name in ("rows ours/cc", "tokens ours", "tokens ccusage", "cost ours", "cost ccusage"):
        table.add_column(name, justify="right")
    table.add_column("expected", justify="right")
    table.add_column("UNEXPECTED", justify="right")
    for r in result.reports:
        bad = len(r.unexpected)
        table.add_row(
            _label(r.case),
            f"{r.rows_ours}/{r.rows_ccusage}",
            f"{r.tokens_ours:,}",
            f"{r.tokens_ccusage:,}",
            f"${r.cost_ours:,.4f}",
            f"${r.cost_ccusage:,.4f}",
            str(len(r.differences) - bad),
            f"[red]{bad}[/]" if bad else "[green]0[/]",
        )
    return table


def _verdict(diff: Difference) -> str:
    if diff.expected:
        return f"[yellow]expected (listed in README: {escape(rule_case(diff.rule))})[/]"
    return "[bold red]UNEXPECTED[/]"


def differences_table(result: VariantResult) -> Table:
    """Every difference of a variant, with its verdict."""
    table = Table(title=f"{result.variant}: every difference")
    for name in ("report", "row", "field"):
        table.add_column(name, overflow="fold")
    for name in ("ours", "ccusage", "ours - cc"):
        table.add_column(name, justify="right", overflow="fold")
    table.add_column("verdict")
    for d in (d for r in result.reports for d in r.differences):
        delta = "" if d.delta is None else _num(d.delta)
        row = (_label(d.case), escape(d.row), escape(d.field), _num(d.ours), _num(d.ccusage))
        table.add_row(*row, delta, _verdict(d))
    return table


def figures(results: list[VariantResult]) -> dict[str, Any]:
    """Everything printed, as JSON-ready values."""
    return {
        "ccusage": ccusage.VERSION,
        "cost_tolerance": COST_TOLERANCE,
        "views": [asdict(v) for v in VIEWS],
        "variants": [
            {
                "variant": v.variant,
                "corpus": v.corpus,
                "reports": [r.as_json() for r in v.reports],
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


def console(stream: TextIO) -> Console:
    """A console on ``stream``: the terminal's width, or 200 columns when not a terminal."""
    return Console(file=stream, highlight=False, width=None if stream.isatty() else 200)


# -- command line -----------------------------------------------------------------------------


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
        help=f"run the fixture corpus (seed {FIXTURE.seed}, {FIXTURE.size_mb} MB, both variants) "
        "and rewrite tests/parity/fixtures from ccusage's output",
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
            log.print(f"[dim]{variant}: {spec.size_mb} MB, seed {spec.seed}: running both…[/]")
            results.append(run_variant(variant, spec, work, binary, args.update_fixtures))
    if args.json:
        sys.stdout.write(json.dumps(figures(results), indent=2) + "\n")
    print_results(log if args.json else console(sys.stdout), results)
    return 1 if any(v.unexpected for v in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
