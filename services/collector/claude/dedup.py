"""How duplicate Claude usage lines are recognised and which copy counts.

Claude Code writes one API response several times: once per content block while streaming
(``output_tokens`` grows, e.g. 9 then 159), again when a session is resumed or forked into a new
file, and again when a ``/btw`` aside or subagent replays a parent message into its sidechain
(same ``message.id``, new ``requestId``). FORMATS.md section 2.4 has the details.

**Key** (one rule for every report)

* ``message.id`` and ``requestId`` present: ``claude:<message.id>``. Streaming copies, resumed
  session copies in other files and sidechain replays under a new request id all collapse.
* ``message.id`` without ``requestId`` (gateways, third-party endpoints): the id is only trusted
  within a session, so the key is ``claude:<message.id>@<session>``.
* no ``message.id``: ``claude:line:<sha1 of the stripped line>``. Only byte-identical lines
  collapse, which is what a re-read or a copied file produces; two distinct responses that share
  no id are never merged.

**Winner** (``services.store.copies.claude_wins``, applied by the store), as in ccusage
20.0.24: a non-sidechain copy beats a sidechain one; then the larger total (input + output +
cache writes + cache reads) wins; then a copy that states its ``speed`` beats one that does not;
otherwise the copy already counted stays.

**Deliberate differences from ccusage 20.0.24**, which does not apply one rule to all reports:

* its *daily* loader also keys requestless records on the timestamp, so requestless copies with
  different timestamps count twice in ``daily`` but once in ``monthly``/``session``/``blocks``;
  we count them once everywhere;
* its *regular* loader (monthly, weekly, session, blocks) drops a sidechain replay only when the
  timestamps match, so a replay written later counts in ``monthly`` but not in ``daily``; we
  drop it everywhere (the parent copy wins);
* ccusage scopes requestless ids by the in-record ``sessionId`` when present; we use the session
  derived from the file path, the same session our reports group by.

Such records belong in the parity harness's "known ccusage quirks" suite, not its main corpus.
"""

from __future__ import annotations

import hashlib

KEY_PREFIX = "claude:"


def dedup_key(message_id: str | None, request_id: str | None, session: str, line: bytes) -> str:
    """The deterministic key of one usage line (the rule in this module's docstring)."""
    if message_id is not None:
        if request_id is not None:
            return KEY_PREFIX + message_id
        return f"{KEY_PREFIX}{message_id}@{session}"
    digest = hashlib.sha1(line.strip(), usedforsecurity=False).hexdigest()
    return f"{KEY_PREFIX}line:{digest}"
