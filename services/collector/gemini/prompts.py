"""Turn one Gemini CLI chat message into a ``Prompt`` when a person typed it.

Only messages with ``type: "user"`` are looked at, on their own JSONL line or in a legacy
chat's ``messages[]`` (a ``$set`` line holding a whole ``messages`` array is history Gemini CLI
rewrote, often with synthetic turns, and is never read). A user message is a prompt unless it
belongs to a subagent's chat (its task was written by the model, as Claude's sidechains), carries
a ``functionResponse`` part (tool output sent back as a user turn), has no usable timestamp, or
holds only one of the CLIs' wrappers (``services.collector.prompts``).

The text is ``displayContent`` when it has any (what was typed, before ``@file`` expansion),
else ``content``; both are a string, one part or a list of parts (``PartListUnion``).

**Key**: ``gemini:<session>/<id>``, the usage records' scheme (``dedup.message_key``), so
a message re-appended, a rewritten legacy chat read again and a legacy ``.json`` migrated to
``.jsonl`` give the same key and the store keeps one. A message without an ``id`` gets
``gemini:<session>/user:<sha1 of its timestamp and text>``: content-derived, so the same
message keys alike whatever its position or formatting in the file.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import msgspec

from bus.messages import Prompt
from services.collector.claude.records import parse_timestamp_ms
from services.collector.gemini.dedup import KEY_PREFIX, PROVIDER, message_key
from services.collector.prompts import prompt_text

USER_TYPE: Final = "user"


class _UserFields(msgspec.Struct, gc=False):
    """What a user message needs to be judged; anything else is skipped undecoded."""

    type: Any = None
    id: Any = None
    timestamp: Any = None
    created_at: Any = None
    content: Any = None
    display_content: Any = msgspec.field(default=None, name="displayContent")


_decoder: Final = msgspec.json.Decoder(_UserFields)


class _ToolOutput(Exception):
    """The message carries a ``functionResponse``: tool output, not something typed."""


def parse_prompt(raw: bytes, project: str, session: str) -> Prompt | None:
    """The prompt in the user message ``raw`` (one JSON object), or ``None`` for anything else."""
    try:
        fields = _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None
    if fields.type != USER_TYPE:
        return None
    ts_ms = _timestamp_ms(fields.timestamp)
    if ts_ms is None:
        ts_ms = _timestamp_ms(fields.created_at)
    if ts_ms is None:
        return None
    try:
        text = prompt_text(_texts(fields.display_content)) or prompt_text(_texts(fields.content))
    except _ToolOutput:
        return None
    if text is None:
        return None
    return Prompt(
        key=_key(fields, session),
        provider=PROVIDER,
        ts_ms=ts_ms,
        project=project,
        session=session,
        text=text,
    )


def _texts(content: object) -> list[str]:
    """The text parts of a ``PartListUnion``: a string, a part or a list of either.

    Raises ``_ToolOutput`` when a part is a ``functionResponse``.
    """
    items = content if isinstance(content, list) else [content]
    texts: list[str] = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            if "functionResponse" in item:
                raise _ToolOutput
            text = item.get("text")
            if isinstance(text, str) and not item.get("thought"):
                texts.append(text)
    return texts


def _timestamp_ms(value: object) -> int | None:
    """Epoch milliseconds of a strict-format timestamp string (as the records read it)."""
    return parse_timestamp_ms(value) if isinstance(value, str) else None


def _key(fields: _UserFields, session: str) -> str:
    """``gemini:<session>/<id>``, else a hash of the message's timestamp and content."""
    if isinstance(fields.id, str) and fields.id.strip():
        return message_key(session, fields.id.strip())
    payload = msgspec.json.encode((fields.timestamp, fields.created_at, fields.content))
    digest = hashlib.sha1(payload, usedforsecurity=False).hexdigest()
    return f"{KEY_PREFIX}{session}/user:{digest}"
