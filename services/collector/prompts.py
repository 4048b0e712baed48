"""What every adapter does alike with a user prompt: cut it, and recognise CLI wrappers.

A prompt leaves the collector cut to ``PROMPT_CHARS`` characters with its whitespace runs
folded, so one line of the dashboard or ``otm top`` shows it; text a CLI wraps around its own
output (slash-command echoes, system reminders) is not a prompt and is dropped.
"""

from __future__ import annotations

from typing import Final

from bus.messages import PROMPT_CHARS

WRAPPER_PREFIXES: Final = (
    "<command-name>",
    "<command-message>",
    "<command-args>",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<system-reminder>",
    "<user-prompt-submit-hook>",
    "<environment_context>",
    "<user_instructions>",
)


def is_wrapper(text: str) -> bool:
    """Whether ``text`` is a CLI's own wrapper rather than something a person typed."""
    return text.lstrip().startswith(WRAPPER_PREFIXES)


def cut(text: str) -> str:
    """``text`` with whitespace runs folded to one space, cut to ``PROMPT_CHARS`` characters."""
    return " ".join(text.split())[:PROMPT_CHARS]


def prompt_text(parts: list[str]) -> str | None:
    """The prompt made of ``parts`` (wrappers dropped), cut; ``None`` when nothing is left."""
    kept = [p for p in parts if p.strip() and not is_wrapper(p)]
    if not kept:
        return None
    return cut(" ".join(kept)) or None
