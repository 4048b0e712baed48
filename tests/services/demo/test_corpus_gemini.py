"""The Gemini CLI corpus generator: realism, edge cases, ground truth, side files.

What every generator promises (determinism, size, manifest, bad lines, daily sums, the command
line) is tested once for all three in test_corpus_contract.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.demo.corpus.gemini import (
    LONG_CONTEXT_TOKENS,
    ExpectedRecord,
    Manifest,
    expected_daily_tokens,
    generate,
)

START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAIN_NAME = re.compile(r"^session-\d{4}-\d\d-\d\dT\d\d-\d\d-[0-9a-f]{8}\.jsonl?$")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
SUB_NAME = re.compile(rf"^{UUID}/{UUID}\.jsonl$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Line:
    """One line of a JSONL chat (or one message of a legacy chat) as a reader sees it."""

    rel: str  # path under tmp/, POSIX
    idx: int
    raw: bytes
    obj: dict[str, Any] | None  # None when the line is not JSON

    @property
    def project(self) -> str:
        return self.rel.split("/")[0]

    @property
    def legacy(self) -> bool:
        return self.rel.endswith(".json")

    @property
    def subagent(self) -> bool:
        return bool(SUB_NAME.match(self.rel.split("/chats/", 1)[1]))


def chat_files(root: Path) -> list[Path]:
    """Every chat file under root/tmp (logs.json excluded), in path order."""
    tmp = root / "tmp"
    paths = [p for p in tmp.rglob("*.json*") if "/chats/" in p.as_posix()]
    return sorted(paths, key=lambda p: p.relative_to(tmp).as_posix())


def scan(root: Path) -> list[Line]:
    """Every JSONL line and every legacy message under root/tmp, in path order."""
    tmp = root / "tmp"
    out: list[Line] = []
    for path in chat_files(root):
        rel = path.relative_to(tmp).as_posix()
        data = path.read_bytes()
        if rel.endswith(".json"):
            doc = json.loads(data)
            meta = {k: v for k, v in doc.items() if k != "messages"}
            out.append(Line(rel, 0, b"", meta))
            out += [Line(rel, i + 1, b"", m) for i, m in enumerate(doc["messages"])]
            continue
        for idx, raw in enumerate(data.split(b"\n")[:-1]):
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            out.append(Line(rel, idx, raw, obj))
    return out


def by_file(lines: list[Line]) -> dict[str, list[Line]]:
    files: dict[str, list[Line]] = {}
    for ln in lines:
        files.setdefault(ln.rel, []).append(ln)
    return files


def ts_ms(ts: str) -> int:
    return (datetime.fromisoformat(ts) - EPOCH) // timedelta(milliseconds=1)


# --- an independent reading of FORMATS §4.3 -----------------------------------------------------


def normalise(tokens: dict[str, int]) -> tuple[int, int, int, int, int]:
    """(input, cache_read, output, reasoning, total) as ccusage 20.0.24 reads a chat record."""
    inp, out, cached = tokens["input"], tokens["output"], tokens["cached"]
    thoughts, tool, total = tokens["thoughts"], tokens["tool"], tokens.get("total")
    inclusive = inp + out + thoughts + tool
    nc = inp - min(inp, cached) if cached > 0 and total == inclusive else inp
    if total is None:
        total = nc + tool + out + cached + thoughts
    return nc + tool, cached, out, thoughts, total


def reference_expected(lines: list[Line]) -> dict[str, tuple[Any, ...]]:
    """session/id -> (ts, model, project, tokens...) of every counted response, last copy wins."""
    out: dict[str, tuple[Any, ...]] = {}
    for rel, fl in by_file(lines).items():
        session = Path(rel).stem
        model = None
        for ln in fl:
            if ln.obj is None:
                continue
            session = ln.obj.get("sessionId", session)
            model = ln.obj.get("model", model)
            if ln.obj.get("type") != "gemini" or "tokens" not in ln.obj:
                continue
            ts = ts_ms(ln.obj["timestamp"])
            value = (ts, model, ln.project, *normalise(ln.obj["tokens"]))
            out[f"{session}/{ln.obj['id']}"] = value
    return out


# --- fixtures -----------------------------------------------------------------------------------


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


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest, list[Line]]:
    root = tmp_path_factory.mktemp("tiny")
    manifest = generate(root, 0.05, seed=23, start=START)
    return root, manifest, scan(root)


# --- realism ------------------------------------------------------------------------------------


def test_chat_files_are_named_as_gemini_cli_names_them(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Main chats are session-<time>-<8 of id>.json(l); subagents <parent>/<id>.jsonl."""
    root, _, _ = edge_tree
    tails = [
        p.relative_to(root / "tmp").as_posix().split("/chats/", 1)[1] for p in chat_files(root)
    ]
    assert all(MAIN_NAME.match(t) or SUB_NAME.match(t) for t in tails)


def test_main_chat_names_carry_the_session_id(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """The 8 characters in a main chat's name start its sessionId."""
    _, _, lines = edge_tree
    firsts = [fl[0] for rel, fl in by_file(lines).items() if MAIN_NAME.match(Path(rel).name)]
    assert firsts
    assert all(Path(ln.rel).stem[-8:] == ln.obj["sessionId"][:8] for ln in firsts if ln.obj)


def test_all_models_appear(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """gemini-2.5-pro, gemini-2.5-flash and gemini-3-pro-preview are all used."""
    _, manifest, _ = edge_tree
    models = {r.model for r in manifest.expected}
    assert {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview"} == models


def test_prompts_stay_under_200k_but_one(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Only the long_context record has a prompt over 200k tokens."""
    _, manifest, _ = edge_tree
    big = [r.quirk for r in manifest.expected if r.input + r.cache_read > LONG_CONTEXT_TOKENS]
    assert ["long_context"] == big


def test_some_responses_think(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Most responses report thought tokens, and their total includes them."""
    _, manifest, _ = edge_tree
    thinking = [r for r in manifest.expected if r.reasoning > 0]
    assert len(thinking) > len(manifest.expected) / 2


def test_logs_json_holds_the_main_prompts(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Each project's logs.json lists its main chats' user prompts, and nothing else."""
    root, _, lines = edge_tree
    prompts = {
        (ln.project, ln.obj["timestamp"])
        for ln in lines
        if ln.obj and ln.obj.get("type") == "user" and not ln.subagent
    }
    logged = {
        (p.parent.name, entry["timestamp"])
        for p in (root / "tmp").glob("*/logs.json")
        for entry in json.loads(p.read_text())
        if entry["type"] == "user"
    }
    assert prompts == logged


def test_projects_json_maps_paths_to_slug_dirs(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """projects.json maps each slugged project's path to a directory under tmp/."""
    root, _, _ = edge_tree
    projects = json.loads((root / "projects.json").read_text())["projects"]
    assert projects and all((root / "tmp" / slug).is_dir() for slug in projects.values())


def test_project_hash_is_sha256_of_the_path(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """A hashed project dir is the projectHash its chats carry."""
    _, _, lines = edge_tree
    pairs = {
        (ln.project, ln.obj["projectHash"]) for ln in lines if ln.obj and "projectHash" in ln.obj
    }
    hashed = [(p, h) for p, h in pairs if HEX64.match(p)]
    assert hashed and all(p == h for p, h in hashed)


def test_slug_projects_hash_their_path(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """The projectHash of a slugged project is sha256 of the path projects.json gives it."""
    root, _, lines = edge_tree
    projects = json.loads((root / "projects.json").read_text())["projects"]
    want = {slug: hashlib.sha256(path.encode()).hexdigest() for path, slug in projects.items()}
    pairs = {
        (ln.project, ln.obj["projectHash"]) for ln in lines if ln.obj and "projectHash" in ln.obj
    }
    assert all(want[p] == h for p, h in pairs if p in want)


# --- edge cases ---------------------------------------------------------------------------------


def _gemini(lines: list[Line]) -> list[Line]:
    return [ln for ln in lines if ln.obj and ln.obj.get("type") == "gemini"]


def _reappend(lines: list[Line]) -> bool:
    seen: set[tuple[str, str]] = set()
    for ln in _gemini(lines):
        key = (ln.rel, ln.obj["id"])  # type: ignore[index]
        if key in seen:
            return True
        seen.add(key)
    return False


def _key(name: str) -> Callable[[list[Line]], bool]:
    return lambda lines: any(ln.obj and name in ln.obj for ln in lines)


def _info(lines: list[Line]) -> bool:
    return any(ln.obj and ln.obj.get("type") == "info" for ln in lines)


def _legacy(lines: list[Line]) -> bool:
    return any(ln.legacy and ln.obj and ln.obj.get("type") == "gemini" for ln in lines)


def _subagent(lines: list[Line]) -> bool:
    return any(ln.subagent and ln.obj and ln.obj.get("kind") == "subagent" for ln in lines)


def _hash_project(lines: list[Line]) -> bool:
    return any(HEX64.match(ln.project) for ln in lines)


def _tokens(check: Callable[[dict[str, int]], bool]) -> Callable[[list[Line]], bool]:
    return lambda lines: any(
        "tokens" in ln.obj and check(ln.obj["tokens"])  # type: ignore[operator,index]
        for ln in _gemini(lines)
    )


def _malformed(lines: list[Line]) -> bool:
    return any(ln.obj is None for ln in lines)


EDGE_CASES: dict[str, Callable[[list[Line]], bool]] = {
    "reappend": _reappend,
    "set": _key("$set"),
    "rewind": _key("$rewindTo"),
    "info": _info,
    "legacy_json": _legacy,
    "subagent": _subagent,
    "hash_project": _hash_project,
    "no_total": _tokens(lambda t: "total" not in t and t["cached"] > 0),
    "long_context": _tokens(lambda t: t["input"] > LONG_CONTEXT_TOKENS),
    "tool_tokens": _tokens(lambda t: t["tool"] > 0),
    "malformed_json": _malformed,
}


@pytest.mark.parametrize("kind", sorted(EDGE_CASES))
def test_edge_case_is_present(kind: str, edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Each edge case of FORMATS §4 appears in a generated tree."""
    _, _, lines = edge_tree
    assert EDGE_CASES[kind](lines)


@pytest.mark.parametrize("kind", sorted(EDGE_CASES))
def test_edge_case_is_present_in_a_tiny_tree(
    kind: str, tiny_tree: tuple[Path, Manifest, list[Line]]
) -> None:
    """Even a 50 KB request holds every edge case."""
    _, _, lines = tiny_tree
    assert EDGE_CASES[kind](lines)


# --- ground truth -------------------------------------------------------------------------------


def _claimed(manifest: Manifest) -> dict[str, tuple[Any, ...]]:
    return {
        r.key: (
            r.ts_ms,
            r.model,
            r.project,
            r.input,
            r.cache_read,
            r.output,
            r.reasoning,
            r.total,
        )
        for r in manifest.expected
    }


def test_expected_matches_an_independent_reading(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Re-reading the parsed tree as ccusage does gives exactly manifest.expected."""
    _, manifest, lines = edge_tree
    assert reference_expected(lines) == _claimed(manifest)


def test_tiny_expected_matches_an_independent_reading(
    tiny_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """The independent reading agrees on a tiny tree too, where every edge case is dense."""
    _, manifest, lines = tiny_tree
    assert reference_expected(lines) == _claimed(manifest)


def test_logged_totals_are_consistent(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Every logged total is input + output + thoughts + tool (input including cached)."""
    _, _, lines = edge_tree
    tokens = [ln.obj["tokens"] for ln in _gemini(lines) if "tokens" in ln.obj]  # type: ignore[index,operator]
    odd = [
        t
        for t in tokens
        if "total" in t and t["total"] != t["input"] + t["output"] + t["thoughts"] + t["tool"]
    ]
    assert tokens and [] == odd


def test_expected_totals_are_the_billed_sum(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """input + cache_read + output + reasoning is each expected record's total."""
    _, manifest, _ = edge_tree
    assert [] == [r for r in manifest.expected if r.billed != r.total]


def test_no_total_counts_the_cache_twice(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """A record without total keeps the whole prompt as input, cache included (as ccusage)."""
    _, manifest, _ = edge_tree
    quirky = [r for r in manifest.expected if r.quirk == "no_total"]
    assert quirky and all(r.input == r.prompt + r.tool and r.cache_read > 0 for r in quirky)


def test_quirks_name_what_ccusage_counts_differently(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Only the record without total and the >200k prompt carry a quirk."""
    _, manifest, _ = edge_tree
    assert {"", "no_total", "long_context"} == {r.quirk for r in manifest.expected}


def test_subagent_and_legacy_records_are_flagged(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Records from subagent chats and legacy JSON chats say so."""
    _, manifest, _ = edge_tree
    assert any(r.subagent for r in manifest.expected)
    assert any(r.legacy for r in manifest.expected)


def test_clean_tree_has_one_line_per_response(
    clean_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Without edge cases every gemini message is on exactly one line, with its tokens."""
    _, manifest, lines = clean_tree
    ids = [ln.obj["id"] for ln in _gemini(lines) if "tokens" in ln.obj]  # type: ignore[index,operator]
    assert len(manifest.expected) == len(ids) == len(set(ids)) == len(_gemini(lines))


def test_clean_tree_has_no_edge_cases(clean_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Without edge cases no edge kind is present except the $set bookkeeping lines."""
    _, _, lines = clean_tree
    present = {k for k, check in EDGE_CASES.items() if check(lines)}
    assert {"set"} == present


def test_daily_row_uses_ccusage_field_names() -> None:
    """A day's row is `ccusage gemini daily`'s: input, cache reads, output, logged total."""
    rec = ExpectedRecord("m", 1777678200000, "gemini-2.5-pro", "p", "s", 10, 90, 5, 2, 107, 100, 0)
    manifest = Manifest(1, 1, 1, {}, [rec], {}, 0, 0)
    row = {"inputTokens": 10, "cacheReadTokens": 90, "outputTokens": 5, "totalTokens": 107}
    assert {"2026-05-01": row} == expected_daily_tokens(manifest)
