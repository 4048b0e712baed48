"""How one Claude Code transcript line becomes a usage record, a counted skip, or nothing."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from bus.messages import UsageRecord
from services.collector.claude.records import is_semver_prefix, parse_line, parse_timestamp_ms

PROJECT = "-home-u-proj"
SESSION = "6f1c2d3e"


def usage_line(**overrides: Any) -> bytes:
    """A compact assistant line; ``message``/``usage`` keys may be overridden via dict updates."""
    usage: dict[str, Any] = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 2285,
        "cache_read_input_tokens": 22137,
        "output_tokens": 500,
        "service_tier": "standard",
    }
    usage.update(overrides.pop("usage", {}))
    message: dict[str, Any] = {
        "model": "claude-sonnet-4-5-20250929",
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    message.update(overrides.pop("message", {}))
    entry: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": False,
        "cwd": "/home/u/proj",
        "sessionId": "6f1c2d3e-0000-4000-8000-000000000001",
        "version": "2.1.30",
        "message": message,
        "requestId": "req_01",
        "type": "assistant",
        "timestamp": "2026-05-16T09:12:34.567Z",
    }
    entry.update(overrides)
    return json.dumps(entry, separators=(",", ":")).encode()


def without(line: bytes, *keys: str) -> bytes:
    """``line`` with top-level ``keys`` removed."""
    entry = json.loads(line)
    for key in keys:
        del entry[key]
    return json.dumps(entry, separators=(",", ":")).encode()


def record(line: bytes) -> UsageRecord:
    """Parse a line that must give a record."""
    result = parse_line(line, PROJECT, SESSION)
    assert isinstance(result, UsageRecord), result
    return result


def test_assistant_line_gives_its_token_counts() -> None:
    """Input, output and cache reads are copied from ``message.usage``."""
    rec = record(usage_line())
    expected = (3, 500, 22137)
    assert expected == (rec.input, rec.output, rec.cache_read)


def test_record_carries_path_project_and_session() -> None:
    """Project and session come from the arguments (the path), not from the line."""
    rec = record(usage_line())
    expected = (PROJECT, SESSION, "claude")
    assert expected == (rec.project, rec.session, rec.provider)


def test_record_keeps_model_and_timestamp() -> None:
    """The model id and the UTC epoch milliseconds of ``timestamp`` are kept."""
    rec = record(usage_line())
    expected = ("claude-sonnet-4-5-20250929", 1778922754567)
    assert expected == (rec.model, rec.ts_ms)


def test_line_without_usage_marker_is_ignored() -> None:
    """A user turn is not a usage line: ``None``, not a skip."""
    line = b'{"type":"user","message":{"role":"user","content":"fix the tests"}}'
    assert parse_line(line, PROJECT, SESSION) is None


def test_streaming_copies_share_one_key() -> None:
    """Two lines of one response (same message.id and requestId) get the same key."""
    first = record(usage_line(usage={"output_tokens": 9}))
    second = record(usage_line(usage={"output_tokens": 159}))
    expected = first.key
    assert expected == second.key


def test_key_with_request_id_is_the_message_id() -> None:
    """With a requestId the key is the message id alone, so copies in other sessions collapse."""
    expected = "claude:msg_01"
    assert expected == record(usage_line()).key


def test_key_without_request_id_is_scoped_by_session() -> None:
    """Without a requestId the message id is only trusted within the session."""
    rec = record(without(usage_line(), "requestId"))
    expected = f"claude:msg_01@{SESSION}"
    assert expected == rec.key


def test_identical_lines_without_message_id_share_a_key() -> None:
    """Without a message id the key hashes the line, so identical lines collapse."""
    line = usage_line(message={"id": None}).replace(b'"id":null,', b"")
    expected = record(line).key
    assert expected == record(line + b"\n").key


def test_different_lines_without_message_id_get_different_keys() -> None:
    """Two distinct id-less responses are never merged."""
    first = usage_line(message={"id": None}).replace(b'"id":null,', b"")
    second = usage_line(message={"id": None}, usage={"output_tokens": 7}).replace(
        b'"id":null,', b""
    )
    assert record(first).key != record(second).key


def test_spaced_usage_marker_is_ignored() -> None:
    """``"usage": {`` (with a space) is not looked at, as in ccusage."""
    line = usage_line().replace(b'"usage":{', b'"usage": {')
    assert parse_line(line, PROJECT, SESSION) is None


def test_cwd_null_rejects_the_line() -> None:
    """``"cwd":null`` drops the line as a wrong shape."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(cwd=None), PROJECT, SESSION)


def test_nested_id_null_rejects_the_line() -> None:
    """A non-nullable key is checked at any depth, e.g. a content block's ``"id":null``."""
    line = usage_line(message={"content": [{"type": "tool_use", "id": None}]})
    expected = "wrong_shape"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_stop_sequence_null_is_accepted() -> None:
    """Nulls of other keys (``stop_sequence``, ``parentUuid``) are fine."""
    assert isinstance(parse_line(usage_line(), PROJECT, SESSION), UsageRecord)


def test_content_null_is_accepted() -> None:
    """``"content":null`` is explicitly allowed by ccusage."""
    line = usage_line(message={"content": None})
    assert isinstance(parse_line(line, PROJECT, SESSION), UsageRecord)


def test_microsecond_timestamp_rejects_the_line() -> None:
    """Six fractional digits are not the format ccusage accepts."""
    line = usage_line(timestamp="2026-05-16T09:12:34.567123Z")
    expected = "wrong_shape"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_timestamp_offset_is_converted_to_utc() -> None:
    """``+02:00`` is subtracted to give UTC."""
    rec = record(usage_line(timestamp="2026-05-16T11:12:34.567+02:00"))
    expected = 1778922754567
    assert expected == rec.ts_ms


def test_missing_timestamp_rejects_the_line() -> None:
    """A usage line without a timestamp cannot be placed in time."""
    expected = "wrong_shape"
    assert expected == parse_line(without(usage_line(), "timestamp"), PROJECT, SESSION)


def test_timestamp_without_fraction_is_accepted() -> None:
    """Zero fractional digits are allowed."""
    expected = 1778922754000
    assert expected == parse_timestamp_ms("2026-05-16T09:12:34Z")


def test_negative_offset_is_converted_to_utc() -> None:
    """``-08:00`` adds eight hours."""
    expected = 1778922754567
    assert expected == parse_timestamp_ms("2026-05-16T01:12:34.567-08:00")


def test_impossible_date_is_rejected() -> None:
    """February 30th does not exist."""
    assert parse_timestamp_ms("2026-02-30T00:00:00.000Z") is None


def test_leap_day_is_accepted() -> None:
    """2024-02-29 exists."""
    expected = 1709164800000
    assert expected == parse_timestamp_ms("2024-02-29T00:00:00.000Z")


def test_hour_24_is_rejected() -> None:
    """Hours run to 23."""
    assert parse_timestamp_ms("2026-05-16T24:00:00.000Z") is None


def test_two_fraction_digits_are_rejected() -> None:
    """Exactly 0 or 3 fractional digits."""
    assert parse_timestamp_ms("2026-05-16T09:12:34.56Z") is None


def test_synthetic_model_has_no_model() -> None:
    """``<synthetic>`` error stubs report no model."""
    rec = record(usage_line(message={"model": "<synthetic>"}))
    assert rec.model is None


def test_synthetic_model_tokens_still_count() -> None:
    """The stub's tokens still count in totals."""
    rec = record(usage_line(message={"model": "<synthetic>"}))
    expected = 500
    assert expected == rec.output


def test_fast_speed_is_kept() -> None:
    """``speed:"fast"`` is carried for pricing."""
    expected = "fast"
    assert expected == record(usage_line(usage={"speed": "fast"})).speed


def test_missing_speed_is_none() -> None:
    """Without ``speed`` the record states none."""
    assert record(usage_line()).speed is None


def test_unknown_speed_rejects_the_line() -> None:
    """Speed must be ``standard`` or ``fast``."""
    line = usage_line(usage={"speed": "turbo"})
    expected = "wrong_shape"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_cache_creation_object_splits_writes_by_ttl() -> None:
    """The ``cache_creation`` object gives the 5-minute and 1-hour writes."""
    split = {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}
    rec = record(usage_line(usage={"cache_creation": split}))
    expected = (1000, 2000)
    assert expected == (rec.cache_write_5m, rec.cache_write_1h)


def test_cache_creation_object_overrides_the_total() -> None:
    """With the object present ``cache_creation_input_tokens`` is ignored."""
    split = {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 0}
    rec = record(usage_line(usage={"cache_creation": split, "cache_creation_input_tokens": 999}))
    expected = 10
    assert expected == rec.cache_write_5m + rec.cache_write_1h


def test_cache_creation_total_counts_as_five_minute_writes() -> None:
    """Without the object the total is all 5-minute writes."""
    rec = record(usage_line())
    expected = (2285, 0)
    assert expected == (rec.cache_write_5m, rec.cache_write_1h)


def test_missing_cache_counts_default_to_zero() -> None:
    """Only input and output tokens are required."""
    usage = {"input_tokens": 1, "output_tokens": 2}
    line = usage_line().replace(
        b'"usage":{"input_tokens":3,"cache_creation_input_tokens":2285,'
        b'"cache_read_input_tokens":22137,"output_tokens":500,"service_tier":"standard"}',
        b'"usage":' + json.dumps(usage, separators=(",", ":")).encode(),
    )
    rec = record(line)
    expected = 3
    assert expected == rec.total_tokens


def progress_line(inner: bytes, **top: Any) -> bytes:
    """An agent progress line of the main transcript nesting the subagent line ``inner``."""
    entry: dict[str, Any] = {
        "type": "progress",
        "sessionId": "6f1c2d3e-0000-4000-8000-000000000001",
        "version": "2.1.30",
        "timestamp": "2026-05-17T00:00:00.001Z",
        "data": {"type": "agent_progress", "message": json.loads(inner), "agentId": "a1"},
    }
    entry.update(top)
    return json.dumps(entry, separators=(",", ":")).encode()


def test_progress_line_is_the_nested_subagent_record() -> None:
    """An agent progress line counts as the subagent record it nests, key and tokens included."""
    inner = usage_line(isSidechain=True)
    expected = record(inner)
    assert expected == record(progress_line(inner))


def test_progress_record_takes_the_nested_timestamp() -> None:
    """The nested record's own time is used, not the progress line's."""
    rec = record(progress_line(usage_line(isSidechain=True)))
    assert parse_timestamp_ms("2026-05-16T09:12:34.567Z") == rec.ts_ms


def test_progress_record_without_its_own_timestamp_is_a_skip() -> None:
    """ccusage's daily drops a nested record without a timestamp; it is counted as a skip."""
    inner = json.loads(usage_line(isSidechain=True))
    del inner["timestamp"]
    line = progress_line(json.dumps(inner).encode())
    assert "wrong_shape" == parse_line(line, PROJECT, SESSION)


def test_progress_record_with_a_bad_count_is_a_skip() -> None:
    """A nested record failing the strict schema is counted as wrong_shape, not ignored."""
    line = progress_line(usage_line(isSidechain=True, usage={"output_tokens": -1}))
    assert "wrong_shape" == parse_line(line, PROJECT, SESSION)


def test_server_tool_use_leaves_the_token_counts_alone() -> None:
    """``usage.server_tool_use`` (web searches, late 2026) changes no token count."""
    tools = {"server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 1}}
    expected = msgspec.structs.replace(record(usage_line()), web_search_requests=3)
    assert expected == record(usage_line(usage=tools))


def test_web_search_requests_are_read_into_the_record() -> None:
    """``server_tool_use.web_search_requests`` is the record's ``web_search_requests``."""
    tools = {"server_tool_use": {"web_search_requests": 4, "web_fetch_requests": 0}}
    assert 4 == record(usage_line(usage=tools)).web_search_requests


def test_line_without_server_tool_use_has_no_searches() -> None:
    """A line without ``server_tool_use`` ran no web search."""
    assert 0 == record(usage_line()).web_search_requests


@pytest.mark.parametrize(
    "tools",
    [None, "x", [], {"web_search_requests": -1}, {"web_search_requests": 1.5}, {"other": 1}],
)
def test_odd_server_tool_use_counts_no_search_and_keeps_the_line(tools: object) -> None:
    """ccusage ignores ``server_tool_use``: any other shape is 0 searches, never a skip."""
    expected = record(usage_line())
    assert expected == record(usage_line(usage={"server_tool_use": tools}))


def test_progress_record_reads_its_web_searches() -> None:
    """A subagent record nested in a progress line keeps its web searches too."""
    tools = {"server_tool_use": {"web_search_requests": 2}}
    line = progress_line(usage_line(isSidechain=True, usage=tools))
    assert 2 == record(line).web_search_requests


def test_assistant_line_with_an_odd_data_field_still_counts() -> None:
    """A ``data`` field of any shape never rejects a line that has usage of its own."""
    line = usage_line().replace(b'{"parentUuid"', b'{"data":"x","parentUuid"', 1)
    expected = record(usage_line())
    assert expected == record(line)


def test_progress_line_with_a_non_object_payload_is_ignored() -> None:
    """A progress line whose ``data`` is not an object is no usage line (and no skip)."""
    line = b'{"type":"progress","data":["x"],"note":{"usage":{"input_tokens":1}}}'
    assert parse_line(line, PROJECT, SESSION) is None


def test_progress_line_without_a_nested_response_is_ignored() -> None:
    """A progress line nesting a user turn (no usage) is not a usage line."""
    inner = b'{"type":"user","message":{"role":"user","content":"go"},"usage":{"x":1}}'
    assert parse_line(progress_line(inner), PROJECT, SESSION) is None


def test_tool_result_quoting_usage_is_ignored() -> None:
    """A user line whose tool result nests a ``usage`` object is not a usage line."""
    line = (
        b'{"type":"user","message":{"role":"user","content":"done"},'
        b'"toolUseResult":{"usage":{"input_tokens":"many"}},"timestamp":"bad"}'
    )
    assert parse_line(line, PROJECT, SESSION) is None


def test_malformed_json_is_counted() -> None:
    """A cut-off usage line is a malformed_json skip."""
    line = usage_line()[:-5]
    expected = "malformed_json"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_invalid_utf8_in_a_decoded_field_is_counted() -> None:
    """Invalid UTF-8 inside the model name is an invalid_utf8 skip."""
    line = usage_line(message={"model": "claude-X"}).replace(b"claude-X", b"claude-\xff")
    expected = "invalid_utf8"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_invalid_utf8_that_breaks_the_json_is_counted_as_utf8() -> None:
    """Invalid UTF-8 in a line that also fails to parse is reported as invalid_utf8."""
    line = usage_line()[:-5] + b"\xff"
    expected = "invalid_utf8"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_invalid_utf8_anywhere_in_a_usage_line_is_counted_and_skipped() -> None:
    """A broken byte even in ignored text drops the line, as ccusage 20.0.24 does (probed)."""
    line = usage_line().replace(b'"text":"hello"', b'"text":"hel\xfflo"')
    assert "invalid_utf8" == parse_line(line, PROJECT, SESSION)


def test_valid_non_ascii_text_keeps_the_record() -> None:
    """Real UTF-8 (accents, emoji) in the message text is fine."""
    line = usage_line().replace(b'"text":"hello"', '"text":"h\u00e9llo \U0001f600"'.encode())
    expected = 500
    assert expected == record(line).output


def test_string_token_count_is_a_wrong_shape() -> None:
    """``"output_tokens":"5"`` is a wrong field type."""
    line = usage_line(usage={"output_tokens": "5"})
    expected = "wrong_shape"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_negative_token_count_is_a_wrong_shape() -> None:
    """Token counts are unsigned."""
    line = usage_line(usage={"input_tokens": -1})
    expected = "wrong_shape"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_float_token_count_is_a_wrong_shape() -> None:
    """Token counts are integers."""
    line = usage_line(usage={"input_tokens": 1.5})
    expected = "wrong_shape"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_missing_output_tokens_is_a_wrong_shape() -> None:
    """``output_tokens`` is required."""
    line = usage_line().replace(b',"output_tokens":500', b"")
    expected = "wrong_shape"
    assert expected == parse_line(line, PROJECT, SESSION)


def test_wrongly_typed_sidechain_flag_is_a_wrong_shape() -> None:
    """Declared fields are type-checked even when only used as flags."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(isSidechain="no"), PROJECT, SESSION)


def test_wrongly_typed_cost_is_a_wrong_shape() -> None:
    """``costUSD`` must be a number."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(costUSD="1.5"), PROJECT, SESSION)


def test_non_semver_version_is_a_wrong_shape() -> None:
    """``version`` must start with digits.digits.digit."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(version="v2"), PROJECT, SESSION)


def test_semver_with_suffix_is_accepted() -> None:
    """A pre-release suffix after the patch digit is fine."""
    assert is_semver_prefix("2.1.30-beta.1")


def test_two_part_version_is_not_semver() -> None:
    """``2.1`` lacks the patch digit."""
    assert not is_semver_prefix("2.1")


def test_empty_request_id_is_a_wrong_shape() -> None:
    """A present but empty requestId drops the line."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(requestId=""), PROJECT, SESSION)


def test_empty_session_id_is_a_wrong_shape() -> None:
    """A present but empty sessionId drops the line."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(sessionId=""), PROJECT, SESSION)


def test_empty_message_id_is_a_wrong_shape() -> None:
    """A present but empty message.id drops the line."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(message={"id": ""}), PROJECT, SESSION)


def test_empty_model_is_a_wrong_shape() -> None:
    """A present but empty model drops the line."""
    expected = "wrong_shape"
    assert expected == parse_line(usage_line(message={"model": ""}), PROJECT, SESSION)


def test_missing_model_gives_no_model() -> None:
    """A line without ``message.model`` still counts, with no model."""
    line = usage_line().replace(b'"model":"claude-sonnet-4-5-20250929",', b"")
    assert record(line).model is None


def test_sidechain_flag_is_kept() -> None:
    """``isSidechain:true`` marks the record as a sidechain."""
    assert record(usage_line(isSidechain=True)).sidechain


def test_null_sidechain_flag_is_main_chain() -> None:
    """``isSidechain:null`` is allowed and means main chain."""
    assert not record(usage_line(isSidechain=None)).sidechain


def test_rejected_null_in_a_non_usage_line_is_ignored() -> None:
    """A ``:null`` rejection only counts as a skip when the line is a usage line."""
    line = (
        b'{"type":"user","cwd":null,"message":{"role":"user","content":"done"},'
        b'"toolUseResult":{"usage":{"input_tokens":1,"output_tokens":2}}}'
    )
    assert parse_line(line, PROJECT, SESSION) is None
