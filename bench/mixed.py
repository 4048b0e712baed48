"""The mixed corpus of ``python -m bench.pipeline --mixed``: Claude Code, Codex CLI and Gemini CLI
logs side by side (``services.demo.corpus.mixed``, 70/20/10 by bytes), cached once per (size, seed).

Each run works on a copy laid out so that every CLI's variable points into it::

    <root>/claude                 CLAUDE_CONFIG_DIR
    <root>/codex                  CODEX_HOME
    <root>/gemini-home/.gemini    GEMINI_CLI_HOME=<root>/gemini-home
                                  (ccusage: GEMINI_DATA_DIR=<root>/gemini-home/.gemini/tmp)

"Every byte committed" covers every log file a reader reads in the three trees, listed here by
FORMATS.md's path rules (§2.1, §3.1, §4.1), not by the collector's own code:

- Claude: ``projects/**/*.jsonl``;
- Codex: ``sessions/**/*.jsonl`` and ``archived_sessions/**/*.jsonl``, less an archived file whose
  relative path also exists under ``sessions/`` (only the ``sessions/`` copy is read);
- Gemini: ``tmp/<project>/chats/session-*.jsonl`` and legacy ``session-*.json`` chats (read
  whole: their committed cursor's offset is the file's size), and subagent chats
  ``tmp/<project>/chats/<parentSessionId>/*.jsonl``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from bench.corpus import (
    CORPUS_DAYS,
    CORPUS_END,
    TOKEN_FIELDS,
    FileId,
    by_quirk,
    claude_tokens,
    generate_cached,
    sizes,
)
from services.demo.corpus import codex, gemini
from services.demo.corpus.claude import CCUSAGE_SKIPS
from services.demo.corpus.mixed import MixedManifest, generate_mixed

PROVIDERS = ("claude", "codex", "gemini")
OTHER_FIELDS = ("inputTokens", "outputTokens", "cacheReadTokens", "totalTokens")
FIELDS: dict[str, tuple[str, ...]] = {
    "claude": TOKEN_FIELDS,
    "codex": OTHER_FIELDS,
    "gemini": OTHER_FIELDS,
}
"""The totals compared per provider: Claude as in the Claude-only run; Codex and Gemini by the
fields both tools fill (their cache-creation tokens are always 0)."""
SUM_FIELDS = (*TOKEN_FIELDS, "totalTokens")
"""The totals of the all-provider report that must equal the sum of the three providers'."""
CLAUDE, CODEX, GEMINI_HOME, GEMINI_DIR = "claude", "codex", "gemini-home", ".gemini"


@dataclass(frozen=True)
class MixedCorpus:
    """A copy of the mixed tree ready to be read, and what the three generators say is in it."""

    root: Path
    manifest: MixedManifest
    from_cache: bool

    @property
    def claude_dir(self) -> Path:
        """The Claude config dir (the latency phase appends to its transcripts)."""
        return self.root / CLAUDE

    @staticmethod
    def data_dirs(root: Path) -> dict[str, str]:
        """The stack's data variables for a copy of this tree at ``root``: all three CLIs."""
        return {
            "CLAUDE_CONFIG_DIR": str(root / CLAUDE),
            "CODEX_HOME": str(root / CODEX),
            "GEMINI_CLI_HOME": str(root / GEMINI_HOME),
        }

    def ccusage_dirs(self) -> dict[str, dict[str, str]]:
        """Each ``ccusage <provider> daily``'s data variable (FORMATS.md §1)."""
        return {
            "claude": {"CLAUDE_CONFIG_DIR": str(self.root / CLAUDE)},
            "codex": {"CODEX_HOME": str(self.root / CODEX)},
            "gemini": {"GEMINI_DATA_DIR": str(self.root / GEMINI_HOME / GEMINI_DIR / "tmp")},
        }

    @staticmethod
    def files_by_provider(root: Path) -> dict[str, dict[FileId, int]]:
        """Every log file of each CLI in the tree at ``root``: its size by file identity."""
        return {
            "claude": sizes((root / CLAUDE / "projects").rglob("*.jsonl")),
            "codex": sizes(_codex_logs(root / CODEX)),
            "gemini": sizes(_gemini_chats(root / GEMINI_HOME / GEMINI_DIR / "tmp")),
        }

    @classmethod
    def log_files(cls, root: Path) -> dict[FileId, int]:
        """Every log file of the three CLIs in the tree at ``root``."""
        out: dict[FileId, int] = {}
        for files in cls.files_by_provider(root).values():
            out.update(files)
        return out

    def transcripts(self) -> dict[FileId, int]:
        """Every log file of the three CLIs, right now."""
        return self.log_files(self.root)

    def jsonl_bytes(self) -> int:
        """Total size of the log files right now."""
        return sum(self.transcripts().values())

    def expected_tokens(self) -> dict[str, dict[str, int]]:
        """Each generator's ground truth in ccusage's field names (`FIELDS`), as the collector
        reads (Claude: less the lines both tools skip)."""
        m = self.manifest
        return {
            "claude": claude_tokens(r for r in m.claude.expected if r.quirk not in CCUSAGE_SKIPS),
            "codex": codex_tokens(m.codex.expected),
            "gemini": gemini_tokens(m.gemini.expected),
        }

    def quirk_tokens(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per provider, the tokens of the records ccusage may count differently, by quirk."""
        m = self.manifest
        return {
            "claude": by_quirk(m.claude.expected, claude_tokens),
            "codex": by_quirk(m.codex.expected, codex_tokens),
            "gemini": by_quirk(m.gemini.expected, gemini_tokens),
        }

    def figures(self) -> dict[str, dict[str, int]]:
        """Bytes, files and expected records of each CLI's part (before any append)."""
        files = self.files_by_provider(self.root)
        records = {p: len(getattr(self.manifest, p).expected) for p in PROVIDERS}
        return {
            p: {"bytes": sum(files[p].values()), "files": len(files[p]), "records": records[p]}
            for p in PROVIDERS
        }


def codex_tokens(records: Iterable[codex.ExpectedRecord]) -> dict[str, int]:
    """Token sums of Codex records as ``ccusage codex daily`` totals them (``inputTokens``:
    non-cached input; ``totalTokens``: the logged totals)."""
    out = dict.fromkeys(OTHER_FIELDS, 0)
    for r in records:
        out["inputTokens"] += r.input
        out["outputTokens"] += r.output
        out["cacheReadTokens"] += r.cached
        out["totalTokens"] += r.total
    return out


def gemini_tokens(records: Iterable[gemini.ExpectedRecord]) -> dict[str, int]:
    """Token sums of Gemini records as ``ccusage gemini daily`` totals them."""
    out = dict.fromkeys(OTHER_FIELDS, 0)
    for r in records:
        out["inputTokens"] += r.input
        out["outputTokens"] += r.output
        out["cacheReadTokens"] += r.cache_read
        out["totalTokens"] += r.total
    return out


def _codex_logs(home: Path) -> Iterator[Path]:
    """Codex logs under ``sessions/`` and ``archived_sessions/`` (less shadowed archived copies)."""
    sessions, archived = home / "sessions", home / "archived_sessions"
    yield from sessions.rglob("*.jsonl")
    for path in archived.rglob("*.jsonl"):
        if not (sessions / path.relative_to(archived)).is_file():
            yield path


def _gemini_chats(tmp: Path) -> Iterator[Path]:
    """Gemini chats below ``tmp``: ``<project>/chats/session-*.jsonl`` and ``.json``, and
    ``<project>/chats/<parentSessionId>/*.jsonl``."""
    for chats in tmp.glob("*/chats"):
        for path in chats.iterdir():
            if path.is_file() and path.name.startswith("session-"):
                if path.suffix in (".jsonl", ".json"):
                    yield path
            elif path.is_dir():
                yield from (p for p in path.glob("*.jsonl") if p.is_file())


def cache_path(cache_dir: Path, size_mb: float, seed: int, edge_cases: bool = True) -> Path:
    """Where the mixed corpus of this size and seed is cached."""
    return cache_dir / f"mixed-{size_mb:g}-{seed}{'' if edge_cases else '-clean'}"


def prepare(
    size_mb: float, seed: int, cache_dir: Path | None, dest: Path, edge_cases: bool = True
) -> MixedCorpus:
    """A private copy of the mixed tree at ``dest``, generating (and caching) it if needed.

    With ``cache_dir`` None the tree is generated straight into ``dest`` and not kept.
    """
    if cache_dir is None:
        return MixedCorpus(dest, _generate(dest, size_mb, seed, edge_cases), from_cache=False)
    cached = cache_path(cache_dir, size_mb, seed, edge_cases)
    found = (cached / "manifest.json").is_file()
    if not found:
        generate_cached(
            cached,
            lambda scratch: msgspec.json.encode(
                _generate(scratch / "data", size_mb, seed, edge_cases)
            ),
        )
    shutil.copytree(cached / "data", dest)
    manifest = msgspec.json.decode((cached / "manifest.json").read_bytes(), type=MixedManifest)
    return MixedCorpus(dest, manifest, from_cache=found)


def _generate(root: Path, size_mb: float, seed: int, edge_cases: bool) -> MixedManifest:
    """Write the mixed tree at ``root``, its Gemini part moved to ``gemini-home/.gemini``."""
    manifest = generate_mixed(
        root, size_mb, seed, start=CORPUS_END, days=CORPUS_DAYS, edge_cases=edge_cases
    )
    (root / GEMINI_HOME).mkdir()
    (root / "gemini").rename(root / GEMINI_HOME / GEMINI_DIR)
    return manifest


def token_figures(
    data: MixedCorpus, ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """Per provider, our totals against ccusage's and against the generator's ground truth.

    ``ours`` holds our daily report for each provider (``--provider claude`` ...) and for
    ``all`` (the warm report); ``theirs`` ccusage's daily report for each provider.
    """
    truth, quirks = data.expected_tokens(), data.quirk_tokens()
    by_provider: dict[str, Any] = {}
    for p in PROVIDERS:
        mine = pick(ours[p], FIELDS[p])
        entry: dict[str, Any] = {
            "fields": list(FIELDS[p]),
            "ours": mine,
            "ground_truth": truth[p],
            "match_ground_truth": mine == truth[p],
            "ccusage": None,
            "diff_vs_ccusage": None,
            "match_ccusage": None,
            "quirks": quirks[p],
        }
        if theirs is not None:
            other = pick(theirs[p], FIELDS[p])
            entry["ccusage"] = other
            entry["diff_vs_ccusage"] = {f: mine[f] - other[f] for f in FIELDS[p]}
            entry["match_ccusage"] = mine == other
        by_provider[p] = entry
    summed = {f: sum(pick(ours[p], SUM_FIELDS)[f] for p in PROVIDERS) for f in SUM_FIELDS}
    return {
        "by_provider": by_provider,
        "match_ground_truth": all(e["match_ground_truth"] for e in by_provider.values()),
        "match_ccusage": (
            None if theirs is None else all(e["match_ccusage"] for e in by_provider.values())
        ),
        "all_report": pick(ours["all"], SUM_FIELDS),
        "all_is_sum_of_providers": pick(ours["all"], SUM_FIELDS) == summed,
    }


def pick(daily_report: dict[str, Any], fields: Iterable[str]) -> dict[str, int]:
    """Some token totals of a daily report (ours or ccusage's)."""
    totals = daily_report["totals"]
    return {f: int(totals[f]) for f in fields}
