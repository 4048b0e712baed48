"""A model name with a prefix or suffix (``aide-gpt-5``) priced as the known model inside it.

Real Codex logs hold names such as ``aide-gpt-5`` that no price list knows. ccusage prices
them by a known model id found inside the name at word boundaries (FORMATS.md §5, ``find``):
``.`` and ``@`` count as ``-``; the longest id wins (ties: the alphabetically first); and a
version number continuing the id is not a match (``claude-opus-4`` is not inside
``claude-opus-4-9`` or ``claude-opus-4.70``), while an 8-digit date suffix is
(``-20250514``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PRICED_AS = ", priced as "
"""How a price's ``source`` names the known model it was taken from."""
_DATE_SUFFIX = re.compile(r"-\d{8}(?![0-9A-Za-z])")


def normalised(name: str) -> str:
    """``name`` lower-cased with ``.`` and ``@`` as ``-``, as the match compares names."""
    return name.lower().replace(".", "-").replace("@", "-")


def known_within(model: str, known: Iterable[str]) -> str | None:
    """The known id that ``model`` holds at word boundaries (the longest), or None."""
    name = normalised(model)
    found = [k for k in known if k and _holds(name, normalised(k))]
    if not found:
        return None
    return min(found, key=lambda k: (-len(k), k))


def _holds(name: str, key: str) -> bool:
    start = name.find(key)
    while start != -1:
        if _bounded(name, start, start + len(key)):
            return True
        start = name.find(key, start + 1)
    return False


def _bounded(name: str, start: int, end: int) -> bool:
    if start > 0 and name[start - 1].isalnum():
        return False
    rest = name[end:]
    if not rest:
        return True
    if rest[0].isalnum():
        return False
    # "-9" after "claude-opus-4" is another version, but "-20250514" is a dated snapshot.
    if rest[0] == "-" and rest[1:2].isdigit():
        return _DATE_SUFFIX.match(rest) is not None
    return True
