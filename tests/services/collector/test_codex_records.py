"""How Codex log lines become usage records: deltas, models, keys, limits, forks, skips."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bus.messages import UsageRecord
from services.collector.codex.records import Usage, dedup_key, parse_stamp, parse_usage
from services.collector.codex.turns import (
    FileParser,
    ParserState,
    decode_state,
    encode_state,
    usage_second,
)

SESSION = "2026/05/01/rollout-2026-05-01T10-00-00-019e0000-0000-7000-8000-000000000001"
CWD = "/home/u/proj"


def line(obj: dict[str, Any]) -> bytes:
    """One compact JSON line, as Codex writes them, newline included."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def meta(ts: str = "2026-05-01T10:00:00.000Z", **payload: Any) -> bytes:
    """A ``session_meta`` line (a session's first line)."""
    body: dict[str, Any] = {
        "id": "019e0000-0000-7000-8000-000000000001",
        "timestamp": ts,
        "cwd": CWD,
        "originator": "codex_cli_rs",
        "cli_version": "0.130.0",
        "source": "cli",
        "model_provider": "openai",
    }
    body.update(payload)
    return line({"timestamp": ts, "type": "session_meta", "payload": body})


def turn(model: str | None = "gpt-5.3-codex", ts: str = "2026-05-01T10:00:01.000Z") -> bytes:
    """A ``turn_context`` line naming ``model``."""
    payload: dict[str, Any] = {"turn_id": "t1", "cwd": CWD, "effort": "medium"}
    if model is not None:
        payload["model"] = model
    return line({"timestamp": ts, "type": "turn_context", "payload": payload})


def usage(
    input_tokens: int, cached: int, output: int, reasoning: int = 0, total: int | None = None
) -> dict[str, int]:
    """A token-usage object; ``total`` defaults to input + output as Codex logs it."""
    return {
        "input_tokens": input_tokens,
        "cached_input_tokens": cached,
        "output_tokens": output,
        "reasoning_output_tokens": reasoning,
        "total_tokens": input_tokens + output if total is None else total,
    }


def tokens(
    ts: Any = "2026-05-01T10:00:10.000Z",
    total: dict[str, Any] | None = None,
    last: dict[str, Any] | None = None,
    rate_limits: dict[str, Any] | None = None,
    **payload: Any,
) -> bytes:
    """An ``event_msg``/``token_count`` line; no ``total`` and no ``last`` gives ``info:null``."""
    info: dict[str, Any] | None = None
    if total is not None or last is not None:
        info = {"model_context_window": 258400}
        if total is not None:
            info["total_token_usage"] = total
        if last is not None:
            info["last_token_usage"] = last
    body: dict[str, Any] = {"type": "token_count", "info": info}
    if rate_limits is not None:
        body["rate_limits"] = rate_limits
    body.update(payload)
    return line({"timestamp": ts, "type": "event_msg", "payload": body})


def peek_in(lines: Sequence[bytes]) -> Any:
    """A ``peek`` over ``lines``, as the reader gives one over the file."""
    starts = [sum(len(x) for x in lines[:i]) for i in range(len(lines))]

    def peek(offset: int) -> int | None:
        seconds = (usage_second(x) for at, x in zip(starts, lines, strict=True) if at >= offset)
        return next((s for s in seconds if s is not None), None)

    return peek


def parse(lines: Sequence[bytes], parser: FileParser | None = None, **options: Any) -> FileParser:
    """Feed ``lines`` (a whole file, in order) to a parser that can look ahead in them."""
    options.setdefault("peek", peek_in(lines))
    parser = parser or FileParser(session=SESSION, **options)
    offset = 0
    for raw in lines:
        assert parser.feed(raw.rstrip(b"\n"), offset, offset + len(raw))
        offset += len(raw)
    return parser


def records(*lines: bytes, **options: Any) -> list[UsageRecord]:
    """The records a whole file gives."""
    return parse(lines, **options).records


def counts(rec: UsageRecord) -> tuple[int, int, int, int, int | None]:
    """``(input, cache_read, output, reasoning, total)`` of a record."""
    return rec.input, rec.cache_read, rec.output, rec.reasoning, rec.total


FIRST = usage(10000, 8000, 500, 200)
SECOND_TOTAL = usage(22000, 18000, 900, 300)
SECOND_LAST = usage(12000, 10000, 400, 100)


# -- per-turn deltas -----------------------------------------------------------------------


def test_last_usage_is_the_turn_when_totals_advance() -> None:
    """With advancing totals, each event counts its ``last_token_usage``."""
    recs = records(
        meta(),
        turn(),
        tokens("2026-05-01T10:00:10.000Z", total=FIRST, last=FIRST),
        tokens("2026-05-01T10:01:00.000Z", total=SECOND_TOTAL, last=SECOND_LAST),
    )
    expected = [(2000, 8000, 500, 200, 10500), (2000, 10000, 400, 100, 12400)]
    assert expected == [counts(r) for r in recs]


def test_identical_re_emit_is_dropped() -> None:
    """The same totals logged again (with the same last usage) count nothing."""
    recs = records(
        meta(),
        turn(),
        tokens("2026-05-01T10:00:10.000Z", total=FIRST, last=FIRST),
        tokens("2026-05-01T10:00:11.000Z", total=FIRST, last=FIRST),
    )
    expected = 1
    assert expected == len(recs)


def test_totals_only_legacy_file_yields_deltas() -> None:
    """Without ``last_token_usage`` each event counts the growth of the totals."""
    recs = records(
        meta(),
        turn(),
        tokens("2026-05-01T10:00:10.000Z", total=FIRST),
        tokens("2026-05-01T10:01:00.000Z", total=SECOND_TOTAL),
    )
    expected = [(2000, 8000, 500, 200, 10500), (2000, 10000, 400, 100, 12400)]
    assert expected == [counts(r) for r in recs]


def test_totals_that_go_backwards_count_nothing() -> None:
    """Deltas saturate at zero: a counter reset gives no negative tokens."""
    recs = records(
        meta(),
        turn(),
        tokens("2026-05-01T10:00:10.000Z", total=SECOND_TOTAL),
        tokens("2026-05-01T10:01:00.000Z", total=FIRST),
    )
    expected = 1
    assert expected == len(recs)


def test_last_only_events_count_each_time() -> None:
    """Without totals nothing tells a repeat apart, so each ``last_token_usage`` counts."""
    recs = records(
        meta(),
        turn(),
        tokens("2026-05-01T10:00:10.000Z", last=FIRST),
        tokens("2026-05-01T10:00:11.000Z", last=FIRST),
    )
    expected = 2
    assert expected == len(recs)


def test_all_zero_event_is_skipped() -> None:
    """An event with no input, cached, output or reasoning tokens gives no record."""
    recs = records(meta(), turn(), tokens(last=usage(0, 0, 0, 0, total=7)))
    expected: list[UsageRecord] = []
    assert expected == recs


def test_cached_input_is_capped_at_input() -> None:
    """More cached than input tokens is read as all input cached."""
    recs = records(meta(), turn(), tokens(last=usage(100, 250, 10)))
    expected = [(0, 100, 10, 0, 110)]
    assert expected == [counts(r) for r in recs]


def test_zero_total_is_recomputed_as_input_plus_output() -> None:
    """A logged ``total_tokens`` of 0 with non-zero parts becomes input + output."""
    recs = records(meta(), turn(), tokens(last=usage(100, 0, 10, 5, total=0)))
    expected = [110]
    assert expected == [r.total for r in recs]


def test_missing_total_is_recomputed() -> None:
    """A usage object without ``total_tokens`` gets input + output."""
    last = {"input_tokens": 100, "output_tokens": 20}
    expected = [120]
    assert expected == [r.total for r in records(meta(), turn(), tokens(last=last))]


def test_usage_synonyms_are_read() -> None:
    """``prompt_tokens``/``cached_tokens``/``completion_tokens``/``reasoning_tokens`` count."""
    parsed = parse_usage(
        {"prompt_tokens": 50, "cached_tokens": 20, "completion_tokens": 7, "reasoning_tokens": 3}
    )
    expected = Usage(50, 20, 7, 3, 57)
    assert expected == parsed


def test_count_given_as_digits_string_is_read() -> None:
    """A count written as a string of digits is read, as ccusage reads it."""
    expected = Usage(12, 0, 0, 0, 12)
    assert expected == parse_usage({"input_tokens": "12"})


def test_negative_or_fractional_counts_are_absent() -> None:
    """A count that is not a non-negative integer counts as 0 (the next synonym may apply)."""
    parsed = parse_usage({"input_tokens": -5, "prompt_tokens": 9, "output_tokens": 1.5})
    expected = Usage(9, 0, 0, 0, 9)
    assert expected == parsed


# -- record fields -------------------------------------------------------------------------


def test_record_fields_follow_the_mapping() -> None:
    """Provider, session, project (cwd), time and model are set; input is non-cached."""
    rec = records(meta(), turn(), tokens(total=FIRST, last=FIRST))[0]
    fields = (rec.provider, rec.session, rec.project, rec.ts_ms, rec.model, rec.speed)
    expected = ("codex", SESSION, CWD, 1777629610000, "gpt-5.3-codex", None)
    assert expected == fields


def test_record_without_cache_write_field_has_no_cache_writes() -> None:
    """A log without ``cache_write_input_tokens`` (Codex before late 2026) gives no writes."""
    rec = records(meta(), turn(), tokens(last=FIRST))[0]
    expected = (0, 0)
    assert expected == (rec.cache_write_5m, rec.cache_write_1h)


def written(input_tokens: int, cached: int, writes: Any, output: int = 10) -> dict[str, Any]:
    """A token-usage object with ``cache_write_input_tokens`` (late-2026 Codex)."""
    return usage(input_tokens, cached, output) | {"cache_write_input_tokens": writes}


def cache_counts(rec: UsageRecord) -> tuple[int, int, int, int | None]:
    """``(input, cache_read, cache_write_5m, total)`` of a record."""
    return rec.input, rec.cache_read, rec.cache_write_5m, rec.total


def test_cache_writes_are_taken_out_of_input() -> None:
    """10000 input with 8000 cached and 1000 written: 1000 plain input, as ccusage counts it."""
    rec = records(meta(), turn(), tokens(last=written(10000, 8000, 1000, 500)))[0]
    expected = (1000, 8000, 1000, 10500)
    assert expected == cache_counts(rec)


def test_cache_writes_are_capped_at_the_uncached_input() -> None:
    """500 written with only 200 uncached input tokens counts 200 writes (ccusage, probed)."""
    rec = records(meta(), turn(), tokens(last=written(1000, 800, 500)))[0]
    expected = (0, 800, 200, 1010)
    assert expected == cache_counts(rec)


def test_cache_writes_of_running_totals_are_deltas() -> None:
    """Totals-only events count the growth of the writes too: 300, then 400."""
    recs = records(
        meta(),
        turn(),
        tokens("2026-05-01T10:00:10.000Z", total=written(1000, 0, 300)),
        tokens("2026-05-01T10:00:20.000Z", total=written(3000, 1000, 700, 30)),
    )
    expected = [(700, 0, 300, 1010), (600, 1000, 400, 2020)]
    assert expected == [cache_counts(r) for r in recs]


def test_cache_creation_synonym_is_read() -> None:
    """``cache_creation_input_tokens`` counts as cache writes, as ccusage reads it."""
    last = usage(1000, 0, 10) | {"cache_creation_input_tokens": 100}
    rec = records(meta(), turn(), tokens(last=last))[0]
    expected = (900, 0, 100, 1010)
    assert expected == cache_counts(rec)


def test_cache_writes_given_as_digits_string_are_read() -> None:
    """A write count written as a string of digits is read, like every Codex count."""
    rec = records(meta(), turn(), tokens(last=written(1000, 0, "200")))[0]
    expected = 200
    assert expected == rec.cache_write_5m


def test_cache_writes_do_not_change_keys_of_older_logs() -> None:
    """The key hashes the five counts, so a log without writes keys exactly as before."""
    parsed = parse_usage(FIRST)
    expected = dedup_key("2026-05-01T10:00:10.000Z", "gpt-5", Usage(*parsed[:5]))
    assert expected == dedup_key("2026-05-01T10:00:10.000Z", "gpt-5", parsed)


def test_five_count_totals_of_an_older_cursor_still_load() -> None:
    """Running totals saved before cache writes were read (five counts) resume the deltas."""
    parser = FileParser(session=SESSION, state=ParserState(totals=tuple(FIRST.values())))
    recs = records(tokens(total=written(11000, 8000, 500, 600)), parser=parser)
    expected = [(500, 0, 500, 1100)]
    assert expected == [cache_counts(r) for r in recs]


def test_output_includes_reasoning() -> None:
    """``output`` is billed output (reasoning included); ``reasoning`` is informational."""
    rec = records(meta(), turn(), tokens(last=usage(10, 0, 500, 200)))[0]
    expected = (500, 200)
    assert expected == (rec.output, rec.reasoning)


def test_project_is_unknown_without_session_meta() -> None:
    """A log whose first line names no cwd gives project ``unknown``."""
    first_turn = line({"type": "turn_context", "payload": {"model": "gpt-5"}})
    rec = records(first_turn, tokens(last=FIRST))[0]
    expected = "unknown"
    assert expected == rec.project


def test_project_falls_back_to_turn_context_cwd() -> None:
    """Without a ``session_meta`` cwd, the first ``turn_context`` cwd is the project."""
    rec = records(turn(), tokens(last=FIRST))[0]
    expected = CWD
    assert expected == rec.project


# -- models --------------------------------------------------------------------------------


def test_turn_context_model_applies_to_later_events() -> None:
    """Events without a model get the model of the last ``turn_context``."""
    recs = records(
        meta(),
        turn("gpt-5.4"),
        tokens("2026-05-01T10:00:10.000Z", last=FIRST),
        turn("gpt-5.5", ts="2026-05-01T10:00:20.000Z"),
        tokens("2026-05-01T10:00:30.000Z", last=FIRST),
    )
    expected = ["gpt-5.4", "gpt-5.5"]
    assert expected == [r.model for r in recs]


def test_payload_model_wins_over_turn_context() -> None:
    """A model named on the event itself is used."""
    recs = records(meta(), turn("gpt-5.4"), tokens(last=FIRST, model="gpt-5.2-codex"))
    expected = ["gpt-5.2-codex"]
    assert expected == [r.model for r in recs]


def test_info_model_is_used() -> None:
    """``info.model_name`` names the model when the payload does not."""
    raw = json.loads(tokens(last=FIRST))
    raw["payload"]["info"]["model_name"] = "gpt-5.1-codex"
    recs = records(meta(), line(raw))
    expected = ["gpt-5.1-codex"]
    assert expected == [r.model for r in recs]


def test_metadata_model_is_used() -> None:
    """``payload.metadata.model`` names the model too."""
    recs = records(meta(), tokens(last=FIRST, metadata={"model": "gpt-5-codex"}))
    expected = ["gpt-5-codex"]
    assert expected == [r.model for r in recs]


def test_no_model_falls_back_to_gpt_5_and_is_counted() -> None:
    """Usage no line names a model for is ``gpt-5`` and counted as a fallback."""
    parser = parse([meta(), tokens(last=FIRST)])
    expected = (["gpt-5"], 1)
    assert expected == ([r.model for r in parser.records], parser.fallback_models)


def test_fallback_model_sticks_until_a_turn_context() -> None:
    """Later unnamed events stay fallbacks; a turn_context ends that."""
    parser = parse(
        [
            meta(),
            tokens("2026-05-01T10:00:10.000Z", last=FIRST),
            tokens("2026-05-01T10:00:11.000Z", last=FIRST),
            turn("gpt-5.4", ts="2026-05-01T10:00:12.000Z"),
            tokens("2026-05-01T10:00:13.000Z", last=FIRST),
        ]
    )
    expected = (["gpt-5", "gpt-5", "gpt-5.4"], 2)
    assert expected == ([r.model for r in parser.records], parser.fallback_models)


def test_named_model_is_not_a_fallback() -> None:
    """A known model counts no fallback."""
    expected = 0
    assert expected == parse([meta(), turn(), tokens(last=FIRST)]).fallback_models


def test_auto_review_maps_to_newest_model_by_date() -> None:
    """``codex-auto-review`` resolves to the newest model released on or before the date."""
    dates = ["2026-04-23", "2026-04-22", "2026-02-05", "2025-12-11", "2025-11-20", "2025-09-01"]
    recs = records(
        meta(),
        turn("codex-auto-review"),
        *(tokens(f"{d}T10:00:00.000Z", last=FIRST) for d in dates),
    )
    expected = ["gpt-5.5", "gpt-5.4", "gpt-5.3-codex", "gpt-5.2-codex", "gpt-5.1-codex", "gpt-5"]
    assert expected == [r.model for r in recs]


# -- keys ----------------------------------------------------------------------------------


def test_key_is_the_same_for_the_same_event_in_another_file() -> None:
    """Two files holding the same event give the same key (the store keeps one)."""
    one = records(meta(), turn(), tokens(total=FIRST, last=FIRST))
    other = FileParser(session="archived")
    two = records(meta(cwd="/elsewhere"), turn(), tokens(total=FIRST, last=FIRST), parser=other)
    expected = [r.key for r in one]
    assert expected == [r.key for r in two]


def test_key_hashes_ccusages_duplicate_tuple() -> None:
    """The key is built from timestamp text, model and the five counts."""
    rec = records(meta(), turn(), tokens(last=FIRST))[0]
    expected = dedup_key("2026-05-01T10:00:10.000Z", "gpt-5.3-codex", Usage(*FIRST.values()))
    assert expected == rec.key


def test_key_differs_when_the_time_differs() -> None:
    """Equal usage at another time is another event."""
    recs = records(
        meta(),
        turn(),
        tokens("2026-05-01T10:00:10.000Z", last=FIRST),
        tokens("2026-05-01T10:00:11.000Z", last=FIRST),
    )
    expected = 2
    assert expected == len({r.key for r in recs})


def test_key_starts_with_codex() -> None:
    """Keys are namespaced by provider."""
    rec = records(meta(), turn(), tokens(last=FIRST))[0]
    assert rec.key.startswith("codex:")


# -- timestamps ----------------------------------------------------------------------------


def test_numeric_timestamp_in_milliseconds() -> None:
    """A number above 1e10 is epoch milliseconds."""
    recs = records(meta(), turn(), tokens(1777629610123, last=FIRST))
    expected = [1777629610123]
    assert expected == [r.ts_ms for r in recs]


def test_numeric_timestamp_in_seconds() -> None:
    """A number up to 1e10 is epoch seconds."""
    recs = records(meta(), turn(), tokens(1777629610, last=FIRST))
    expected = [1777629610000]
    assert expected == [r.ts_ms for r in recs]


def test_numeric_timestamp_is_keyed_in_normalised_form() -> None:
    """Numeric timestamps key as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, as ccusage normalises them."""
    expected = "2026-05-01T10:00:10.123Z"
    assert expected == parse_stamp(1777629610123).text  # type: ignore[union-attr]


def test_offset_timestamp_is_read() -> None:
    """``+HH:MM`` offsets are converted to UTC."""
    recs = records(meta(), turn(), tokens("2026-05-01T12:00:10.000+02:00", last=FIRST))
    expected = [1777629610000]
    assert expected == [r.ts_ms for r in recs]


def test_unparsable_timestamp_skips_the_line_as_wrong_shape() -> None:
    """A microsecond timestamp (which ccusage rejects) is counted and its line skipped."""
    parser = parse([meta(), turn(), tokens("2026-05-01T10:00:10.123456Z", last=FIRST)])
    expected = (0, 1)
    assert expected == (len(parser.records), parser.skipped.wrong_shape)


def test_unparsable_timestamp_does_not_move_the_totals() -> None:
    """The totals of a skipped line are counted by the next good one instead."""
    recs = records(
        meta(),
        turn(),
        tokens("not a time", total=FIRST),
        tokens("2026-05-01T10:01:00.000Z", total=SECOND_TOTAL),
    )
    expected = [(4000, 18000, 900, 300, 22900)]
    assert expected == [counts(r) for r in recs]


def test_missing_timestamp_is_wrong_shape() -> None:
    """A token_count without a timestamp is counted and skipped."""
    raw = json.loads(tokens(last=FIRST))
    del raw["timestamp"]
    parser = parse([meta(), turn(), line(raw)])
    expected = (0, 1)
    assert expected == (len(parser.records), parser.skipped.wrong_shape)


# -- rate limits ---------------------------------------------------------------------------

LIMITS = {
    "limit_id": "codex",
    "limit_name": None,
    "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_at": 1777640000},
    "secondary": {"used_percent": 3.0, "window_minutes": 10080, "resets_at": 1778200000},
    "credits": {"has_credits": False, "unlimited": False, "balance": None},
    "plan_type": "plus",
}


def test_rate_limits_become_limit_windows() -> None:
    """Primary and secondary windows with their percent, length and reset time."""
    parser = parse([meta(), tokens("2026-05-01T10:00:02.000Z", rate_limits=LIMITS)])
    got = [
        (w.window, w.used_percent, w.window_seconds, w.resets_at, w.observed_at)
        for w in parser.limits
    ]
    expected = [
        ("primary", 12.0, 18000, 1777640000.0, 1777629602.0),
        ("secondary", 3.0, 604800, 1778200000.0, 1777629602.0),
    ]
    assert expected == got


def test_rate_limits_are_local_official_codex_windows() -> None:
    """The windows carry the provider, the source and the limit family."""
    window = parse([meta(), tokens(rate_limits=LIMITS)]).limits[0]
    expected = ("codex", "local-official", {"limit_id": "codex", "plan_type": "plus"})
    assert expected == (window.provider, window.source, json.loads(window.detail))


def test_resets_in_seconds_is_relative_to_the_line() -> None:
    """Older builds' ``resets_in_seconds`` is added to the line's timestamp."""
    old = {"primary": {"used_percent": 50, "window_minutes": 300, "resets_in_seconds": 600}}
    parser = parse([meta(), tokens("2026-05-01T10:00:02.500Z", rate_limits=old)])
    expected = [1777629602.5 + 600]
    assert expected == [w.resets_at for w in parser.limits]


def test_only_the_last_observation_per_window_is_kept() -> None:
    """A later line replaces an earlier reading of the same window."""
    later = {"primary": {"used_percent": 40.0, "window_minutes": 300, "resets_at": 1777640000}}
    parser = parse(
        [
            meta(),
            tokens("2026-05-01T10:00:02.000Z", rate_limits={"primary": LIMITS["primary"]}),
            tokens("2026-05-01T10:00:09.000Z", rate_limits=later),
        ]
    )
    expected = [40.0]
    assert expected == [w.used_percent for w in parser.limits]


def test_windows_from_different_lines_are_all_kept() -> None:
    """A primary-only reading and a later secondary-only one both survive."""
    parser = parse(
        [
            meta(),
            tokens("2026-05-01T10:00:02.000Z", rate_limits={"primary": LIMITS["primary"]}),
            tokens("2026-05-01T10:00:09.000Z", rate_limits={"secondary": LIMITS["secondary"]}),
        ]
    )
    expected = ["primary", "secondary"]
    assert expected == [w.window for w in parser.limits]


def test_window_without_percent_is_left_out() -> None:
    """A window whose ``used_percent`` is not a number gives nothing."""
    broken = {"primary": {"used_percent": "12", "window_minutes": 300}}
    expected: list[Any] = []
    assert expected == parse([meta(), tokens(rate_limits=broken)]).limits


WEEKLY_ONLY = {
    "limit_id": "codex",
    "primary": {"used_percent": 41.0, "window_minutes": 10080, "resets_at": 1778200000},
    "secondary": None,
    "plan_type": "plus",
}


def test_weekly_window_in_primary_is_named_weekly() -> None:
    """A weekly-only plan's 7-day window in ``primary`` is named ``secondary`` (weekly)."""
    parser = parse([meta(), tokens(rate_limits=WEEKLY_ONLY)])
    expected = [("secondary", 41.0, 604800)]
    assert expected == [(w.window, w.used_percent, w.window_seconds) for w in parser.limits]


def test_five_hour_reading_survives_a_later_weekly_only_one() -> None:
    """A 5-hour ``primary`` and a later weekly ``primary`` of the same family are two windows."""
    five_hour = {**WEEKLY_ONLY, "primary": LIMITS["primary"]}
    parser = parse(
        [
            meta(),
            tokens("2026-05-01T10:00:02.000Z", rate_limits=five_hour),
            tokens("2026-05-01T10:00:09.000Z", rate_limits=WEEKLY_ONLY),
        ]
    )
    expected = [("primary", 12.0), ("secondary", 41.0)]
    assert expected == [(w.window, w.used_percent) for w in parser.limits]


def test_window_without_length_is_named_by_position() -> None:
    """A ``primary`` with no ``window_minutes`` keeps the name ``primary``."""
    bare = {"primary": {"used_percent": 7.0, "resets_at": 1777640000}}
    expected = [("primary", None)]
    got = [(w.window, w.window_seconds) for w in parse([meta(), tokens(rate_limits=bare)]).limits]
    assert expected == got


def test_window_of_unknown_length_is_named_by_position() -> None:
    """A ``secondary`` of a length other than 5 hours or a week keeps the name ``secondary``."""
    daily = {"secondary": {"used_percent": 9.0, "window_minutes": 1440}}
    expected = [("secondary", 86400)]
    got = [(w.window, w.window_seconds) for w in parse([meta(), tokens(rate_limits=daily)]).limits]
    assert expected == got


# -- forked sessions -----------------------------------------------------------------------

FORK_TS = "2026-05-01T11:00:00.000Z"
PARENT_ID = "019e0000-0000-7000-8000-00000000aaaa"


def fork_meta(**payload: Any) -> bytes:
    """A child's first line: forked from ``PARENT_ID`` at ``FORK_TS``."""
    payload.setdefault("forked_from_id", PARENT_ID)
    return meta(FORK_TS, id="019e0000-0000-7000-8000-00000000bbbb", **payload)


def replayed(ms: int, total: dict[str, int], last: dict[str, int]) -> bytes:
    """A replayed parent token_count, restamped into the fork's second."""
    return tokens(f"2026-05-01T11:00:00.{ms:03d}Z", total=total, last=last)


OWN_TOTAL = usage(30000, 25000, 1000, 400)
OWN_LAST = usage(8000, 7000, 100, 100)


def fork_lines() -> list[bytes]:
    """A child that replays two parent events, then records one turn of its own."""
    return [
        fork_meta(),
        turn(ts=FORK_TS),
        replayed(1, FIRST, FIRST),
        replayed(2, SECOND_TOTAL, SECOND_LAST),
        tokens("2026-05-01T11:00:07.000Z", total=OWN_TOTAL, last=OWN_LAST),
    ]


def parent_of(*events: dict[str, int]) -> Any:
    """A ``parent_usage`` callback giving ``events`` for ``PARENT_ID`` (and recording calls)."""
    calls: list[tuple[str, int | None]] = []

    def lookup(parent_id: str, forked_at_ms: int | None) -> Sequence[Usage]:
        calls.append((parent_id, forked_at_ms))
        return [Usage(*e.values()) for e in events] if parent_id == PARENT_ID else []

    lookup.calls = calls  # type: ignore[attr-defined]
    return lookup


def test_fork_replay_is_skipped_by_matching_the_parent() -> None:
    """Leading events equal to the parent's stream are skipped; the child's own turn counts."""
    recs = records(*fork_lines(), parent_usage=parent_of(FIRST, SECOND_LAST))
    expected = [(1000, 7000, 100, 100, 8100)]
    assert expected == [counts(r) for r in recs]


def test_parent_is_asked_with_the_fork_time() -> None:
    """The parent stream is requested by id, cut at the child's first-line timestamp."""
    lookup = parent_of(FIRST, SECOND_LAST)
    records(*fork_lines(), parent_usage=lookup)
    expected = (PARENT_ID, 1777633200000)
    assert expected == lookup.calls[0]


def test_parent_matching_stops_at_the_first_difference() -> None:
    """After a partial match, the first differing event and all later ones count."""
    recs = records(*fork_lines(), parent_usage=parent_of(FIRST, usage(1, 0, 1)))
    expected = 2
    assert expected == len(recs)


def test_same_second_burst_is_skipped_without_a_parent() -> None:
    """No parent log: the leading events sharing the first one's second are skipped."""
    recs = records(*fork_lines())
    expected = [(1000, 7000, 100, 100, 8100)]
    assert expected == [counts(r) for r in recs]


def test_subagent_spawn_is_a_fork() -> None:
    """``source.subagent.thread_spawn.parent_thread_id`` marks a replaying child too."""
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": PARENT_ID, "depth": 1}}}
    lines = fork_lines()
    lines[0] = meta(FORK_TS, source=spawn)
    expected = 1
    assert expected == len(records(*lines))


def test_no_burst_when_first_events_are_seconds_apart() -> None:
    """A fork whose first two usage lines are in different seconds replayed nothing."""
    lines = [
        fork_meta(),
        turn(ts=FORK_TS),
        tokens("2026-05-01T11:00:00.500Z", total=FIRST, last=FIRST),
        tokens("2026-05-01T11:00:06.000Z", total=SECOND_TOTAL, last=SECOND_LAST),
    ]
    expected = 2
    assert expected == len(records(*lines))


def test_replay_skipping_never_restarts() -> None:
    """Once past the burst, an event in the fork's second again still counts."""
    lines = [*fork_lines(), tokens("2026-05-01T11:00:07.100Z", total=usage(40000, 30000, 1100))]
    expected = 2
    assert expected == len(records(*lines))


def test_skipped_replay_still_moves_the_totals() -> None:
    """A totals-only child's own first turn is the growth beyond the replayed totals."""
    lines = [
        fork_meta(),
        turn(ts=FORK_TS),
        tokens("2026-05-01T11:00:00.001Z", total=FIRST),
        tokens("2026-05-01T11:00:00.002Z", total=SECOND_TOTAL),
        tokens("2026-05-01T11:00:09.000Z", total=OWN_TOTAL),
    ]
    expected = [(1000, 7000, 100, 100, 8100)]
    assert expected == [counts(r) for r in records(*lines)]


def test_replayed_lines_give_no_rate_limits() -> None:
    """Rate limits copied with the parent's history are not the child's observations."""
    lines = fork_lines()
    lines[2] = tokens("2026-05-01T11:00:00.001Z", total=FIRST, last=FIRST, rate_limits=LIMITS)
    expected: list[Any] = []
    assert expected == parse(lines).limits


def test_undecided_burst_defers_the_line() -> None:
    """With one replayed line and a fresh file, the parser stops in front of that line."""
    parser = FileParser(session=SESSION, idle=False, peek=lambda offset: None)
    lines = fork_lines()[:3]
    parse(lines[:2], parser)
    start = len(lines[0]) + len(lines[1])
    consumed = parser.feed(lines[2].rstrip(b"\n"), start, start + len(lines[2]))
    expected = (False, 0, None)
    assert expected == (consumed, len(parser.records), parser.state.totals)


def test_undecided_burst_in_an_idle_file_counts() -> None:
    """A fork that wrote a single usage line long ago replayed nothing: it counts."""
    expected = 1
    assert expected == len(records(*fork_lines()[:3], idle=True))


def test_peek_decides_the_burst() -> None:
    """A second usage line found by looking ahead decides the burst."""
    lines = fork_lines()[:3]
    parser = parse(lines, idle=False, peek=lambda offset: 1777633200)
    expected = 0
    assert expected == len(parser.records)


def test_later_session_meta_lines_are_ignored() -> None:
    """Ancestors' metas copied into a fork do not change its project or fork state."""
    recs = records(meta(), meta(cwd="/other", forked_from_id=PARENT_ID), turn(), tokens(last=FIRST))
    expected = [CWD]
    assert expected == [r.project for r in recs]


# -- codex exec --json ---------------------------------------------------------------------


def test_exec_json_turn_is_counted() -> None:
    """A ``turn.completed`` line with per-turn usage counts as one event."""
    exec_line = line(
        {
            "type": "turn.completed",
            "timestamp": "2026-05-01T10:00:05.000Z",
            "model": "gpt-5.4",
            "usage": {"input_tokens": 900, "cached_input_tokens": 600, "output_tokens": 30},
        }
    )
    rec = records(exec_line)[0]
    expected = ("gpt-5.4", (300, 600, 30, 0, 930))
    assert expected == (rec.model, counts(rec))


def test_exec_json_without_timestamp_uses_the_files_mtime() -> None:
    """A timestamp-less exec line is dated by the file's modification time."""
    exec_line = line({"type": "turn.completed", "usage": {"input_tokens": 9, "output_tokens": 1}})
    parser = parse([exec_line], mtime_ms=1777629610000)
    expected = ([1777629610000], "2026-05-01T10:00:10.000Z")
    assert expected == ([r.ts_ms for r in parser.records], parser.state.headless_stamp)


# -- skipped lines -------------------------------------------------------------------------


def test_malformed_token_count_is_counted() -> None:
    """A truncated token_count line is counted as malformed JSON; later lines still count."""
    broken = tokens(last=FIRST)[:-30] + b"\n"
    parser = parse([meta(), turn(), broken, tokens("2026-05-01T10:00:20.000Z", last=FIRST)])
    expected = (1, 1)
    assert expected == (parser.skipped.malformed_json, len(parser.records))


def test_invalid_utf8_is_counted() -> None:
    """A token_count line with a broken byte is counted as invalid UTF-8."""
    bad = tokens(last=FIRST, model="gpt-5").replace(b"gpt-5", b"gpt-\xff")
    parser = parse([meta(), bad])
    expected = (1, 0)
    assert expected == (parser.skipped.invalid_utf8, len(parser.records))


def test_info_of_the_wrong_type_is_wrong_shape() -> None:
    """``info`` that is not an object is counted as wrong shape."""
    raw = json.loads(tokens(last=FIRST))
    raw["payload"]["info"] = [1, 2]
    expected = 1
    assert expected == parse([meta(), line(raw)]).skipped.wrong_shape


def test_broken_line_merely_mentioning_a_marker_is_not_counted() -> None:
    """Truncated tool output that quotes the word token_count is not a usage line."""
    noise = b'{"type":"response_item","payload":{"text":"grep token_count src/"\n'
    expected = 0
    assert expected == parse([meta(), noise]).skipped.total


# -- state ---------------------------------------------------------------------------------


def test_fresh_state_encodes_to_nothing() -> None:
    """A cursor of a file with no state yet carries empty bytes."""
    expected = b""
    assert expected == encode_state(ParserState())


def test_state_round_trips() -> None:
    """Encoded state decodes to the same values."""
    state = parse([meta(), turn(), tokens(total=FIRST, last=FIRST)]).state
    expected = state
    assert expected == decode_state(encode_state(state))


def test_garbage_state_does_not_decode() -> None:
    """Unreadable state bytes are reported as ``None`` (the file is then read again)."""
    assert decode_state(b"\xc1garbage") is None
