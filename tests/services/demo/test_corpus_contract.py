"""The contract every corpus generator keeps (services.demo.corpus.claude, .codex, .gemini).

Determinism, size targets, a manifest that describes the files on disk, bad lines that are
declared and rare, unique and ordered ground truth, daily sums, and the shared command line.
What only one CLI's layout or duplicate rules have is tested in test_corpus_<cli>.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from services.demo.corpus import claude, codex, gemini

START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
LATE_EVENING_MS = 1_777_678_200_000
"""2026-05-01T23:30:00Z: still the 1st in UTC, already the 2nd in Tokyo."""


@dataclass(frozen=True)
class Generator:
    """One corpus generator and what differs between CLIs in checking its contract."""

    module: ModuleType
    top: str  # the folder the generator writes under its root
    files: Callable[[Path], list[Path]]  # the files Manifest.files/bytes/lines describe
    huge_line: int  # the size some tool output lines reach
    row_total: Callable[[dict[str, int]], int]  # the tokens of one expected_daily_tokens row
    single: Callable[[int], Any]  # a manifest of one expected record at the given ms

    @property
    def name(self) -> str:
        return self.module.__name__.rsplit(".", 1)[-1]


def _claude_files(root: Path) -> list[Path]:
    return sorted((root / "projects").rglob("*.jsonl"))


def _codex_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.jsonl"))


def _gemini_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "tmp").rglob("*.json*") if "/chats/" in p.as_posix())


def _claude_single(ts_ms: int) -> claude.Manifest:
    record = claude.ExpectedRecord(
        "msg_1", "req_1", ts_ms, "claude-opus-4-6", "standard", "-p", "s", 1, 2, 3, 4, 5
    )
    return claude.Manifest(1, 1, 1, {}, [record], {}, 0, 0)


def _codex_single(ts_ms: int) -> codex.Manifest:
    record = codex.ExpectedRecord(ts_ms, "gpt-5.5", "s", 10, 90, 5, 2, 105)
    return codex.Manifest(1, 1, 1, {}, [record], [], {}, 0, 0)


def _gemini_single(ts_ms: int) -> gemini.Manifest:
    record = gemini.ExpectedRecord(
        "m", ts_ms, "gemini-2.5-pro", "p", "s", 10, 90, 5, 2, 107, 100, 0
    )
    return gemini.Manifest(1, 1, 1, {}, [record], {}, 0, 0)


def _total_tokens(row: dict[str, int]) -> int:
    return row["totalTokens"]


def _all_tokens(row: dict[str, int]) -> int:
    return sum(row.values())


GENERATORS = [
    Generator(claude, "projects", _claude_files, 100_000, _all_tokens, _claude_single),
    Generator(codex, "sessions", _codex_files, 50_000, _total_tokens, _codex_single),
    Generator(gemini, "tmp", _gemini_files, 50_000, _total_tokens, _gemini_single),
]


@dataclass(frozen=True)
class Tree:
    """A generated tree: its root, the manifest, and every JSONL line of its files."""

    root: Path
    manifest: Any
    files: list[Path]
    lines: list[bytes]

    def objects(self) -> Iterator[dict[str, Any]]:
        """Every JSON object in the files, read leniently (invalid UTF-8 replaced)."""
        for raw in self.lines:
            obj = lenient(raw)
            if isinstance(obj, dict):
                yield obj
        for path in self.files:
            if path.suffix == ".json":  # Gemini's legacy single-JSON chats
                doc = json.loads(path.read_bytes())
                yield doc
                yield from doc["messages"]


def lenient(raw: bytes) -> Any:
    """The JSON value of a line, invalid UTF-8 replaced; None when it is not JSON at all."""
    try:
        return json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return None


def strict(raw: bytes) -> Any:
    """The JSON value of a line; None when it is not valid UTF-8 JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def read_tree(generator: Generator, root: Path, manifest: Any) -> Tree:
    """The tree at ``root`` as the manifest should describe it."""
    files = generator.files(root)
    lines = [
        raw
        for path in files
        if path.suffix == ".jsonl"
        for raw in path.read_bytes().split(b"\n")[:-1]
    ]
    return Tree(root, manifest, files, lines)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (side files included), by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def ts_ms(stamp: str) -> int:
    """Milliseconds since the epoch of an ISO 8601 time."""
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=GENERATORS, ids=lambda g: g.name)
def generator(request: pytest.FixtureRequest) -> Generator:
    """Each corpus generator in turn."""
    return request.param


@pytest.fixture(scope="module")
def edge(generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """A 6 MB tree with every edge case."""
    root = tmp_path_factory.mktemp(f"{generator.name}-edge")
    return read_tree(generator, root, generator.module.generate(root, 6.0, seed=11, start=START))


@pytest.fixture(scope="module")
def clean(generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """A 2 MB tree without edge cases."""
    root = tmp_path_factory.mktemp(f"{generator.name}-clean")
    manifest = generator.module.generate(root, 2.0, seed=5, start=START, edge_cases=False)
    return read_tree(generator, root, manifest)


@pytest.fixture(scope="module")
def tiny(generator: Generator, tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """A 50 KB request, where every edge case is dense."""
    root = tmp_path_factory.mktemp(f"{generator.name}-tiny")
    return read_tree(generator, root, generator.module.generate(root, 0.05, seed=23, start=START))


@pytest.fixture(params=["edge", "clean", "tiny"])
def any_tree(request: pytest.FixtureRequest, generator: Generator) -> Tree:
    """Each of the three trees of each generator in turn."""
    return request.getfixturevalue(request.param)


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(generator: Generator, tmp_path: Path) -> None:
    """The same seed, size and start give a byte-identical tree, side files included."""
    generator.module.generate(tmp_path / "a", 1.0, seed=3, start=START)
    generator.module.generate(tmp_path / "b", 1.0, seed=3, start=START)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_other_seed_gives_other_tree(generator: Generator, tmp_path: Path) -> None:
    """Different seeds give different trees."""
    generator.module.generate(tmp_path / "a", 0.5, seed=1, start=START)
    generator.module.generate(tmp_path / "b", 0.5, seed=2, start=START)
    assert tree_bytes(tmp_path / "a") != tree_bytes(tmp_path / "b")


def test_refuses_a_non_empty_root(generator: Generator, tmp_path: Path) -> None:
    """Generating over an existing tree fails instead of writing a wrong manifest."""
    generator.module.generate(tmp_path, 0.05, seed=1, start=START)
    before = tree_bytes(tmp_path)
    with pytest.raises(FileExistsError):
        generator.module.generate(tmp_path, 0.05, seed=1, start=START)
    assert before == tree_bytes(tmp_path)


# --- size and the manifest ----------------------------------------------------------------------


def test_size_is_roughly_honoured(edge: Tree) -> None:
    """A 6 MB request writes between 6 and 7.5 MB of logs."""
    assert 6_000_000 <= edge.manifest.bytes <= 7_500_000


def test_clean_size_is_roughly_honoured(clean: Tree) -> None:
    """A 2 MB clean request writes between 2 and 2.5 MB of logs."""
    assert 2_000_000 <= clean.manifest.bytes <= 2_500_000


def test_manifest_counts_match_the_tree(any_tree: Tree) -> None:
    """files, bytes and JSONL lines in the manifest are those on disk."""
    on_disk = (len(any_tree.files), sum(p.stat().st_size for p in any_tree.files))
    counted = (any_tree.manifest.files, any_tree.manifest.bytes, any_tree.manifest.lines)
    assert (*on_disk, len(any_tree.lines)) == counted


def test_timestamps_stay_inside_the_window(any_tree: Tree) -> None:
    """Every record's time lies within the days before start, none in the future."""
    stamps = [o["timestamp"] for o in any_tree.objects() if isinstance(o.get("timestamp"), str)]
    times = [ts_ms(s) for s in stamps]
    m = any_tree.manifest
    assert stamps and m.start_ms <= min(times) <= max(times) <= m.end_ms <= ts_ms(START.isoformat())


def test_some_tool_outputs_are_huge(generator: Generator, edge: Tree) -> None:
    """Now and then a line carries a tool output of 50 KB or more (Claude's reach 100 KB)."""
    assert max(len(raw) for raw in edge.lines) >= generator.huge_line


# --- bad lines ----------------------------------------------------------------------------------


def test_bad_line_kinds_are_the_declared_ones(generator: Generator, any_tree: Tree) -> None:
    """Manifest.bad_lines has a count for every kind of BAD_KINDS, and no other kind."""
    assert set(generator.module.BAD_KINDS) == set(any_tree.manifest.bad_lines)


def test_malformed_lines_are_counted(any_tree: Tree) -> None:
    """bad_lines["malformed_json"] is the number of lines that are not JSON, even leniently."""
    malformed = sum(lenient(raw) is None for raw in any_tree.lines)
    assert malformed == any_tree.manifest.bad_lines["malformed_json"]


def test_an_edge_tree_has_bad_lines(edge: Tree, tiny: Tree) -> None:
    """With edge cases, even a tiny tree holds at least one line of every bad kind."""
    counts = [edge.manifest.bad_lines, tiny.manifest.bad_lines]
    assert [set(), set()] == [{kind for kind, n in c.items() if n <= 0} for c in counts]


def test_bad_lines_are_a_small_fraction(edge: Tree) -> None:
    """Bad lines stay under 1 % of the lines."""
    assert sum(edge.manifest.bad_lines.values()) < 0.01 * edge.manifest.lines


def test_clean_tree_has_no_bad_lines(clean: Tree) -> None:
    """Without edge cases no line is bad: every one is valid UTF-8 JSON, and none is counted."""
    unreadable = sum(strict(raw) is None for raw in clean.lines)
    assert (0, 0) == (unreadable, sum(clean.manifest.bad_lines.values()))


# --- ground truth -------------------------------------------------------------------------------


def test_expected_records_are_unique_by_key(any_tree: Tree) -> None:
    """No dedup key appears twice in manifest.expected."""
    keys = [r.key for r in any_tree.manifest.expected]
    assert len(keys) == len(set(keys))


def test_expected_records_are_sorted_by_time_then_key(any_tree: Tree) -> None:
    """manifest.expected is in (ts_ms, key) order."""
    records = any_tree.manifest.expected
    assert sorted(records, key=lambda r: (r.ts_ms, r.key)) == records


def test_edge_lines_name_every_declared_edge_kind(generator: Generator, edge: Tree) -> None:
    """A generator that declares EDGE_KINDS counts lines of each (Claude declares none)."""
    kinds = getattr(generator.module, "EDGE_KINDS", ())
    if generator.name == "claude":
        assert () == kinds
    else:
        assert set() == {k for k in kinds if edge.manifest.edge_lines.get(k, 0) <= 0}


# --- daily sums ---------------------------------------------------------------------------------


def test_daily_tokens_sum_to_the_expected_totals(generator: Generator, edge: Tree) -> None:
    """expected_daily_tokens splits exactly the expected totals over the days."""
    days = generator.module.expected_daily_tokens(edge.manifest, "Europe/Berlin")
    total = sum(generator.row_total(row) for row in days.values())
    assert sum(r.total for r in edge.manifest.expected) == total


def test_daily_tokens_can_skip_quirky_records(generator: Generator, edge: Tree) -> None:
    """skip= leaves out exactly the records of the listed quirks, one at a time and all at once."""
    expected = edge.manifest.expected
    quirks = sorted({r.quirk for r in expected} - {""})
    skips = [(q,) for q in quirks] + [tuple(quirks)]

    def kept(skip: tuple[str, ...]) -> int:
        days = generator.module.expected_daily_tokens(edge.manifest, skip=skip)
        return sum(generator.row_total(row) for row in days.values())

    wanted = {skip: sum(r.total for r in expected if r.quirk not in skip) for skip in skips}
    assert quirks and wanted == {skip: kept(skip) for skip in skips}


def test_daily_tokens_use_the_local_date(generator: Generator) -> None:
    """A 23:30 UTC record counts on that day in UTC and on the next day in Tokyo."""
    manifest = generator.single(LATE_EVENING_MS)
    utc = set(generator.module.expected_daily_tokens(manifest, "UTC"))
    tokyo = set(generator.module.expected_daily_tokens(manifest, "Asia/Tokyo"))
    assert ({"2026-05-01"}, {"2026-05-02"}) == (utc, tokyo)


# --- the command line ---------------------------------------------------------------------------


def test_cli_prints_one_summary_line(
    generator: Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m services.demo.corpus.<cli> ROOT --size-mb N` writes a tree, prints one line."""
    code = generator.module.main([str(tmp_path), "--size-mb", "0.2", "--seed", "4"])
    out = capsys.readouterr().out
    assert (0, 1, True) == (
        code,
        len(out.strip().splitlines()),
        (tmp_path / generator.top).is_dir(),
    )
    assert "expected records" in out


def test_cli_writes_what_generate_writes_and_says_so(
    generator: Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's tree is generate()'s for the same options, and its summary gives its counts."""
    options = ["--size-mb", "0.3", "--seed", "8", "--days", "5", "--start", START.isoformat()]
    assert 0 == generator.module.main([str(tmp_path / "cli"), *options])
    out = capsys.readouterr().out
    m = generator.module.generate(tmp_path / "api", 0.3, seed=8, start=START, days=5)
    assert tree_bytes(tmp_path / "api") == tree_bytes(tmp_path / "cli")
    summary = f"{m.files} files, {m.lines} lines, {len(m.expected)} expected records"
    assert summary in out


def test_cli_refuses_a_non_empty_root(
    generator: Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over an existing tree the CLI exits 1 with an error line and writes nothing more."""
    generator.module.generate(tmp_path, 0.05, seed=1, start=START)
    before = tree_bytes(tmp_path)
    code = generator.module.main([str(tmp_path), "--size-mb", "0.05"])
    out = capsys.readouterr().out
    assert (1, True, before) == (code, out.startswith("error:"), tree_bytes(tmp_path))
