"""How copies of one Gemini response are recognised, and which copy counts.

Gemini CLI writes a model message once without tokens and appends it again, under the same
``id``, once its usage metadata has arrived (FORMATS.md section 4.2); it may append it again
later (e.g. when tool results are attached). ccusage keeps the **last** copy of an ``id`` within a
file.

**Key** (deterministic, from the CLI's own ids)

* a message with an ``id``: ``gemini:<session>/<id>``, where ``session`` is the ``sessionId`` the
  file carries (the file stem until it names one). Copies in the same file, the same session
  re-read after a rewrite, and a legacy ``.json`` chat migrated to ``.jsonl`` all collapse.
* a message without an ``id``: ``gemini:<session>/line:<sha1 of the stripped line or message>``.
  Only byte-identical copies collapse (a re-read); distinct responses never merge.
* a headless ``stats`` record: ``gemini:<session>/stats:<sha1 of the line or document>:<model>``
  (one record per model of the ``stats.models`` map).

**Winner** (``wins_gemini``): the copy with the larger ``revision`` wins; on a tie the copy
already counted stays. ``revision`` is the byte offset of the line in its JSONL file (later lines
have larger offsets, so "the last line wins" as in ccusage), or the message's index in a legacy
JSON chat's ``messages[]``. Ties arise only when the same bytes are read again (a re-read after a
reset, a re-read legacy file), so keeping the counted copy avoids churn in the log.

**Deliberate differences from ccusage 20.0.24**

* ccusage collapses ids only within one file; a response present in two files of one session
  (a legacy ``.json`` and its ``.jsonl`` migration, both still on disk) counts twice there and
  once here.
* ccusage counts every id-less message and every ``stats`` line; here byte-identical copies in
  one session count once.
"""

from __future__ import annotations

import hashlib

from bus.messages import UsageRecord

PROVIDER = "gemini"
KEY_PREFIX = f"{PROVIDER}:"


def message_key(session: str, message_id: str) -> str:
    """The key of a message that carries an ``id``."""
    return f"{KEY_PREFIX}{session}/{message_id}"


def line_key(session: str, raw: bytes) -> str:
    """The key of a message without an ``id``: a hash of its bytes."""
    return f"{KEY_PREFIX}{session}/line:{_sha1(raw)}"


def stats_key(session: str, raw: bytes, model: str) -> str:
    """The key of one model's usage in a headless ``stats`` record."""
    return f"{KEY_PREFIX}{session}/stats:{_sha1(raw)}:{model}"


def wins_gemini(new: UsageRecord, old: UsageRecord) -> bool:
    """True when ``new`` should replace ``old``, the copy already counted under the same key."""
    return new.revision > old.revision


def _sha1(raw: bytes) -> str:
    """sha1 hex of ``raw`` without surrounding whitespace (so a trailing newline or ``\\r`` does
    not change the key)."""
    return hashlib.sha1(raw.strip(), usedforsecurity=False).hexdigest()
