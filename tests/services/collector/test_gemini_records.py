"""Gemini CLI lines and documents into usage records, counted as ccusage 20.0.24 counts them."""

from __future__ import annotations

import json
from typing import Any

from bus.messages import UsageRecord
from services.collector.gemini.records import (
    UNKNOWN_MODEL,
    ChatParser,
    Collected,
    Tokens,
    Usage,
    normalize,
    parse_document,
    parse_tokens,
)

PROJECT = "my-project"
STEM = "session-2026-05-01T11-07-aaaa1111"
SESSION = "aaaa1111-2222-3333-4444-555566667777"
MODEL = "gemini-2.5-pro"
TS = "2026-05-01T11:07:32.000Z"
TS_MS = 1_777_633_652_000
MTIME_MS = 1_700_000_000_000

# The FORMATS.md section 7 probe: input 15327 / cached 11526 / tool 7 / total inclusive.
PROBE = {"input": 15327, "output": 23, "cached": 11526, "thoughts": 919, "tool": 7, "total": 16276}


def dumps(obj: Any) -> bytes:
    """Compact JSON, as Gemini CLI writes it."""
    return json.dumps(obj, separators=(",", ":")).encode()


def meta_line(session: str = SESSION) -> bytes:
    """The metadata line that opens a JSONL chat."""
    return dumps(
        {
            "sessionId": session,
            "projectHash": "9f86d0",
            "startTime": "2026-05-01T11:07:00.000Z",
            "lastUpdated": "2026-05-01T11:07:00.000Z",
            "kind": "main",
        }
    )


def gemini_line(
    msg_id: str | None = "g1", tokens: dict[str, Any] | None = None, **fields: Any
) -> bytes:
    """A model message; ``tokens=None`` is the first copy, written before its tokens arrive."""
    entry: dict[str, Any] = {"timestamp": TS, "type": "gemini", "content": [{"text": "hi"}]}
    if msg_id is not None:
        entry["id"] = msg_id
    entry["model"] = MODEL
    if tokens is not None:
        entry["tokens"] = tokens
    entry.update(fields)
    return dumps({k: v for k, v in entry.items() if v is not None})


def feed(*lines: bytes, collected: Collected | None = None) -> Collected:
    """Feed lines to a fresh parser for a file whose stem is ``STEM``."""
    collected = Collected(PROJECT) if collected is None else collected
    parser = ChatParser(collected, STEM, fallback_ms=MTIME_MS)
    offset = 0
    for line in lines:
        parser.feed(line, offset)
        offset += len(line) + 1
    return collected


def records(collected: Collected) -> list[UsageRecord]:
    """The records collected, in order."""
    return list(collected.records.values())


def only(collected: Collected) -> UsageRecord:
    """The one record collected."""
    (record,) = collected.records.values()
    return record


def counts(usage: Usage | UsageRecord | None) -> tuple[int, int, int, int, int | None]:
    """(input, output, cache_read, reasoning, total) of a usage or record."""
    assert usage is not None
    return (usage.input, usage.output, usage.cache_read, usage.reasoning, usage.total)


# -- normalisation -----------------------------------------------------------------------------


def test_probe_inclusive_total_subtracts_cache_from_input() -> None:
    """The FORMATS probe: input 3808 (15327 - 11526 + 7), cache read 11526, output 23 + 919."""
    expected = (3808, 23, 11526, 919, 16276)
    assert expected == counts(normalize(parse_tokens(PROBE)))


def test_record_without_total_double_counts_cache() -> None:
    """Without ``total``, input is taken as excluding the cache, as ccusage does."""
    tokens = {k: v for k, v in PROBE.items() if k != "total"}
    expected = (15334, 23, 11526, 919, 15334 + 23 + 11526 + 919)
    assert expected == counts(normalize(parse_tokens(tokens)))


def test_total_not_matching_the_inclusive_sum_keeps_input() -> None:
    """A total that does not prove input includes the cache leaves input as logged."""
    tokens = dict(PROBE, total=PROBE["total"] + PROBE["cached"])
    expected = 15327 + 7
    assert expected == counts(normalize(parse_tokens(tokens)))[0]


def test_no_cache_keeps_input() -> None:
    """With ``cached`` 0 nothing is subtracted."""
    tokens = {"input": 100, "output": 10, "cached": 0, "thoughts": 0, "tool": 0, "total": 110}
    expected = (100, 10, 0, 0, 110)
    assert expected == counts(normalize(parse_tokens(tokens)))


def test_unexplained_remainder_goes_to_reasoning_when_output_is_set() -> None:
    """Total above the parts: the remainder is billed as extra (reasoning) tokens."""
    expected = (100, 10, 0, 40, 150)
    assert expected == counts(normalize(Tokens(input=100, output=10, total=150)))


def test_unexplained_remainder_goes_to_output_when_output_is_zero() -> None:
    """Total above the parts with no output: the remainder becomes output."""
    expected = (100, 50, 0, 0, 150)
    assert expected == counts(normalize(Tokens(input=100, total=150)))


def test_total_alone_becomes_output() -> None:
    """A record with only a total is all output (ccusage's fallback)."""
    expected = (0, 654, 0, 0, 654)
    assert expected == counts(normalize(Tokens(total=654)))


def test_total_below_the_parts_is_raised_to_input_output_and_cache() -> None:
    """ccusage's totalTokens never drops below input + output + cache read."""
    expected = (100, 10, 0, 5, 110)
    assert expected == counts(normalize(Tokens(input=100, output=10, thoughts=5, total=0)))


def test_all_zero_counts_give_no_usage() -> None:
    """A response that used nothing is not a record."""
    assert normalize(Tokens(total=0)) is None


def test_stats_always_subtract_the_cache() -> None:
    """Headless stats subtract ``cached`` from the prompt even without a total."""
    expected = (600, 10, 400, 0, 1010)
    assert expected == counts(
        normalize(Tokens(input=1000, output=10, cached=400), always_subtract_cache=True)
    )


def test_token_aliases_are_read() -> None:
    """``prompt``/``candidates`` and ``*_tokens`` names are accepted, ``total_tokens`` too."""
    raw = {"prompt": 5, "candidates_tokens": 6, "cached_tokens": 1, "reasoning": 2}
    expected = Tokens(input=5, output=6, cached=1, thoughts=2, tool=3, total=9)
    assert expected == parse_tokens(raw | {"tool_tokens": 3, "total_tokens": 9})


def test_fractional_counts_are_truncated() -> None:
    """A float count is truncated toward zero."""
    expected = 12
    assert expected == parse_tokens({"input": 12.9}).input


def test_negative_counts_read_as_zero() -> None:
    """A negative count is 0."""
    expected = 0
    assert expected == parse_tokens({"output": -5}).output


def test_non_numeric_count_falls_through_to_the_next_alias() -> None:
    """A string under ``input`` is ignored and ``prompt`` is used."""
    expected = 7
    assert expected == parse_tokens({"input": "12", "prompt": 7}).input


def test_boolean_count_is_not_a_number() -> None:
    """``true`` is not a count."""
    expected = 0
    assert expected == parse_tokens({"input": True}).input


def test_non_numeric_total_is_absent() -> None:
    """A ``total`` that is not a number means no logged total."""
    assert parse_tokens({"input": 1, "total": "x", "total_tokens": 5}).total is None


# -- JSONL lines ---------------------------------------------------------------------------------


def test_probe_line_becomes_a_record() -> None:
    """The probe line is read into the counts ccusage reports."""
    expected = (3808, 23, 11526, 919, 16276)
    assert expected == counts(only(feed(meta_line(), gemini_line(tokens=PROBE))))


def test_record_carries_project_session_model_and_time() -> None:
    """Project from the path, session from the metadata line, model and time from the line."""
    record = only(feed(meta_line(), gemini_line(tokens=PROBE)))
    expected = ("gemini", PROJECT, SESSION, MODEL, TS_MS)
    assert expected == (
        record.provider,
        record.project,
        record.session,
        record.model,
        record.ts_ms,
    )


def test_key_is_session_and_message_id() -> None:
    """The key is ``gemini:<session>/<id>``."""
    expected = f"gemini:{SESSION}/g1"
    assert expected == only(feed(meta_line(), gemini_line(tokens=PROBE))).key


def test_revision_is_the_line_offset() -> None:
    """``revision`` is the byte offset of the line in its file."""
    expected = len(meta_line()) + 1
    assert expected == only(feed(meta_line(), gemini_line(tokens=PROBE))).revision


def test_first_copy_without_tokens_is_ignored() -> None:
    """A model message written before its tokens gives nothing."""
    assert [] == records(feed(meta_line(), gemini_line()))


def test_reappended_id_counts_once_with_the_last_tokens() -> None:
    """The same id appended again replaces the earlier copy (last wins)."""
    first = dict(PROBE, output=5, total=PROBE["total"] - 18)
    collected = feed(
        meta_line(), gemini_line(), gemini_line(tokens=first), gemini_line(tokens=PROBE)
    )
    expected = 23
    assert expected == only(collected).output


def test_session_defaults_to_the_file_stem() -> None:
    """Without a ``sessionId`` line the file stem is the session."""
    expected = STEM
    assert expected == only(feed(gemini_line(tokens=PROBE))).session


def test_snake_case_session_id_is_read() -> None:
    """``session_id`` names the session too."""
    expected = "s-snake"
    assert (
        expected == only(feed(dumps({"session_id": "s-snake"}), gemini_line(tokens=PROBE))).session
    )


def test_blank_session_id_is_ignored() -> None:
    """A blank ``sessionId`` does not replace the session."""
    expected = STEM
    assert expected == only(feed(meta_line("  "), gemini_line(tokens=PROBE))).session


def test_model_carries_over_from_an_earlier_line() -> None:
    """A message without ``model`` uses the last model seen."""
    expected = "gemini-2.5-flash"
    lines = (dumps({"model": "gemini-2.5-flash"}), gemini_line(tokens=PROBE, model=None))
    assert expected == only(feed(*lines)).model


def test_model_is_trimmed() -> None:
    """The model name is trimmed, as ccusage trims it."""
    expected = MODEL
    assert expected == only(feed(gemini_line(tokens=PROBE, model=f" {MODEL} "))).model


def test_record_without_any_model_is_counted_as_unknown() -> None:
    """No model anywhere: the record counts under ``unknown`` and is reported."""
    collected = feed(gemini_line(tokens=PROBE, model=None))
    expected = (UNKNOWN_MODEL, {only(collected).key})
    assert expected == (only(collected).model, collected.unknown_model)


def test_created_at_is_used_without_timestamp() -> None:
    """``created_at`` dates a message that has no ``timestamp``."""
    line = gemini_line(tokens=PROBE, timestamp=None, created_at=TS)
    expected = TS_MS
    assert expected == only(feed(line)).ts_ms


def test_microsecond_timestamp_falls_back_to_the_file_time() -> None:
    """A timestamp outside ccusage's strict format is replaced by the file's mtime."""
    collected = feed(gemini_line(tokens=PROBE, timestamp="2026-05-01T11:07:32.000123Z"))
    expected = (MTIME_MS, {only(collected).key})
    assert expected == (only(collected).ts_ms, collected.fallback_timestamp)


def test_set_and_rewind_lines_are_ignored() -> None:
    """``$set`` and ``$rewindTo`` change nothing: the rewound turn still counts."""
    lines = (
        gemini_line(tokens=PROBE),
        dumps({"$set": {"lastUpdated": TS}}),
        dumps({"$rewindTo": "g1"}),
    )
    expected = 1
    assert expected == len(records(feed(*lines)))


def test_user_line_is_not_a_record() -> None:
    """Only ``type:"gemini"`` lines are responses, whatever else they carry."""
    line = dumps({"id": "u1", "type": "user", "timestamp": TS, "tokens": PROBE})
    assert [] == records(feed(line))


def test_type_must_match_exactly() -> None:
    """A padded ``" gemini "`` is not the discriminator."""
    assert [] == records(feed(gemini_line(tokens=PROBE, type=" gemini ")))


def test_all_zero_tokens_give_no_record() -> None:
    """A response with zero counts is not a record."""
    zero = {"input": 0, "output": 0, "cached": 0, "thoughts": 0, "tool": 0, "total": 0}
    assert [] == records(feed(gemini_line(tokens=zero)))


def test_messages_without_id_are_kept_apart() -> None:
    """Two id-less responses are two records."""
    other = dict(PROBE, output=24, total=PROBE["total"] + 1)
    collected = feed(gemini_line(None, tokens=PROBE), gemini_line(None, tokens=other))
    expected = 2
    assert expected == len(records(collected))


def test_identical_idless_lines_collapse() -> None:
    """The same id-less line read twice has one key."""
    line = gemini_line(None, tokens=PROBE)
    expected = 1
    assert expected == len(records(feed(line, line)))


def test_malformed_line_is_reported() -> None:
    """Broken JSON is a ``malformed_json`` skip."""
    parser = ChatParser(Collected(PROJECT), STEM)
    expected = "malformed_json"
    assert expected == parser.feed(gemini_line(tokens=PROBE)[:-5], 0)


def test_non_object_line_is_reported() -> None:
    """A JSON value that is not an object is a ``wrong_shape`` skip."""
    parser = ChatParser(Collected(PROJECT), STEM)
    expected = "wrong_shape"
    assert expected == parser.feed(b"[1,2]", 0)


def test_tokens_that_are_not_an_object_are_reported() -> None:
    """``tokens`` of the wrong type is a ``wrong_shape`` skip."""
    parser = ChatParser(Collected(PROJECT), STEM)
    expected = "wrong_shape"
    assert expected == parser.feed(gemini_line(tokens=[1, 2]), 0)  # type: ignore[arg-type]


def test_invalid_utf8_in_a_read_field_is_reported() -> None:
    """A broken byte inside a field the parser reads is an ``invalid_utf8`` skip."""
    parser = ChatParser(Collected(PROJECT), STEM)
    line = gemini_line(tokens=PROBE).replace(MODEL.encode(), b"gemini-\xff")
    expected = "invalid_utf8"
    assert expected == parser.feed(line, 0)


def test_invalid_utf8_in_ignored_text_keeps_the_record() -> None:
    """A broken byte in the message text does not lose the tokens (ccusage reads it too)."""
    line = gemini_line(tokens=PROBE).replace(b'"hi"', b'"h\xffi"')
    expected = 1
    assert expected == len(records(feed(line)))


def test_oddly_typed_field_is_treated_as_absent() -> None:
    """A numeric ``model`` is ignored instead of rejecting the line."""
    lines = (dumps({"model": "gemini-2.5-flash"}), gemini_line(tokens=PROBE, model=5))
    expected = "gemini-2.5-flash"
    assert expected == only(feed(*lines)).model


def test_blank_line_is_not_a_skip() -> None:
    """An empty line is neither a record nor a skip."""
    parser = ChatParser(Collected(PROJECT), STEM)
    assert parser.feed(b"  ", 0) is None


def test_subagent_records_are_sidechain() -> None:
    """Records of a subagent chat are marked ``sidechain``."""
    assert only(
        feed(gemini_line(tokens=PROBE), collected=Collected(PROJECT, sidechain=True))
    ).sidechain


# -- headless stats ------------------------------------------------------------------------------

STATS = {
    "models": {
        "gemini-2.5-pro": {
            "tokens": {
                "prompt": 1000,
                "candidates": 10,
                "cached": 400,
                "thoughts": 5,
                "tool": 0,
                "total": 1015,
            }
        },
        "gemini-2.5-flash": {"tokens": {"prompt": 50, "candidates": 5, "total": 55}},
    }
}


def test_stats_line_gives_one_record_per_model() -> None:
    """``stats.models.<model>.tokens`` give a record each, keyed by model."""
    collected = feed(meta_line(), dumps({"response": "ok", "stats": STATS, "timestamp": TS}))
    expected = [("gemini-2.5-pro", 600, 400, 5), ("gemini-2.5-flash", 50, 0, 0)]
    assert expected == [(r.model, r.input, r.cache_read, r.reasoning) for r in records(collected)]


def test_result_stats_are_read() -> None:
    """Stream output's ``result.stats`` is read like ``stats``."""
    line = dumps({"type": "result", "result": {"stats": STATS}})
    expected = 2
    assert expected == len(records(feed(line)))


def test_stats_without_models_use_the_current_model() -> None:
    """Flat stats counts are one record under the current model."""
    lines = (
        dumps({"model": "gemini-2.5-flash"}),
        dumps({"stats": {"input_tokens": 70, "output_tokens": 3}}),
    )
    expected = ("gemini-2.5-flash", 70, 3)
    record = only(feed(*lines))
    assert expected == (record.model, record.input, record.output)


def test_stats_without_any_model_are_unknown() -> None:
    """Flat stats with no model seen count under ``unknown``, as in ccusage."""
    expected = UNKNOWN_MODEL
    assert expected == only(feed(dumps({"stats": {"input_tokens": 70}}))).model


def test_stats_key_names_the_model() -> None:
    """A stats record's key ends with its model."""
    key = only(feed(dumps({"stats": {"models": {MODEL: STATS["models"][MODEL]}}}))).key
    assert key.startswith(f"gemini:{STEM}/stats:") and key.endswith(f":{MODEL}")


# -- whole documents -------------------------------------------------------------------------------


def legacy(messages: list[dict[str, Any]], **fields: Any) -> bytes:
    """A legacy single-JSON chat (pretty-printed, as Gemini CLI wrote it)."""
    doc: dict[str, Any] = {
        "sessionId": SESSION,
        "projectHash": "9f86d0",
        "startTime": "2026-05-01T11:07:00.000Z",
        "lastUpdated": "2026-05-01T11:09:00.000Z",
    }
    doc.update(fields)
    doc["messages"] = messages
    return json.dumps(doc, indent=2).encode()


def message(msg_id: str, tokens: dict[str, Any] | None = PROBE, **fields: Any) -> dict[str, Any]:
    """One entry of a legacy chat's ``messages``."""
    entry: dict[str, Any] = {"id": msg_id, "timestamp": TS, "type": "gemini", "model": MODEL}
    if tokens is not None:
        entry["tokens"] = tokens
    entry.update(fields)
    return {k: v for k, v in entry.items() if v is not None}


def document(content: bytes) -> tuple[Collected, str, list[str]]:
    """Parse one document; return what was collected, its session and its skips."""
    collected = Collected(PROJECT)
    session, skipped = parse_document(collected, content, STEM, MTIME_MS)
    return collected, session, list(skipped)


def test_legacy_chat_gives_a_record_per_model_message() -> None:
    """Every ``type:"gemini"`` message with tokens counts; user messages do not."""
    content = legacy(
        [{"id": "u1", "type": "user"}, message("g1"), message("g2"), message("g3", None)]
    )
    expected = [f"gemini:{SESSION}/g1", f"gemini:{SESSION}/g2"]
    assert expected == [r.key for r in records(document(content)[0])]


def test_legacy_revision_is_the_message_index() -> None:
    """A legacy record's revision is its index in ``messages``."""
    content = legacy([{"id": "u1", "type": "user"}, message("g1")])
    expected = 1
    assert expected == only(document(content)[0]).revision


def test_legacy_message_without_timestamp_uses_start_time() -> None:
    """``startTime`` dates a legacy message that has none."""
    content = legacy([message("g1", timestamp=None)], startTime=TS)
    expected = TS_MS
    assert expected == only(document(content)[0]).ts_ms


def test_legacy_message_without_timestamp_or_start_uses_last_updated() -> None:
    """``lastUpdated`` is the next fallback."""
    content = legacy([message("g1", timestamp=None)], startTime=None, lastUpdated=TS)
    expected = TS_MS
    assert expected == only(document(content)[0]).ts_ms


def test_legacy_message_model_is_its_own() -> None:
    """A legacy message without a model is ``unknown`` (no model carries over)."""
    content = legacy([message("g1"), message("g2", model=None)])
    expected = [MODEL, UNKNOWN_MODEL]
    assert expected == [r.model for r in records(document(content)[0])]


def test_legacy_session_comes_from_the_document() -> None:
    """The document's ``sessionId`` is the session."""
    expected = SESSION
    assert expected == document(legacy([message("g1")]))[1]


def test_legacy_without_session_uses_the_stem() -> None:
    """Without ``sessionId`` the file stem is the session."""
    expected = STEM
    assert expected == document(legacy([message("g1")], sessionId=None))[1]


def test_bare_model_message_document_is_one_record() -> None:
    """A ``.json`` holding one ``type:"gemini"`` object is one record."""
    expected = 1
    assert expected == len(records(document(dumps(message("g1")))[0]))


def test_headless_output_document_is_read() -> None:
    """A saved ``--output-format json`` answer gives its stats records."""
    expected = 2
    assert expected == len(records(document(dumps({"response": "hi", "stats": STATS}))[0]))


def test_malformed_document_is_reported() -> None:
    """A half-written document is a ``malformed_json`` skip."""
    expected = ["malformed_json"]
    assert expected == document(legacy([message("g1")])[:-10])[2]


def test_empty_document_is_not_a_skip() -> None:
    """An empty file is not a document yet."""
    expected = (0, 0)
    collected, _, skipped = document(b"")
    assert expected == (len(collected.records), len(skipped))


def test_array_document_is_reported() -> None:
    """A document that is not an object is a ``wrong_shape`` skip."""
    expected = ["wrong_shape"]
    assert expected == document(b"[1]")[2]
