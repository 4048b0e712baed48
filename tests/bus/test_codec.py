"""The body codec: msgpack of tagged Structs, decoded in two steps so unknown types are skipped."""

from __future__ import annotations

import json
import re

import msgspec
import pytest

from bus.codec import Garbage, UnknownType, decode, encode, json_schema
from bus.messages import (
    MESSAGE_TYPES,
    ActivityCommitted,
    Alert,
    AlertCommitted,
    AlertObserved,
    AuthInfo,
    CreditBalance,
    Heartbeat,
    LimitsCommitted,
    LimitsObserved,
    LimitWindow,
    LiveStatus,
    Message,
    ModelPrice,
    PriceCommitted,
    PriceObserved,
    Prompt,
    RefreshRequested,
    SkipCounts,
    UsageCommitted,
)
from tests.helpers import batch, cursor, record

PRICE = ModelPrice(
    input="3",
    output="15",
    cache_write_5m="3.75",
    cache_write_1h="6",
    cache_read="0.3",
    long_context_threshold=200_000,
    long_context_input="6",
)

WINDOW = LimitWindow(
    provider="claude",
    window="five_hour",
    used_percent=37.5,
    observed_at=100.0,
    source="live",
    resets_at=200.0,
    window_seconds=18000,
    detail="d",
)
CREDIT = CreditBalance(
    provider="claude",
    name="extra_usage",
    balance="1",
    used="2.5",
    limit="50",
    currency="USD",
    used_percent=5.0,
    unlimited=True,
    enabled=False,
)
STATUS = LiveStatus(
    provider="claude",
    state="failed",
    checked_at=100.0,
    kind="rate_limited",
    reason="r",
    fix="f",
    http_status=429,
    retry_after=30.0,
    next_poll_at=130.0,
    last_success_at=50.0,
    consecutive_failures=2,
    auth=AuthInfo(source="/c", kind="oauth", expires_at=9.0, plan="max", scopes=("a",)),
)

ALERT = Alert(
    key="threshold:claude:five_hour:1800000000:90",
    rule="threshold",
    provider="claude",
    title="Claude 5-hour window at 92 %",
    body="Past the 90 % line.",
    severity="warning",
    raised_at=100.0,
    window="five_hour",
    band=90.0,
    used_percent=92.0,
    resets_at=1_800_000_000.0,
    estimated=True,
    demo=True,
)

# One message of every type, every optional field set away from its default.
SAMPLES: list[Message] = [
    AlertObserved(alert=ALERT),
    AlertCommitted(seq=7, alert=ALERT),
    RefreshRequested(
        provider="claude", reason="files", requested_at=1.5, paths=("/a", "/b"), live=True
    ),
    LimitsObserved(
        observation_id="o",
        provider="claude",
        source="live",
        observed_at=100.0,
        windows=(WINDOW,),
        credits=(CREDIT,),
        status=STATUS,
    ),
    LimitsCommitted(
        seq=6,
        observation_id="o",
        provider="claude",
        source="live",
        observed_at=100.0,
        windows=(WINDOW,),
        credits=(CREDIT,),
        status=STATUS,
    ),
    batch(
        [record("k1", cache_read=5, speed="fast", sidechain=True), record("k2", model=None)],
        before=10,
        after=200,
        skipped=SkipCounts(malformed_json=2, rewound=1),
    ),
    PriceObserved(provider="claude", model="claude-sonnet-4-5", source="config", price=PRICE),
    UsageCommitted(
        seq=4,
        batch_id="b",
        provider="claude",
        source="/logs/a.jsonl",
        cursor=cursor(200),
        records=(record("k1", output=99),),
        replaces=(record("k1"),),
        duplicates=3,
        skipped=SkipCounts(invalid_utf8=1),
    ),
    PriceCommitted(seq=5, provider="claude", model="m", source="genai-prices", price=PRICE),
    ActivityCommitted(
        seq=8,
        provider="claude",
        prompts=(
            Prompt(key="claude:u1", provider="claude", ts_ms=1, project="p", session="s", text="t"),
        ),
        keep=7,
        scrubbed=True,
    ),
    Heartbeat(
        process="store",
        pid=42,
        started_at=1.0,
        sent_at=2.0,
        head_seq=5,
        counters={"garbage_dropped": 1},
        detail={"db": "/x/otm.db"},
    ),
]


def test_samples_cover_every_message_type() -> None:
    """The roundtrip samples include one message of every registered tag."""
    assert set(MESSAGE_TYPES) == {type(m).__struct_config__.tag for m in SAMPLES}


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_roundtrip(message: Message) -> None:
    """Decoding an encoded message gives back an equal message of the same type."""
    assert message == decode(encode(message))


def test_unknown_type_raises_unknown_type() -> None:
    """A well-formed body with a tag this consumer does not know raises UnknownType."""
    body = msgspec.msgpack.encode({"type": "evt.future", "seq": 9, "what": "new"})
    with pytest.raises(UnknownType, match=r"evt\.future"):
        decode(body)


def test_newer_producers_extra_field_is_ignored() -> None:
    """A field added by a newer producer is skipped; the known fields decode."""
    beat = Heartbeat(process="store", pid=1, started_at=1.0, sent_at=2.0, head_seq=3)
    fields = msgspec.to_builtins(beat)
    fields["added_in_v9"] = {"nested": [1, 2]}
    assert beat == decode(msgspec.msgpack.encode(fields))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xc1\x00\xff", id="not-msgpack"),
        pytest.param(msgspec.msgpack.encode([1, 2, 3]), id="not-a-map"),
        pytest.param(msgspec.msgpack.encode({"seq": 1}), id="missing-tag"),
        pytest.param(msgspec.msgpack.encode({"type": 7}), id="tag-not-a-string"),
        pytest.param(
            msgspec.msgpack.encode(
                {"type": "evt.price", "seq": "one", "provider": "c", "model": "m", "source": "s"}
            ),
            id="wrong-field-type",
        ),
        pytest.param(
            msgspec.msgpack.encode({"type": "evt.price", "seq": 1}), id="missing-required-field"
        ),
        pytest.param(encode(SAMPLES[1])[:-3], id="truncated"),
    ],
)
def test_garbage_raises_garbage(body: bytes) -> None:
    """Anything that is not a message of a known type raises Garbage, never another error."""
    with pytest.raises(Garbage):
        decode(body)


def test_json_schema_has_one_alternative_per_message_type() -> None:
    """The schema's oneOf references exactly the registered message types."""
    expected = {f"#/$defs/{cls.__name__}" for cls in MESSAGE_TYPES.values()}
    assert expected == {alt["$ref"] for alt in json_schema()["oneOf"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize("tag", sorted(MESSAGE_TYPES))
def test_json_schema_pins_each_tag(tag: str) -> None:
    """Each message type's definition requires its dotted tag in the ``type`` field."""
    definition = json_schema()["$defs"][MESSAGE_TYPES[tag].__name__]  # type: ignore[index]
    assert {"enum": [tag]} == definition["properties"]["type"]


def test_json_schema_refs_all_resolve() -> None:
    """Every ``$ref`` in the published JSON text points at a definition it contains."""
    text = json.dumps(json_schema())
    refs = set(re.findall(r'"\$ref": "#/\$defs/(\w+)"', text))
    assert set() == refs - set(json.loads(text)["$defs"])
