"""Which copy of a usage record counts, for every provider (the store applies this rule).

* Claude Code: ``claude_wins`` (non-sidechain beats
  sidechain, then the larger total, then the copy that knows its speed; otherwise the record
  already counted stays).
* Codex CLI: copies of one key have identical tokens; the copy in ``sessions/`` (revision 1)
  beats one in ``archived_sessions/`` (revision 0), so the event belongs to the live session
  whichever file is read first, as in ccusage.
* Gemini CLI: a message is re-appended with its final tokens, and ccusage keeps the last
  copy: the larger ``revision`` (the line's byte offset) wins.
"""

from __future__ import annotations

from typing import Protocol


class Contender(Protocol):
    """What the rule needs to know of a copy: a ``UsageRecord`` or the store's claim of one."""

    @property
    def sidechain(self) -> bool: ...

    @property
    def total_tokens(self) -> int: ...

    @property
    def speed(self) -> str | None: ...

    @property
    def revision(self) -> int: ...


def wins(provider: str, new: Contender, old: Contender) -> bool:
    """True when ``new`` should replace ``old``, the copy already counted under the same key."""
    if provider in ("gemini", "codex"):
        return new.revision > old.revision
    return claude_wins(new, old)


def claude_wins(new: Contender, old: Contender) -> bool:
    """True when ``new`` should replace ``old``, the copy already counted under the same key."""
    if new.sidechain != old.sidechain:
        # The main-chain copy is the real request; a sidechain copy is a replay of it with
        # inflated context, so it never displaces the original.
        return old.sidechain
    new_total = new.total_tokens
    old_total = old.total_tokens
    if new_total != old_total:
        # Streaming copies only grow: the largest is the final, billed one.
        return new_total > old_total
    return new.speed is not None and old.speed is None
