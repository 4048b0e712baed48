"""The benchmark's corpus: generated once per (size, seed), cached, and copied for each run.

Each run copies the cached tree because the latency phase appends to it. The copy also puts the
files in the page cache, so ccusage and the pipeline both read them warm.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from otm.corpus.claude import CCUSAGE_SKIPS, Manifest, generate

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

    def transcripts(self) -> dict[FileId, int]:
        """Every ``*.jsonl`` below ``projects/``: its size by file identity."""
        out: dict[FileId, int] = {}
        for path in (self.root / "projects").rglob("*.jsonl"):
            st = path.stat()
            out[(st.st_dev, st.st_ino)] = st.st_size
        return out

    def jsonl_bytes(self) -> int:
        """Total size of the transcripts right now."""
        return sum(self.transcripts().values())

    def expected_tokens(self) -> dict[str, int]:
        """The generator's ground truth in ccusage's field names, read as the collector reads."""
        records = [r for r in self.manifest.expected if r.quirk not in CCUSAGE_SKIPS]
        return {
            "inputTokens": sum(r.input for r in records),
            "outputTokens": sum(r.output for r in records),
            "cacheCreationTokens": sum(r.cache_write_5m + r.cache_write_1h for r in records),
            "cacheReadTokens": sum(r.cache_read for r in records),
        }

    def quirk_tokens(self) -> dict[str, dict[str, int]]:
        """Tokens of the records ccusage may count differently, by quirk (the winner's copy)."""
        out: dict[str, dict[str, int]] = {}
        for r in self.manifest.expected:
            if not r.quirk:
                continue
            row = out.setdefault(r.quirk, dict.fromkeys(TOKEN_FIELDS, 0))
            row["inputTokens"] += r.input
            row["outputTokens"] += r.output
            row["cacheCreationTokens"] += r.cache_write_5m + r.cache_write_1h
            row["cacheReadTokens"] += r.cache_read
        return out


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
    scratch = cached.with_name(f"{cached.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    manifest = _generate(scratch / "claude", size_mb, seed, edge_cases)
    (scratch / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    try:
        scratch.rename(cached)
    except OSError:
        # Another run cached the same corpus meanwhile; theirs is identical.
        shutil.rmtree(scratch, ignore_errors=True)
