"""Turn one Claude Code transcript line into a ``Prompt`` when a person typed it.

Only lines holding ``"type":"user"`` are looked at. A user line is a prompt unless it is
``isMeta``, carries a ``tool_result`` (Claude Code writes tool output as user lines), is a
sidechain (a subagent's task, written by Claude, not typed), is a compaction summary, or is one
of the CLI's wrappers (``<command-name>``, ``<local-command-stdout>``, system reminders).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from bus.messages import Prompt
from services.collector.claude.records import PROVIDER, parse_timestamp_ms
from services.collector.prompts import prompt_text

USER_MARKER: Final = b'"type":"user"'
TOOL_RESULT_MARKER: Final = b'"type":"tool_result"'
"""Inside a JSON string these bytes would be escaped, so finding them means a structural
``tool_result`` part: the reader skips such lines (often large tool output) undecoded."""


class _UserMessage(msgspec.Struct, gc=False):
    """``message`` of a user line: a string, or a list of parts."""

    content: str | list[Any] = ""


class _UserEntry(msgspec.Struct, rename="camel", gc=False):
    """What a user line needs to be judged; other fields are skipped undecoded."""

    type: str = ""
    timestamp: str = ""
    uuid: str = ""
    is_meta: bool = False
    is_sidechain: bool = False
    is_compact_summary: bool = False
    message: _UserMessage | None = None


_decoder = msgspec.json.Decoder(_UserEntry)


def parse_prompt(line: bytes, project: str, session: str, offset: int) -> Prompt | None:
    """The prompt on ``line`` (found at file ``offset``), or ``None`` for anything else."""
    try:
        entry = _decoder.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if entry.type != "user" or entry.message is None:
        return None
    if entry.is_meta or entry.is_sidechain or entry.is_compact_summary:
        return None
    ts_ms = parse_timestamp_ms(entry.timestamp)
    if ts_ms is None:
        return None
    content = entry.message.content
    if isinstance(content, str):
        parts = [content]
    else:
        parts = []
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "tool_result":
                return None
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
    text = prompt_text(parts)
    if text is None:
        return None
    key = f"{PROVIDER}:{entry.uuid}" if entry.uuid else f"{PROVIDER}:{session}:{offset}"
    return Prompt(
        key=key, provider=PROVIDER, ts_ms=ts_ms, project=project, session=session, text=text
    )
