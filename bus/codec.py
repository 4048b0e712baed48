"""Body encoding: msgpack of tagged Structs, decoded in two steps so unknown types are skipped.

Step one reads only the ``type`` tag; step two decodes the body with the Struct registered for
that tag. A consumer older than its producer thus sees ``UnknownType`` for a new message type
instead of failing, and ignores fields it does not know inside types it does.
"""

from __future__ import annotations

import msgspec

from bus.messages import MESSAGE_TYPES, Message


class _Head(msgspec.Struct, forbid_unknown_fields=False):
    """Only the tag of a body: everything else is left undecoded."""

    type: str


class UnknownType(Exception):
    """The body is well-formed but of a type this consumer does not know: skip it."""


class Garbage(Exception):
    """The body is not a message at all (bad msgpack, missing tag, wrong field types)."""


_encoder = msgspec.msgpack.Encoder()
_head_decoder = msgspec.msgpack.Decoder(_Head)
_decoders: dict[str, msgspec.msgpack.Decoder[Message]] = {
    tag: msgspec.msgpack.Decoder(cls) for tag, cls in MESSAGE_TYPES.items()
}


def encode(message: Message) -> bytes:
    """Serialise a message body to msgpack."""
    return _encoder.encode(message)


def decode(body: bytes) -> Message:
    """Decode a body; raise ``UnknownType`` for an unknown tag and ``Garbage`` for the rest."""
    try:
        head = _head_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Garbage(str(exc)) from exc
    decoder = _decoders.get(head.type)
    if decoder is None:
        raise UnknownType(head.type)
    try:
        return decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Garbage(f"{head.type}: {exc}") from exc


def json_schema() -> dict[str, object]:
    """The JSON Schema of every message type, for tools that read the stream elsewhere."""
    types = tuple(MESSAGE_TYPES.values())
    _, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OpenTokenMonitor bus messages",
        "description": "Bodies are msgpack; frames are [topic, body]. Dispatch on `type`.",
        "oneOf": [{"$ref": f"#/$defs/{t.__name__}"} for t in types],
        "$defs": components,
    }
