"""The Claude Code corpus generator: realism, edge cases, ground truth, live appends.

What every generator promises (determinism, size, manifest, bad lines, daily sums, the command
line) is tested once for all three in test_corpus_contract.py.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.demo.corpus.claude import (
    UNREADABLE_KINDS,
    ExpectedRecord,
    Manifest,
    append_live,
    expected_daily_tokens,
    generate,
)

START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
USAGE_LIMIT = re.compile(r"^Claude AI usage limit reached\|\d{10}$")
MICROSECONDS = re.compile(r"\.\d{6}Z$")


@dataclass(frozen=True)
class Line:
    """One line of the tree as an independent reader sees it."""

    rel: str  # path under projects/, POSIX
    idx: int
    raw: bytes
    obj: dict[str, Any] | None  # None when the line is not JSON, even decoded leniently
    error: str = ""  # "invalid_utf8" (obj decoded with replacement characters) or "malformed_json"

    @property
    def project(self) -> str:
        return self.rel.split("/")[0]

    @property
    def session(self) -> str:
        parts = self.rel.split("/")
        return parts[1].removesuffix(".jsonl")

    @property
    def subagent(self) -> bool:
        return "/subagents/" in self.rel

    def msg(self) -> dict[str, Any]:
        assert self.obj is not None
        message = self.obj.get("message")
        return message if isinstance(message, dict) else {}


def scan(root: Path) -> list[Line]:
    """Every line of every .jsonl under root/projects, in path order."""
    projects = root / "projects"
    out: list[Line] = []
    for path in sorted(projects.rglob("*.jsonl"), key=lambda p: p.relative_to(projects).as_posix()):
        rel = path.relative_to(projects).as_posix()
        for idx, raw in enumerate(path.read_bytes().split(b"\n")[:-1]):
            try:
                out.append(Line(rel, idx, raw, json.loads(raw)))
            except UnicodeDecodeError:
                lenient = json.loads(raw.decode("utf-8", "replace"))
                out.append(Line(rel, idx, raw, lenient, "invalid_utf8"))
            except ValueError:
                out.append(Line(rel, idx, raw, None, "malformed_json"))
    return out


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assistants(lines: list[Line]) -> list[Line]:
    return [ln for ln in lines if ln.obj is not None and ln.obj.get("type") == "assistant"]


def ts_ms(ts: str) -> int:
    return (datetime.fromisoformat(ts) - EPOCH) // timedelta(milliseconds=1)


def nested(ln: Line) -> dict[str, Any] | None:
    """The subagent entry an agent progress line of a main transcript nests, else ``None``."""
    if ln.obj is None or ln.obj.get("type") != "progress" or ln.subagent:
        return None
    entry: dict[str, Any] = ln.obj["data"]["message"]
    return entry


def usage_entries(lines: list[Line]) -> list[tuple[Line, dict[str, Any]]]:
    """Every assistant entry with its line: the lines themselves and progress lines' copies."""
    out: list[tuple[Line, dict[str, Any]]] = []
    for ln in lines:
        entry = ln.obj if ln.obj is not None and ln.obj.get("type") == "assistant" else nested(ln)
        if entry is not None:
            out.append((ln, entry))
    return out


def reference_expected(lines: list[Line]) -> dict[str, tuple[int, str, str, int, bool]]:
    """Our dedup rule re-implemented on parsed lines: key -> (total, project, session, ts, side)."""
    best: dict[str, tuple[tuple[int, int], tuple[int, str, str, int, bool]]] = {}
    for ln, entry in usage_entries(lines):
        usage = entry["message"].get("usage", {})
        if not isinstance(usage.get("input_tokens"), int):
            continue  # wrong shape: unreadable
        split = usage.get("cache_creation", {})
        total = (
            usage["input_tokens"]
            + usage["output_tokens"]
            + split.get("ephemeral_5m_input_tokens", 0)
            + split.get("ephemeral_1h_input_tokens", 0)
            + usage.get("cache_read_input_tokens", 0)
        )
        side = bool(entry.get("isSidechain"))
        mid = entry["message"]["id"]
        key = mid if entry.get("requestId") else f"{ln.session}/{mid}"
        rank = (0 if side else 1, total)
        if key not in best or rank > best[key][0]:  # strict: the first in path order keeps ties
            value = (total, ln.project, ln.session, ts_ms(entry["timestamp"]), side)
            best[key] = (rank, value)
    return {k: v for k, (_, v) in best.items()}


@pytest.fixture(scope="module")
def edge_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest, list[Line]]:
    root = tmp_path_factory.mktemp("edge")
    manifest = generate(root, 6.0, seed=11, start=START)
    return root, manifest, scan(root)


@pytest.fixture(scope="module")
def clean_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest, list[Line]]:
    root = tmp_path_factory.mktemp("clean")
    manifest = generate(root, 2.0, seed=5, start=START, edge_cases=False)
    return root, manifest, scan(root)


# --- realism ------------------------------------------------------------------------------------


def test_all_four_models_appear(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Sonnet 4.5, Opus 4.6, Haiku 4.5 and Opus 4.1 are all used, plus the synthetic stub."""
    _, _, lines = edge_tree
    models = {ln.msg().get("model") for ln in assistants(lines)}
    expected = {
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-6",
        "claude-haiku-4-5-20251001",
        "claude-opus-4-1-20250805",
        "<synthetic>",
    }
    assert expected == models


def test_fast_speed_only_on_opus_4_6(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """speed:"fast" appears, and only on claude-opus-4-6."""
    _, _, lines = edge_tree
    fast = {ln.msg()["model"] for ln in assistants(lines) if ln.msg()["usage"].get("speed")}
    assert {"claude-opus-4-6"} == fast


def test_some_cache_writes_use_the_one_hour_ttl(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Both the 5-minute and the 1-hour cache-write buckets are used."""
    _, manifest, _ = edge_tree
    five_minutes = sum(r.cache_write_5m for r in manifest.expected)
    one_hour = sum(r.cache_write_1h for r in manifest.expected)
    assert min(five_minutes, one_hour) > 0


def test_cache_read_grows_within_a_session(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """In the longest session, cache reads mostly grow from one response to the next."""
    _, manifest, _ = edge_tree
    by_session: dict[str, list[ExpectedRecord]] = {}
    for r in manifest.expected:
        if not r.sidechain and r.model:
            by_session.setdefault(r.session, []).append(r)
    longest = max(by_session.values(), key=len)
    reads = [r.cache_read for r in sorted(longest, key=lambda r: r.ts_ms)]
    growing = sum(b >= a for a, b in itertools.pairwise(reads))
    assert growing >= 0.8 * (len(reads) - 1)


def test_project_dirs_are_dashed_paths(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Project directory names are the cwd with / and . turned into dashes."""
    _, _, lines = edge_tree
    pairs = {
        (ln.project, ln.obj["cwd"]) for ln in lines if ln.obj and isinstance(ln.obj.get("cwd"), str)
    }
    assert all(p == cwd.replace("/", "-").replace(".", "-") for p, cwd in pairs)


# --- edge cases ---------------------------------------------------------------------------------


def _streaming(lines: list[Line]) -> bool:
    groups: dict[tuple[str, str, str], list[int]] = {}
    for ln in assistants(lines):
        assert ln.obj is not None
        if ln.obj.get("requestId") and not ln.obj.get("isSidechain"):
            key = (ln.rel, ln.msg()["id"], ln.obj["requestId"])
            groups.setdefault(key, []).append(ln.msg()["usage"]["output_tokens"])
    return any(len(o) >= 2 and o == sorted(set(o)) for o in groups.values())


def _resumed(lines: list[Line]) -> bool:
    files: dict[tuple[str, str], set[str]] = {}
    for ln in assistants(lines):
        assert ln.obj is not None
        if not ln.subagent and ln.obj.get("requestId"):
            files.setdefault((ln.project, ln.msg()["id"]), set()).add(ln.rel)
    return any(len(rels) >= 2 for rels in files.values())


def _subagent_sidechains(lines: list[Line]) -> bool:
    sub = [ln for ln in assistants(lines) if ln.subagent]
    return bool(sub) and all(ln.obj and ln.obj["isSidechain"] is True for ln in sub)


def _sidechain_replay(lines: list[Line]) -> bool:
    main = {
        (ln.msg()["id"], ln.obj.get("requestId"))
        for ln in assistants(lines)
        if ln.obj and not ln.obj.get("isSidechain")
    }
    main_ids = {mid for mid, _ in main}
    return any(
        not ln.subagent
        and ln.obj.get("isSidechain")
        and ln.msg()["id"] in main_ids
        and (ln.msg()["id"], ln.obj.get("requestId")) not in main
        for ln in assistants(lines)
        if ln.obj
    )


def _requestless(lines: list[Line]) -> bool:
    return any(
        ln.obj and "requestId" not in ln.obj and ln.msg().get("model") != "<synthetic>"
        for ln in assistants(lines)
    )


def _requestless_dup(lines: list[Line]) -> bool:
    seen: dict[tuple[str, str], int] = {}
    for ln in assistants(lines):
        if ln.obj and "requestId" not in ln.obj:
            key = (ln.rel, ln.msg()["id"])
            seen[key] = seen.get(key, 0) + 1
    return any(n >= 2 for n in seen.values())


def _synthetic(lines: list[Line]) -> bool:
    return any(
        ln.obj
        and ln.obj.get("isApiErrorMessage") is True
        and ln.msg()["model"] == "<synthetic>"
        and USAGE_LIMIT.match(ln.msg()["content"][0]["text"])
        for ln in assistants(lines)
    )


def _progress_ids(lines: list[Line]) -> tuple[set[str], set[str]]:
    """The message ids of progress copies, and those of subagent files' own lines."""
    sub_ids = {ln.msg()["id"] for ln in assistants(lines) if ln.subagent}
    copied = {entry["message"]["id"] for ln in lines if (entry := nested(ln)) is not None}
    return copied, sub_ids


def _progress(lines: list[Line]) -> bool:
    copied, sub_ids = _progress_ids(lines)
    return bool(copied & sub_ids)


def _progress_only(lines: list[Line]) -> bool:
    copied, sub_ids = _progress_ids(lines)
    return bool(copied - sub_ids)


def _web_search(lines: list[Line]) -> bool:
    return any(
        ln.msg()["usage"].get("server_tool_use", {}).get("web_search_requests", 0) > 0
        for ln in assistants(lines)
        if ln.obj and isinstance(ln.msg().get("usage"), dict)
    )


def _of_type(kind: str) -> Callable[[list[Line]], bool]:
    return lambda lines: any(ln.obj and ln.obj.get("type") == kind for ln in lines)


def _error(kind: str) -> Callable[[list[Line]], bool]:
    return lambda lines: any(ln.error == kind for ln in lines)


def _raw(pattern: bytes) -> Callable[[list[Line]], bool]:
    return lambda lines: any(pattern in ln.raw for ln in lines)


def _microsecond(lines: list[Line]) -> bool:
    return any(ln.obj and MICROSECONDS.search(ln.obj.get("timestamp", "")) for ln in lines)


EDGE_CASES: dict[str, Callable[[list[Line]], bool]] = {
    "streaming_copies": _streaming,
    "resumed_copies": _resumed,
    "subagent_sidechains": _subagent_sidechains,
    "sidechain_replay": _sidechain_replay,
    "requestless": _requestless,
    "requestless_dup": _requestless_dup,
    "synthetic": _synthetic,
    "progress": _progress,
    "progress_only": _progress_only,
    "web_search": _web_search,
    "summary": _of_type("summary"),
    "system": _of_type("system"),
    "malformed_json": _error("malformed_json"),
    "invalid_utf8": _error("invalid_utf8"),
    "wrong_shape": _raw(b'"input_tokens":"ten"'),
    "spaced_usage": _raw(b'"usage": {'),
    "null_key": _raw(b'"cwd":null'),
    "microsecond_ts": _microsecond,
}


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    root = tmp_path_factory.mktemp("tiny")
    generate(root, 0.05, seed=23, start=START)
    return scan(root)


@pytest.mark.parametrize("kind", sorted(EDGE_CASES))
def test_edge_case_is_present(kind: str, edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Each duplicate and edge case of FORMATS §2 appears in a generated tree."""
    _, _, lines = edge_tree
    assert EDGE_CASES[kind](lines)


@pytest.mark.parametrize("kind", sorted(EDGE_CASES))
def test_edge_case_is_present_in_a_tiny_tree(kind: str, tiny_tree: list[Line]) -> None:
    """Even a 50 KB tree holds every edge case."""
    assert EDGE_CASES[kind](tiny_tree)


def test_every_subagent_file_has_a_meta_sidecar(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """agent-<id>.jsonl comes with agent-<id>.meta.json."""
    root, _, _ = edge_tree
    agents = list((root / "projects").rglob("subagents/agent-*.jsonl"))
    assert agents
    assert all(p.with_name(p.name.replace(".jsonl", ".meta.json")).is_file() for p in agents)


def test_bad_line_counts_match_the_tree(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Manifest.bad_lines counts each kind of bad line found on disk."""
    _, manifest, lines = edge_tree
    found = {
        "malformed_json": sum(ln.error == "malformed_json" for ln in lines),
        "invalid_utf8": sum(ln.error == "invalid_utf8" for ln in lines),
        "wrong_shape": sum(b'"input_tokens":"ten"' in ln.raw for ln in lines),
        "spaced_usage": sum(b'"usage": {' in ln.raw for ln in lines),
        "null_key": sum(b'"cwd":null' in ln.raw for ln in lines),
        "microsecond_ts": sum(bool(_microsecond([ln])) for ln in lines),
    }
    assert found == manifest.bad_lines


# --- ground truth -------------------------------------------------------------------------------


def test_expected_matches_an_independent_dedup(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Re-applying our dedup rule to the parsed tree gives exactly manifest.expected."""
    _, manifest, lines = edge_tree
    claimed = {
        r.key: (r.total, r.project, r.session, r.ts_ms, r.sidechain) for r in manifest.expected
    }
    assert reference_expected(lines) == claimed


def test_unreadable_lines_are_not_expected(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """No expected record carries the quirk of a line no reader can parse."""
    _, manifest, _ = edge_tree
    assert set() == {r.quirk for r in manifest.expected} & set(UNREADABLE_KINDS)


def test_synthetic_records_have_no_model(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """<synthetic> stubs are expected with model None and zero tokens."""
    _, manifest, _ = edge_tree
    stubs = [r for r in manifest.expected if r.model is None]
    assert stubs
    assert {0} == {r.total for r in stubs}


def test_quirks_name_what_ccusage_counts_differently(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """The ccusage divergences are tagged on the expected records."""
    _, manifest, _ = edge_tree
    quirks = {r.quirk for r in manifest.expected} - {""}
    expected = {
        "invalid_utf8",
        "spaced_usage",
        "null_key",
        "microsecond_ts",
        "requestless_dup",
        "sidechain_replay",
        "progress_only",
    }
    assert expected == quirks


def test_clean_tree_has_one_line_per_response(
    clean_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Without edge cases every assistant message.id is on exactly one line."""
    _, manifest, lines = clean_tree
    ids = [ln.msg()["id"] for ln in assistants(lines)]
    assert len(manifest.expected) == len(ids) == len(set(ids))


def test_clean_tree_has_no_progress_lines(clean_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Without edge cases there are no progress lines (the contract checks bad lines)."""
    _, _, lines = clean_tree
    assert 0 == sum(1 for ln in lines if ln.obj and ln.obj.get("type") == "progress")


def test_daily_row_uses_ccusage_field_names() -> None:
    """A day's row is ccusage's: input, output, both cache writes together, cache reads."""
    rec = ExpectedRecord(
        "msg_1", "req_1", 1777678200000, "claude-opus-4-6", "standard", "-p", "s", 1, 2, 3, 4, 5
    )
    manifest = Manifest(1, 1, 1, {}, [rec], {}, 0, 0)
    row = {"inputTokens": 1, "outputTokens": 2, "cacheCreationTokens": 7, "cacheReadTokens": 5}
    assert {"2026-05-01": row} == expected_daily_tokens(manifest)


# --- live appends -------------------------------------------------------------------------------


@pytest.fixture
def live_root(tmp_path: Path) -> Path:
    generate(tmp_path, 0.3, seed=9, start=START)
    return tmp_path


def test_append_live_appends_complete_lines(live_root: Path) -> None:
    """Appended lines end with a newline, parse as JSON, and leave old bytes untouched."""
    before = tree_bytes(live_root)
    append_live(live_root, random.Random(1), START)
    after = tree_bytes(live_root)
    [changed] = [k for k in after if before.get(k) != after[k]]  # exactly one file grew
    old, new = before.get(changed, b""), after[changed]
    added = new[len(old) :].split(b"\n")
    assert (old, b"") == (new[: len(old)], added[-1])
    assert all(isinstance(json.loads(raw), dict) for raw in added[:-1])


def test_append_live_returns_the_response_it_wrote(live_root: Path) -> None:
    """The returned record is the largest of the 1-3 lines written for that message.id."""
    (rec,) = append_live(live_root, random.Random(2), START)
    lines = [ln for ln in assistants(scan(live_root)) if ln.msg()["id"] == rec.message_id]
    outputs = [ln.msg()["usage"]["output_tokens"] for ln in lines]
    assert 1 <= len(lines) <= 3
    assert max(outputs) == rec.output


def test_append_live_never_stamps_the_future(live_root: Path) -> None:
    """Lines are stamped at or before now, the response within seconds of it."""
    (rec,) = append_live(live_root, random.Random(3), START)
    now_ms = ts_ms(START.isoformat())
    assert now_ms - 30_000 <= rec.ts_ms <= now_ms


def test_append_live_starts_a_session_in_an_empty_root(tmp_path: Path) -> None:
    """With no transcripts yet, append_live creates a new main session file."""
    (rec,) = append_live(tmp_path, random.Random(4), START)
    path = tmp_path / "projects" / rec.project / f"{rec.session}.jsonl"
    assert path.read_bytes().endswith(b"\n")


def test_quick_appends_to_a_session_keep_its_lines_in_time_order(tmp_path: Path) -> None:
    """Appends 3 s apart never stamp a prompt before the reply already in the file."""
    rng = random.Random(6)
    for i in range(8):
        append_live(tmp_path, rng, START + timedelta(seconds=3 * i))
    for path in (tmp_path / "projects").glob("*/*.jsonl"):
        lines = [json.loads(raw) for raw in path.read_bytes().splitlines()]
        stamps = [ln["timestamp"] for ln in lines if ln.get("type") in ("user", "assistant")]
        assert sorted(stamps) == stamps, path.name
