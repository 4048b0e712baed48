"""Seedable generator of a mixed tree: Claude Code, Codex CLI and Gemini CLI logs side by side.

The tree is::

    <root>/claude/projects/...          a Claude config dir (`services.demo.corpus.claude`)
    <root>/codex/sessions/...           a CODEX_HOME (`services.demo.corpus.codex`)
    <root>/gemini/tmp/...               a ~/.gemini (`services.demo.corpus.gemini`)

The byte budget is split by `shares`; each part is generated and described by its own module.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from services.demo.corpus import claude, codex, gemini
from services.demo.corpus.claude import MB
from services.demo.corpus.cli import add_arguments

_MIN_MB = 0.01  # every provider gets at least this much, so each tree exists


class MixedManifest(NamedTuple):
    """The three manifests of a mixed tree (unpacks as ``claude, codex, gemini``)."""

    claude: claude.Manifest
    codex: codex.Manifest
    gemini: gemini.Manifest

    @property
    def bytes(self) -> int:
        return self.claude.bytes + self.codex.bytes + self.gemini.bytes

    @property
    def files(self) -> int:
        return self.claude.files + self.codex.files + self.gemini.files

    @property
    def lines(self) -> int:
        return self.claude.lines + self.codex.lines + self.gemini.lines

    @property
    def records(self) -> int:
        return len(self.claude.expected) + len(self.codex.expected) + len(self.gemini.expected)


def generate_mixed(
    root: Path,
    size_mb: float,
    seed: int = 0,
    start: datetime | None = None,
    days: int = 30,
    edge_cases: bool = True,
    shares: tuple[float, float, float] = (0.7, 0.2, 0.1),
) -> MixedManifest:
    """Write about size_mb MB split by `shares` (Claude, Codex, Gemini) under root/claude,
    root/codex and root/gemini, and return the three manifests.

    Each generator is seeded from `seed` (they draw from separate random streams) and all use
    the same time window, so the same arguments give a byte-identical tree. root/claude,
    root/codex and root/gemini must be empty or absent (checked before anything is written).
    """
    if size_mb <= 0 or min(shares) < 0 or sum(shares) <= 0:
        raise ValueError("size_mb must be > 0 and shares non-negative with a positive sum")
    for name in ("claude", "codex", "gemini"):  # check all before writing any
        part = root / name
        if part.is_dir() and any(part.iterdir()):
            raise FileExistsError(f"{part} is not empty; the manifest would not describe it")
    sizes = [max(_MIN_MB, size_mb * share / sum(shares)) for share in shares]
    return MixedManifest(
        claude.generate(root / "claude", sizes[0], seed, start, days, edge_cases),
        codex.generate(root / "codex", sizes[1], seed, start, days, edge_cases),
        gemini.generate(root / "gemini", sizes[2], seed, start, days, edge_cases),
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m services.demo.corpus.mixed ROOT --size-mb N --seed S`: write a tree, print a
    summary."""
    from rich.console import Console
    from rich.markup import escape

    parser = argparse.ArgumentParser(
        prog="python -m services.demo.corpus.mixed", description=(__doc__ or "").split("\n")[0]
    )
    add_arguments(parser, "claude/, codex/ and gemini/")
    parser.add_argument(
        "--shares",
        type=float,
        nargs=3,
        default=(0.7, 0.2, 0.1),
        metavar=("CLAUDE", "CODEX", "GEMINI"),
        help="how the bytes are split (default: 0.7 0.2 0.1)",
    )
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    t0 = time.perf_counter()
    try:
        m = generate_mixed(
            args.root,
            args.size_mb,
            args.seed,
            args.start,
            args.days,
            not args.no_edge_cases,
            tuple(args.shares),
        )
    except (FileExistsError, ValueError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    elapsed = time.perf_counter() - t0
    sizes = (m.claude.bytes, m.codex.bytes, m.gemini.bytes)
    parts = ", ".join(f"{name} {n / MB:.1f} MB" for name, n in zip(m._fields, sizes, strict=True))
    console.print(
        f"[bold]{m.bytes / MB:.1f} MB[/] ({parts}) in {m.files} files, {m.lines} lines, "
        f"{m.records} expected records → {escape(str(args.root))} in {elapsed:.2f} s",
        soft_wrap=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
