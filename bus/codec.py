"""Body encoding: msgpack of tagged Structs, decoded in two steps so unknown types are skipped.

Step one reads only the ``type`` tag; step two decodes the body with the Struct registered for
that tag. A consumer older than its producer thus sees ``UnknownType`` for a new message type
instead of failing, and ignores fields it does not know inside types it does.

``read_frames`` does both steps for one ``[topic, body]`` frame off the bus and names, as a
``Dropped`` reason, why a frame is no use to its reader.
"""

from __future__ import annotations

import msgspec

from bus.messages import MESSAGE_TYPES, Message
from bus.topics import topic_for


class _Head(msgspec.Struct, forbid_unknown_fields=False):
    """Only the tag of a body: everything else is left undecoded."""

    type: str


class UnknownType(Exception):
    """The body is well-formed but of a type this consumer does not know: skip it."""


class Garbage(Exception):
    """The body is not a message at all (bad msgpack, missing tag, wrong field types)."""


BAD_FRAMES = "bad_frames"
"""Not the two frames ``[topic, body]``."""
BAD_TOPIC = "bad_topic"
"""A topic that is not UTF-8."""
BAD_BODY = "bad_body"
"""A body that is not a message: bad msgpack, no ``type`` tag, wrong field types."""
UNKNOWN_TYPE = "unknown_type"
"""A well-formed body of a type this version does not know (a newer producer's)."""
WRONG_TOPIC = "wrong_topic"
"""A known type under a topic it is never published on (e.g. a heartbeat on ``evt.``)."""


class Dropped(Exception):
    """A frame its reader cannot use; ``reason`` is one of the constants above."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


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


def read_frames(frames: list[bytes], check_topic: bool = False) -> tuple[str, Message]:
    """Decode one ``[topic, body]`` frame off the bus; raise ``Dropped`` with the reason.

    With ``check_topic``, the topic must be the one the message's own type and fields are
    published under (``bus.topics.topic_for``), so a consumer never acts on, say, a commit
    arriving as a command.
    """
    if len(frames) != 2:
        raise Dropped(BAD_FRAMES, f"{len(frames)} frames")
    try:
        topic = frames[0].decode()
    except UnicodeDecodeError as exc:
        raise Dropped(BAD_TOPIC, str(exc)) from None
    try:
        message = decode(frames[1])
    except UnknownType as exc:
        raise Dropped(UNKNOWN_TYPE, str(exc)) from None
    except Garbage as exc:
        raise Dropped(BAD_BODY, str(exc)) from None
    if check_topic and _topic_of(message) != topic:
        raise Dropped(WRONG_TOPIC, f"{type(message).__name__} under {topic!r}")
    return topic, message


def _topic_of(message: Message) -> str | None:
    try:
        return topic_for(message)
    except ValueError:
        return None


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
