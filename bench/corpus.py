"""The benchmark's corpus: generated once per (size, seed), cached, and copied for each run.

Each run copies the cached tree because the latency phase appends to it. The copy also puts the
files in the page cache, so ccusage and the pipeline both read them warm.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import msgspec

from services.demo.corpus.claude import CCUSAGE_SKIPS, ExpectedRecord, Manifest, generate

CORPUS_END = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
"""Fixed, so the same size and seed always give a byte-identical tree."""
CORPUS_DAYS = 30
"""Claude Code's default retention."""
TOKEN_FIELDS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")

FileId = tuple[int, int]
"""``(st_dev, st_ino)``: how a file is recognised whatever spelling its path has."""


@dataclass(frozen=True)
class Corpus:
    """A Claude config dir ready to be read, and what the generator says is in it."""

    root: Path
    manifest: Manifest
    from_cache: bool

    @property
    def claude_dir(self) -> Path:
        """The Claude config dir (the latency phase appends to its transcripts)."""
        return self.root

    @staticmethod
    def data_dirs(root: Path) -> dict[str, str]:
        """The stack's data variables for a copy of this tree at ``root``."""
        return {"CLAUDE_CONFIG_DIR": str(root)}

    @staticmethod
    def log_files(root: Path) -> dict[FileId, int]:
        """Every ``*.jsonl`` below ``root/projects``: its size by file identity."""
        return sizes((root / "projects").rglob("*.jsonl"))

    def transcripts(self) -> dict[FileId, int]:
        """Every ``*.jsonl`` below ``projects/``: its size by file identity."""
        return self.log_files(self.root)

    def jsonl_bytes(self) -> int:
        """Total size of the transcripts right now."""
        return sum(self.transcripts().values())

    def expected_tokens(self) -> dict[str, int]:
        """The generator's ground truth in ccusage's field names, read as the collector reads."""
        return claude_tokens(r for r in self.manifest.expected if r.quirk not in CCUSAGE_SKIPS)

    def quirk_tokens(self) -> dict[str, dict[str, int]]:
        """Tokens of the records ccusage may count differently, by quirk (the winner's copy)."""
        return by_quirk(self.manifest.expected, claude_tokens)


def sizes(paths: Iterable[Path]) -> dict[FileId, int]:
    """The size of each file, by file identity."""
    out: dict[FileId, int] = {}
    for path in paths:
        st = path.stat()
        out[(st.st_dev, st.st_ino)] = st.st_size
    return out


def claude_tokens(records: Iterable[ExpectedRecord]) -> dict[str, int]:
    """Token sums of Claude records in ccusage's field names (`TOKEN_FIELDS`)."""
    out = dict.fromkeys(TOKEN_FIELDS, 0)
    for r in records:
        out["inputTokens"] += r.input
        out["outputTokens"] += r.output
        out["cacheCreationTokens"] += r.cache_write_5m + r.cache_write_1h
        out["cacheReadTokens"] += r.cache_read
    return out


class _Quirky(Protocol):
    @property
    def quirk(self) -> str: ...


Q = TypeVar("Q", bound=_Quirky)


def by_quirk(
    records: Iterable[Q], tokens: Callable[[list[Q]], dict[str, int]]
) -> dict[str, dict[str, int]]:
    """``tokens`` of the records that have a quirk, by quirk."""
    grouped: dict[str, list[Q]] = {}
    for r in records:
        if r.quirk:
            grouped.setdefault(r.quirk, []).append(r)
    return {quirk: tokens(rs) for quirk, rs in grouped.items()}


def cache_path(cache_dir: Path, size_mb: float, seed: int, edge_cases: bool = True) -> Path:
    """Where the corpus of this size and seed is cached."""
    return cache_dir / f"corpus-{size_mb:g}-{seed}{'' if edge_cases else '-clean'}"


def prepare(
    size_mb: float, seed: int, cache_dir: Path | None, dest: Path, edge_cases: bool = True
) -> Corpus:
    """A private copy of the corpus at ``dest``, generating (and caching) it if needed.

    With ``cache_dir`` None the corpus is generated straight into ``dest`` and not kept.
    """
    if cache_dir is None:
        return Corpus(dest, _generate(dest, size_mb, seed, edge_cases), from_cache=False)
    cached = cache_path(cache_dir, size_mb, seed, edge_cases)
    found = (cached / "manifest.json").is_file()
    if not found:
        _generate_cached(cached, size_mb, seed, edge_cases)
    shutil.copytree(cached / "claude", dest)
    manifest = msgspec.json.decode((cached / "manifest.json").read_bytes(), type=Manifest)
    return Corpus(dest, manifest, from_cache=found)


def _generate(root: Path, size_mb: float, seed: int, edge_cases: bool) -> Manifest:
    """Write a corpus; with ``edge_cases`` every edge case appears, in realistic (rare) numbers."""
    return generate(
        root,
        size_mb=size_mb,
        seed=seed,
        start=CORPUS_END,
        days=CORPUS_DAYS,
        edge_cases=edge_cases,
    )


def _generate_cached(cached: Path, size_mb: float, seed: int, edge_cases: bool) -> None:
    """Generate into a scratch dir next to ``cached`` and rename it into place."""
    generate_cached(
        cached,
        lambda scratch: msgspec.json.encode(
            _generate(scratch / "claude", size_mb, seed, edge_cases)
        ),
    )


def generate_cached(cached: Path, write: Callable[[Path], bytes]) -> None:
    """``write`` a corpus into a scratch dir next to ``cached`` (returning its encoded
    manifest, saved as ``manifest.json``), then rename the scratch dir to ``cached``."""
    scratch = cached.with_name(f"{cached.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    (scratch / "manifest.json").write_bytes(write(scratch))
    try:
        scratch.rename(cached)
    except OSError:
        # Another run cached the same corpus meanwhile; theirs is identical.
        shutil.rmtree(scratch, ignore_errors=True)
