"""The parity harness's own rules: mapping ccusage's JSON, comparing rows, classifying."""

from __future__ import annotations

from typing import Any

from bench import paritycheck as parity

SONNET = "claude-sonnet-4-5-20250929"
DAY = "2026-05-02"
DAY_MS = 1_777_708_800_000
"""2026-05-02T08:00:00Z."""


def claude_daily(cost: float = 1.0, output: int = 20, models: tuple[str, ...] = (SONNET,)) -> Any:
    """A one-day ``claude daily --json`` report (ccusage's shape, which is also ours)."""
    row = {
        "date": DAY,
        "inputTokens": 10,
        "outputTokens": output,
        "cacheCreationTokens": 30,
        "cacheReadTokens": 40,
        "totalTokens": 80 + output,
        "totalCost": cost,
        "modelsUsed": list(models),
        "modelBreakdowns": [],
    }
    return {"daily": [row], "totals": {k: v for k, v in row.items() if k != "date"}}


def session(session_id: str, cost: float) -> dict[str, Any]:
    """A Gemini session row of one model (same shape in both tools)."""
    return {
        "sessionId": session_id,
        "inputTokens": 1,
        "outputTokens": 1,
        "cacheCreationTokens": 0,
        "cacheReadTokens": 0,
        "totalTokens": 2,
        "totalCost": cost,
        "modelsUsed": [],
        "modelBreakdowns": [],
    }


def diffs(ours: Any, theirs: Any, provider: str = "claude", kind: str = "daily") -> list[Any]:
    """Every difference between two raw reports, unclassified."""
    mine = parity.normalise(provider, kind, ours, ours=True)
    other = parity.normalise(provider, kind, theirs, ours=False)
    return parity.compare_reports(parity.Case("edge", "utc", provider, kind), mine, other)


def test_costs_closer_than_the_tolerance_are_equal() -> None:
    """Costs differing by less than $0.005 are no difference."""
    assert [] == diffs(claude_daily(cost=1.0), claude_daily(cost=1.0049))


def test_costs_at_the_tolerance_differ() -> None:
    """Costs differing by $0.005 or more are a difference, in the row and in the totals."""
    found = diffs(claude_daily(cost=1.0), claude_daily(cost=1.006))

    assert [(DAY, "totalCost"), (parity.TOTALS, "totalCost")] == [(d.row, d.field) for d in found]


def test_one_token_is_a_difference() -> None:
    """Token fields must be identical."""
    found = diffs(claude_daily(output=20), claude_daily(output=21))

    assert {"outputTokens", "totalTokens"} == {d.field for d in found if d.row == DAY}


def test_a_row_of_one_tool_only_is_a_difference() -> None:
    """A row ccusage has and we lack is reported as absent on our side."""
    ours = {"daily": [], "totals": claude_daily()["totals"]}

    found = diffs(ours, claude_daily())

    assert (DAY, "row", False, True) == (
        found[0].row,
        found[0].field,
        found[0].ours,
        found[0].ccusage,
    )


def test_models_used_in_another_order_is_an_order_difference() -> None:
    """The same models in another order differ only in ``modelsUsed order``."""
    found = diffs(claude_daily(models=("a", "b")), claude_daily(models=("b", "a")))

    assert ["modelsUsed order"] == [d.field for d in found]


def test_codex_fields_are_mapped_onto_ours() -> None:
    """ccusage's Codex ``costUSD``, ``reasoningOutputTokens`` and ``models`` map onto ours."""
    row = {
        "date": DAY,
        "inputTokens": 5,
        "cacheCreationTokens": 0,
        "cacheReadTokens": 7,
        "outputTokens": 9,
        "reasoningOutputTokens": 3,
        "totalTokens": 21,
        "costUSD": 0.25,
        "models": {"gpt-5.5": {"inputTokens": 5, "reasoningOutputTokens": 3, "isFallback": False}},
    }

    entry = parity.normalise("codex", "daily", {"daily": [row]}, ours=False)[DAY]

    assert (0.25, 3, 3) == (
        entry.cost,
        entry.tokens["reasoningTokens"],
        entry.models["gpt-5.5"].tokens["reasoningTokens"],
    )


def test_block_token_counts_are_mapped_onto_ours() -> None:
    """A block's ``tokenCounts`` and ``costUSD`` map onto our token fields and cost."""
    block: dict[str, Any] = {
        "id": "2026-05-02T07:00:00.000Z",
        "startTime": "2026-05-02T07:00:00.000Z",
        "endTime": "2026-05-02T12:00:00.000Z",
        "tokenCounts": {
            "inputTokens": 1,
            "outputTokens": 2,
            "cacheCreationInputTokens": 3,
            "cacheReadInputTokens": 4,
        },
        "totalTokens": 10,
        "costUSD": 0.5,
        "models": [SONNET],
    }

    entry = parity.normalise("claude", "blocks", {"blocks": [block]}, ours=False)[block["id"]]

    assert {"cacheCreationTokens": 3, "cacheReadTokens": 4} == {
        k: entry.tokens[k] for k in ("cacheCreationTokens", "cacheReadTokens")
    }


def test_a_listed_difference_explains_a_row_holding_its_record() -> None:
    """A requestless duplicate in the row makes a daily token difference expected."""
    marks = {("requestless_dup", "claude"): [parity.Mark(DAY_MS, "p/s")]}
    found = diffs(claude_daily(output=20), claude_daily(output=21))

    classified = parity.classify(found, parity.RULES, marks, parity.Context())

    assert {"requestless_dup"} == {d.rule for d in classified}


def test_a_listed_difference_without_its_record_is_unexpected() -> None:
    """With no requestless duplicate in the ground truth, the same difference is UNEXPECTED."""
    found = diffs(claude_daily(output=20), claude_daily(output=21))

    classified = parity.classify(found, parity.RULES, {}, parity.Context())

    assert not any(d.expected for d in classified)


def test_a_record_outside_the_date_range_explains_nothing() -> None:
    """A requestless duplicate before ``--since`` explains no difference of a daily report."""
    marks = {("requestless_dup", "claude"): [parity.Mark(DAY_MS, "p/s")]}
    found = diffs(claude_daily(output=20), claude_daily(output=21))

    classified = parity.classify(found, parity.RULES, marks, parity.Context(since="2026-05-03"))

    assert not any(d.expected for d in classified)


def test_a_session_record_outside_the_date_range_is_in_no_row() -> None:
    """ccusage drops a session's records dated before ``--since``: they count in no row."""
    mark = parity.Mark(DAY_MS, "p/s")

    found = parity.rows_of("session", mark, parity.Context(since="2026-05-03"))

    assert set() == found


def test_a_session_record_in_the_date_range_is_in_its_session_row() -> None:
    """A session's record dated in range counts in its session's row and the totals."""
    mark = parity.Mark(DAY_MS, "p/s")

    found = parity.rows_of("session", mark, parity.Context(since="2026-05-02"))

    assert {"p/s", parity.TOTALS} == found


def test_rows_in_another_order_are_a_row_order_difference() -> None:
    """The first position where the rows differ is reported, with the row each tool puts there."""
    ours = {"sessions": [session("a", 2.0), session("b", 1.0)]}
    theirs = {"sessions": [session("b", 1.0), session("a", 2.0)]}

    found = diffs(ours, theirs, provider="gemini", kind="session")

    assert [("#1", "row order", "a", "b")] == [(d.row, d.field, d.ours, d.ccusage) for d in found]


def test_session_rows_sorted_by_cost_are_expected_for_gemini() -> None:
    """Gemini sessions by cost where ccusage sorts by id: a listed difference."""
    ours = {"sessions": [session("a", 2.0), session("b", 1.0)]}
    theirs = {"sessions": [session("b", 1.0), session("a", 2.0)]}
    found = diffs(ours, theirs, provider="gemini", kind="session")

    classified = parity.classify(found, parity.RULES, {}, parity.Context())

    assert {"session_order"} == {d.rule for d in classified}


def test_gemini_daily_rows_in_another_order_are_unexpected() -> None:
    """Only Codex's daily report ignores ``--order``: a Gemini daily order difference is a bug."""
    case = parity.Case("edge", "tokyo", "gemini", "daily")
    moved = parity.Difference(case, "#1", parity.ROW_ORDER, "2026-05-03", "2026-05-01")

    classified = parity.classify([moved], parity.RULES, {}, parity.Context())

    assert not any(d.expected for d in classified)


def test_an_archived_copy_explains_only_the_twin_row() -> None:
    """The archived twin's row of a Codex session report is expected; another row is not."""
    marks = {("archived_copy", "codex"): [parity.Mark(DAY_MS, "rollout-x")]}
    case = parity.Case("edge", "utc", "codex", "session")
    twin = parity.Difference(case, "rollout-x", "row", False, True)
    other = parity.Difference(case, "rollout-y", "row", False, True)

    classified = parity.classify([twin, other], parity.RULES, marks, parity.Context())

    assert [True, False] == [d.expected for d in classified]


def test_a_rule_missing_from_the_readme_explains_nothing() -> None:
    """A rule applies only while README.md's table lists its case."""
    cases = ["order of `modelsUsed`"]

    assert ("models_order",) == tuple(r.name for r in parity.listed_rules(cases))


def test_readme_table_cases_are_read() -> None:
    """The first cells of README.md's deliberate-differences table are found."""
    assert any(case.startswith("requestless duplicates") for case in parity.readme_cases())
