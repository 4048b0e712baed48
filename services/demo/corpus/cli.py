"""The command line every corpus generator shares.

``python -m services.demo.corpus.<cli> ROOT …``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

MB = 1_000_000


class _Manifest(Protocol):
    files: int
    bytes: int
    lines: int
    bad_lines: dict[str, int]

    @property
    def expected(self) -> Any: ...


def add_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The options every corpus CLI shares (root, size, seed, days, start, edge cases)."""
    parser.add_argument("root", type=Path, help=f"directory to write {what} into (must be empty)")
    parser.add_argument("--size-mb", type=float, default=10.0, help="MB (10**6 bytes) of logs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="end of the time window, ISO 8601 (default: now)",
    )
    parser.add_argument(
        "--no-edge-cases", action="store_true", help="a clean, duplicate-free corpus"
    )


def run_generator(
    argv: list[str] | None,
    module: str,
    doc: str | None,
    what: str,
    kind: str,
    generate: Callable[..., Any],
) -> int:
    """Parse the shared options, call ``generate`` and print a one-line summary with rich."""
    from rich.console import Console
    from rich.markup import escape

    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=(doc or "").split("\n")[0]
    )
    add_arguments(parser, what)
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    t0 = time.perf_counter()
    try:
        m: _Manifest = generate(
            args.root, args.size_mb, args.seed, args.start, args.days, not args.no_edge_cases
        )
    except (FileExistsError, ValueError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    elapsed = time.perf_counter() - t0
    console.print(
        f"[bold]{m.bytes / MB:.1f} MB[/] of {kind} in {m.files} files, {m.lines} lines, "
        f"{len(m.expected)} expected records, {sum(m.bad_lines.values())} bad lines "
        f"→ {escape(str(args.root))} in {elapsed:.2f} s",
        soft_wrap=True,  # one line, however narrow the terminal
    )
    return 0
