"""The Codex CLI corpus generator: realism, edge cases, ground truth, rate limits.

What every generator promises (determinism, size, manifest, bad lines, daily sums, the command
line) is tested once for all three in test_corpus_contract.py.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.demo.corpus.codex import (
    LONG_CONTEXT_TOKENS,
    ExpectedRecord,
    Manifest,
    expected_daily_tokens,
    generate,
)

START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROLLOUT = re.compile(
    r"^rollout-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-"
    r"[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl$"
)
FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
Usage = tuple[int, int, int, int, int]


@dataclass(frozen=True)
class Line:
    """One line of the tree as an independent reader sees it."""

    folder: str  # "sessions" or "archived_sessions"
    rel: str  # path under the folder, POSIX
    idx: int
    raw: bytes
    obj: dict[str, Any] | None  # None when the line is not JSON

    @property
    def payload(self) -> dict[str, Any]:
        assert self.obj is not None
        return self.obj["payload"]

    @property
    def is_count(self) -> bool:
        return (
            self.obj is not None
            and self.obj.get("type") == "event_msg"
            and self.payload.get("type") == "token_count"
        )


def scan(root: Path) -> list[Line]:
    """Every line of every .jsonl under root, sessions/ first, each folder in path order."""
    out: list[Line] = []
    for folder in ("sessions", "archived_sessions"):
        base = root / folder
        for path in sorted(base.rglob("*.jsonl"), key=lambda p: p.relative_to(base).as_posix()):
            rel = path.relative_to(base).as_posix()
            for idx, raw in enumerate(path.read_bytes().split(b"\n")[:-1]):
                try:
                    obj = json.loads(raw)
                except ValueError:
                    obj = None
                out.append(Line(folder, rel, idx, raw, obj))
    return out


def by_file(lines: list[Line]) -> dict[tuple[str, str], list[Line]]:
    files: dict[tuple[str, str], list[Line]] = {}
    for ln in lines:
        files.setdefault((ln.folder, ln.rel), []).append(ln)
    return files


def ts_ms(ts: str) -> int:
    return (datetime.fromisoformat(ts) - EPOCH) // timedelta(milliseconds=1)


# --- an independent reading of FORMATS §3.3 -----------------------------------------------------


def _usage(obj: dict[str, Any] | None) -> Usage | None:
    if obj is None:
        return None
    return (*(obj.get(f, 0) for f in FIELDS), obj.get("total_tokens", 0))  # type: ignore[return-value]


def file_events(lines: list[Line]) -> list[tuple[int, str, Usage, bool]]:
    """(ts, model, usage with cached capped, fallback) of one file's counted token_counts."""
    previous: Usage | None = None
    model: str | None = None
    events = []
    for ln in lines:
        if ln.obj is None:
            continue
        if ln.obj["type"] == "turn_context" and ln.payload.get("model"):
            model = ln.payload["model"]
        if not ln.is_count or ln.payload.get("info") is None:
            continue
        info = ln.payload["info"]
        total, last = _usage(info.get("total_token_usage")), _usage(info.get("last_token_usage"))
        advanced = total is None or total != previous
        if last is not None and advanced:
            raw = last
        else:
            assert total is not None
            raw = tuple(max(0, a - b) for a, b in zip(total, previous or (0,) * 5, strict=True))
        if total is not None:
            previous = total
        if not any(raw[:4]):
            continue
        inp, cached, out, reasoning, tot = raw
        usage = (inp, min(cached, inp), out, reasoning, tot)
        events.append((ts_ms(ln.obj["timestamp"]), model or "gpt-5", usage, model is None))
    return events


def reference_expected(lines: list[Line]) -> dict[tuple[Any, ...], tuple[str, bool, bool]]:
    """identity -> (session, archived, fallback) as ccusage 20.0.24 counts the tree."""
    files = by_file(lines)
    live = {rel for folder, rel in files if folder == "sessions"}
    readable = {k: v for k, v in files.items() if k[0] == "sessions" or k[1] not in live}
    ids: dict[str, tuple[str, str]] = {}
    for key, fl in readable.items():
        if fl[0].obj and fl[0].obj["type"] == "session_meta":
            ids.setdefault(fl[0].payload["id"], key)
    out: dict[tuple[Any, ...], tuple[str, bool, bool]] = {}
    for (folder, rel), fl in readable.items():
        events = file_events(fl)
        parent = _parent(fl[0])
        if parent:
            events = skip_replay(
                events, ts_ms(fl[0].obj["timestamp"]), readable.get(ids.get(parent, ("", "")))
            )  # type: ignore[index]
        for ts, model, usage, fallback in events:
            ident = (ts, model, usage[0], usage[1], usage[2], usage[3], usage[4])
            out.setdefault(ident, (rel.removesuffix(".jsonl"), folder != "sessions", fallback))
    return out


def skip_replay(
    events: list[tuple[int, str, Usage, bool]], forked_at: int, parent: list[Line] | None
) -> list[tuple[int, str, Usage, bool]]:
    """Drop a child's leading events that replay its parent's (or, parent missing, the burst)."""
    if parent is not None:
        prefix = [u for ts, _, u, _ in file_events(parent) if ts <= forked_at]
        i = 0
        while i < len(events) and i < len(prefix) and events[i][2] == prefix[i]:
            i += 1
        if i:
            return events[i:]
    if len(events) < 2 or not 0 <= events[1][0] - events[0][0] <= 1000:
        return events
    i = 1
    while i < len(events) and 0 <= events[i][0] - events[i - 1][0] <= 1000:
        i += 1
    return events[i:]


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


# --- time order ---------------------------------------------------------------------------------


def test_timestamps_never_go_back_within_a_file(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Within a file, line times never decrease."""
    _, _, lines = edge_tree
    for fl in by_file(lines).values():
        times = [ts_ms(ln.obj["timestamp"]) for ln in fl if ln.obj]
        assert times == sorted(times)


# --- realism ------------------------------------------------------------------------------------


def test_file_names_are_rollouts(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Every file is rollout-<time>-<uuidv7>.jsonl, live ones under YYYY/MM/DD."""
    root, _, _ = edge_tree
    live = [p.relative_to(root / "sessions") for p in (root / "sessions").rglob("*.jsonl")]
    names = [p.name for p in root.rglob("*.jsonl")]
    assert all(ROLLOUT.match(n) for n in names)
    assert all(len(p.parts) == 4 and p.parts[0] == "2026" for p in live)


def test_every_file_starts_with_session_meta(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """The first line of every file is its session_meta."""
    _, _, lines = edge_tree
    firsts = {fl[0].obj["type"] for fl in by_file(lines).values() if fl[0].obj}
    assert {"session_meta"} == firsts


def test_all_models_appear(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """gpt-5.3-codex, gpt-5.4, gpt-5.5, gpt-5-codex and gpt-5.6 (cache writes) are used, plus
    the gpt-5 fallback."""
    _, manifest, _ = edge_tree
    models = {r.model for r in manifest.expected}
    assert {"gpt-5.3-codex", "gpt-5.4", "gpt-5.5", "gpt-5-codex", "gpt-5.6", "gpt-5"} == models


def test_gpt_5_3_codex_is_the_most_used(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Most records are gpt-5.3-codex."""
    _, manifest, _ = edge_tree
    counts: dict[str, int] = {}
    for r in manifest.expected:
        counts[r.model] = counts.get(r.model, 0) + 1
    assert "gpt-5.3-codex" == max(counts, key=lambda m: counts[m])


def test_prompts_stay_under_200k_but_one(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Only the long_context record has a prompt of 200k tokens or more (and it is > 272k)."""
    _, manifest, _ = edge_tree
    big = [r for r in manifest.expected if r.prompt >= 200_000]
    assert ["long_context"] == [r.quirk for r in big]
    assert big[0].prompt > LONG_CONTEXT_TOKENS


def test_cache_reads_are_most_of_the_input(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Prompt caching: cached tokens are more than half of all input, as in real rollouts."""
    _, manifest, _ = edge_tree
    cached = sum(r.cached for r in manifest.expected)
    assert cached > sum(r.input for r in manifest.expected)


# --- edge cases ---------------------------------------------------------------------------------


def _counts(lines: list[Line]) -> list[Line]:
    return [ln for ln in lines if ln.is_count]


def _reemit(lines: list[Line]) -> bool:
    for fl in by_file(lines).values():
        infos = [ln.payload["info"] for ln in _counts(fl) if ln.payload["info"]]
        if any(a == b for a, b in itertools.pairwise(infos)):
            return True
    return False


def _rate_limit_only(lines: list[Line]) -> bool:
    return any(ln.payload["info"] is None and ln.payload["rate_limits"] for ln in _counts(lines))


def _legacy_totals(lines: list[Line]) -> bool:
    return any(
        (cs := [ln.payload["info"] for ln in _counts(fl) if ln.payload["info"]])
        and all("last_token_usage" not in info for info in cs)
        for fl in by_file(lines).values()
    )


def _no_model(lines: list[Line]) -> bool:
    return any(
        _counts(fl) and not any(ln.obj and "model" in ln.payload for ln in fl)
        for fl in by_file(lines).values()
    )


def _ids(lines: list[Line]) -> set[str]:
    return {ln.payload["id"] for ln in lines if ln.obj and ln.obj["type"] == "session_meta"}


def _parent(line: Line) -> str | None:
    """The thread a session_meta line forks from (forked_from_id or the spawning thread)."""
    source = line.payload.get("source")
    spawn = source.get("subagent", {}).get("thread_spawn", {}) if isinstance(source, dict) else {}
    return line.payload.get("forked_from_id") or spawn.get("parent_thread_id")


def _metas(lines: list[Line]) -> list[Line]:
    return [ln for ln in lines if ln.obj and ln.obj["type"] == "session_meta"]


def _child(field: str, known: bool) -> Callable[[list[Line]], bool]:
    def check(lines: list[Line]) -> bool:
        ids = _ids(lines)
        return any(
            (field in ln.raw.decode()) and ((_parent(ln) in ids) == known) for ln in _metas(lines)
        )

    return check


def _replays_parent(lines: list[Line]) -> bool:
    """A child's first token_counts are its parent's, stamped within one second."""
    files = by_file(lines)
    by_id = {fl[0].payload["id"]: fl for fl in files.values() if fl[0].obj}
    for fl in files.values():
        parent = by_id.get(_parent(fl[0]) or "")
        if parent is None:
            continue
        forked_at = ts_ms(fl[0].obj["timestamp"])  # type: ignore[index]
        theirs = [
            ln.payload
            for ln in _counts(parent)
            if ts_ms(ln.obj["timestamp"]) <= forked_at  # type: ignore[index]
        ]
        head = _counts(fl)[: len(theirs)]
        times = [ts_ms(ln.obj["timestamp"]) for ln in head]  # type: ignore[index]
        if theirs and [ln.payload for ln in head] == theirs and times[-1] - times[0] < 1000:
            return True
    return False


def _archived(lines: list[Line]) -> bool:
    live = {rel.rsplit("/", 1)[-1] for folder, rel in by_file(lines) if folder == "sessions"}
    return any(f == "archived_sessions" and rel not in live for f, rel in by_file(lines))


def _archived_copy(lines: list[Line]) -> bool:
    files = by_file(lines)
    live = {rel.rsplit("/", 1)[-1]: fl for (f, rel), fl in files.items() if f == "sessions"}
    return any(
        f == "archived_sessions"
        and "/" not in rel
        and rel in live
        and [ln.raw for ln in fl] == [ln.raw for ln in live[rel]]
        for (f, rel), fl in files.items()
    )


def _same_path(lines: list[Line]) -> bool:
    live = {rel for f, rel in by_file(lines) if f == "sessions"}
    return any(f == "archived_sessions" and rel in live for f, rel in by_file(lines))


def _resets_in_seconds(lines: list[Line]) -> bool:
    return any(
        "resets_in_seconds" in (ln.payload["rate_limits"] or {}).get("primary", {})
        for ln in _counts(lines)
    )


def _last(lines: list[Line]) -> list[dict[str, int]]:
    return [
        ln.payload["info"]["last_token_usage"]
        for ln in _counts(lines)
        if ln.payload["info"] and "last_token_usage" in ln.payload["info"]
    ]


def _weekly_only(lines: list[Line]) -> bool:
    return any(
        (limits := ln.payload.get("rate_limits"))
        and limits["primary"]["window_minutes"] == 10_080
        and limits.get("secondary") is None
        for ln in _counts(lines)
    )


def _cache_writes(lines: list[Line]) -> bool:
    return any(u.get("cache_write_input_tokens", 0) > 0 for u in _last(lines))


def _cached_over_input(lines: list[Line]) -> bool:
    return any(u["cached_input_tokens"] > u["input_tokens"] for u in _last(lines))


def _long_context(lines: list[Line]) -> bool:
    return any(u["input_tokens"] > LONG_CONTEXT_TOKENS for u in _last(lines))


def _of_type(kind: str) -> Callable[[list[Line]], bool]:
    return lambda lines: any(ln.obj and ln.obj["type"] == kind for ln in lines)


def _malformed(lines: list[Line]) -> bool:
    return any(ln.obj is None for ln in lines)


EDGE_CASES: dict[str, Callable[[list[Line]], bool]] = {
    "reemit": _reemit,
    "rate_limit_only": _rate_limit_only,
    "legacy_totals": _legacy_totals,
    "no_model": _no_model,
    "fork": _child("forked_from_id", True),
    "subagent": _child("thread_spawn", True),
    "orphan_fork": _child("thread_spawn", False),
    "replay": _replays_parent,
    "archived": _archived,
    "archived_copy": _archived_copy,
    "same_path_archive": _same_path,
    "resets_in_seconds": _resets_in_seconds,
    "cached_over_input": _cached_over_input,
    "cache_writes": _cache_writes,
    "weekly_only": _weekly_only,
    "long_context": _long_context,
    "compacted": _of_type("compacted"),
    "malformed_json": _malformed,
}


@pytest.mark.parametrize("kind", sorted(EDGE_CASES))
def test_edge_case_is_present(kind: str, edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Each edge case of FORMATS §3 appears in a generated tree."""
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


def test_expected_matches_an_independent_reading(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Re-deriving ccusage's per-turn deltas from the parsed tree gives manifest.expected."""
    _, manifest, lines = edge_tree
    claimed = {r.identity: (r.session, r.archived, r.fallback) for r in manifest.expected}
    assert reference_expected(lines) == claimed


def test_tiny_expected_matches_an_independent_reading(
    tiny_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """The independent reading agrees on a tiny tree too, where every edge case is dense."""
    _, manifest, lines = tiny_tree
    claimed = {r.identity: (r.session, r.archived, r.fallback) for r in manifest.expected}
    assert reference_expected(lines) == claimed


def test_totals_are_consistent(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """total = input (with cache) + output and reasoning <= output, for every record."""
    _, manifest, _ = edge_tree
    odd = [
        r
        for r in manifest.expected
        if r.total != r.prompt + r.output or not 0 <= r.reasoning <= r.output
    ]
    assert [] == odd


def test_cached_over_input_is_capped(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """A call logging more cached than input tokens is expected with all input cached."""
    _, manifest, lines = edge_tree
    over = set()
    for (folder, _), fl in by_file(lines).items():
        if folder == "archived_sessions" or _parent(fl[0]):
            continue  # copies and fork replays count nothing
        previous = None
        for ln in _counts(fl):
            info = ln.payload["info"]
            if info and info != previous and _cached_over_input([ln]):  # re-emits count nothing
                over.add((ts_ms(ln.obj["timestamp"]), info["last_token_usage"]["input_tokens"]))  # type: ignore[index]
            previous = info or previous
    capped = {(r.ts_ms, r.cached) for r in manifest.expected if r.input == 0}
    assert over and over <= capped


def test_fallback_records_are_gpt_5(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Records of a file that names no model are gpt-5, flagged as fallback."""
    _, manifest, _ = edge_tree
    fallback = {r.model for r in manifest.expected if r.fallback}
    assert {"gpt-5"} == fallback


def test_quirks_name_what_ccusage_counts_differently(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Only the long-context prompt and the archived copy's events carry a quirk."""
    _, manifest, _ = edge_tree
    assert {"", "long_context", "archived_copy"} == {r.quirk for r in manifest.expected}


def test_archived_sessions_are_expected_from_their_own_folder(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Records of an archived-only session name it relative to archived_sessions/."""
    _, manifest, _ = edge_tree
    sessions = {r.session for r in manifest.expected if r.archived}
    assert sessions and all(s.startswith("rollout-") for s in sessions)


def test_clean_tree_counts_every_token_count(
    clean_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """Without edge cases each token_count is one expected record carrying its last usage."""
    _, manifest, lines = clean_tree
    counts = _counts(lines)
    lasts = sorted(
        (ts_ms(ln.obj["timestamp"]), ln.payload["info"]["last_token_usage"]["total_tokens"])
        for ln in counts
        if ln.obj
    )
    assert lasts == sorted((r.ts_ms, r.total) for r in manifest.expected)


def test_clean_tree_has_no_edge_cases(clean_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Without edge cases there is nothing archived and no edge kind at all."""
    root, _, lines = clean_tree
    present = {k for k, check in EDGE_CASES.items() if check(lines)}
    assert (set(), False) == (present, (root / "archived_sessions").exists())


def test_daily_row_uses_ccusage_field_names() -> None:
    """A day's row is `ccusage codex daily`'s, with plain input, cache writes and reasoning
    apart."""
    rec = ExpectedRecord(1777678200000, "gpt-5.6", "s", 10, 70, 5, 2, 105, cache_write=20)
    manifest = Manifest(1, 1, 1, {}, [rec], [], {}, 0, 0)
    row = {
        "inputTokens": 10,
        "cacheCreationTokens": 20,
        "cacheReadTokens": 70,
        "outputTokens": 5,
        "reasoningOutputTokens": 2,
        "totalTokens": 105,
    }
    assert {"2026-05-01": row} == expected_daily_tokens(manifest)


# --- rate limits --------------------------------------------------------------------------------


def reference_limits(lines: list[Line]) -> dict[str, tuple[float, int, float]]:
    """window -> (used_percent, window_minutes, resets_at) of the latest readable line."""
    live = {rel for f, rel in by_file(lines) if f == "sessions"}
    best: dict[str, tuple[int, tuple[float, int, float]]] = {}
    for ln in _counts(lines):
        if ln.folder == "archived_sessions" and ln.rel in live:
            continue
        limits = ln.payload.get("rate_limits") or {}
        ts = ts_ms(ln.obj["timestamp"])  # type: ignore[index]
        for position in ("primary", "secondary"):
            w = limits.get(position)
            if not w:
                continue
            name = {300: "primary", 10_080: "secondary"}[w["window_minutes"]]  # by length
            reset = w["resets_at"] if "resets_at" in w else ts / 1000 + w["resets_in_seconds"]
            if name not in best or ts > best[name][0]:
                best[name] = (ts, (w["used_percent"], w["window_minutes"], float(reset)))
    return {name: value for name, (_, value) in best.items()}


def test_limits_are_the_latest_per_window(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Manifest.limits holds the latest rate_limits value of each window."""
    _, manifest, lines = edge_tree
    claimed = {w.window: (w.used_percent, w.window_minutes, w.resets_at) for w in manifest.limits}
    assert reference_limits(lines) == claimed


def test_limits_are_primary_five_hours_then_weekly(
    edge_tree: tuple[Path, Manifest, list[Line]],
) -> None:
    """The windows are primary (300 min) and secondary (10080 min), resetting in the future."""
    _, manifest, _ = edge_tree
    shape = [(w.window, w.window_minutes) for w in manifest.limits]
    assert [("primary", 300), ("secondary", 10_080)] == shape
    assert all(w.resets_at * 1000 > w.ts_ms for w in manifest.limits)


def test_used_percent_stays_within_bounds(edge_tree: tuple[Path, Manifest, list[Line]]) -> None:
    """Every used_percent in the tree is between 0 and 100."""
    _, _, lines = edge_tree
    used = [
        w["used_percent"]
        for ln in _counts(lines)
        for w in ((ln.payload.get("rate_limits") or {}).get(n) for n in ("primary", "secondary"))
        if w
    ]
    assert used and all(0 <= u <= 100 for u in used)
