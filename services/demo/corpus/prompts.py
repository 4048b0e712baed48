"""User prompts for the demo corpora that read like what a developer types into a coding CLI.

Every generator used to cut its prompts out of the filler prose at a random place, which gave
word salad starting mid-sentence. A prompt is now built from a small set of templates: an opening
request ("Fix the failing test in tests/test_api.py."), then follow-ups ("Keep the public API
the same.") and, to land on the exact length, closers ("Thanks."); a short one is a short reply
("yes, go ahead").

``typed_prompt(slice)`` takes the prose slice a generator drew (the same random draws as before)
and gives a prompt of exactly its size in bytes, chosen by a hash of the slice. So a seed's tree
keeps its sizes, line counts, sessions and every token count (the generators still grow their
context by the slice's length); only the words of the prompts change. A prompt is plain ASCII
with no quote or backslash, so it needs no escaping inside a JSON string.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from functools import cache
from string import Formatter
from typing import Final

_FILES: Final = (
    "src/app.py",
    "src/api/routes.py",
    "src/models/user.py",
    "src/lib/client.ts",
    "src/utils/format.ts",
    "src/components/Header.tsx",
    "cmd/server/main.go",
    "internal/store/store.go",
    "src/etl/load.py",
    "src/pipeline/train.py",
    "terraform/main.tf",
    "pyproject.toml",
    "package.json",
    "Dockerfile",
)
_TESTS: Final = (
    "tests/test_api.py",
    "tests/test_models.py",
    "tests/test_cache.py",
    "src/lib/client.test.ts",
    "internal/store/store_test.go",
    "tests/test_loader.py",
)
_FUNCS: Final = (
    "load_config",
    "parse_request",
    "fetch_user",
    "update_cursor",
    "render_header",
    "validate_payload",
    "flush_batch",
    "resolve_path",
    "apply_migration",
    "collect_rows",
    "merge_settings",
    "retry_with_backoff",
)
_TYPES: Final = ("Config", "Session", "Client", "Store", "Parser", "Window", "Cursor", "Batch")
_COMMANDS: Final = (
    "pytest -x",
    "npm test",
    "npm run build",
    "cargo test",
    "go test ./...",
    "make check",
    "ruff check .",
    "mypy src",
    "the CLI",
    "the export script",
)
_FLAGS: Final = ("json", "dry-run", "verbose", "since", "limit", "no-color", "output", "force")
_NOUNS: Final = ("list", "payload", "config file", "cache", "response", "input", "batch")
_ERRORS: Final = (
    "KeyError: user_id",
    "TypeError: cannot unpack non-iterable NoneType object",
    "AssertionError: assert 3 == 4",
    "ECONNRESET",
    "a 500 from the API",
    "panic: runtime error: index out of range",
    "ModuleNotFoundError: No module named yaml",
    "error TS2345: Argument of type string is not assignable",
)

_OPENINGS: Final = (
    "Fix the failing test in {test}.",
    "Why does {fn} return None when the {noun} is empty?",
    "Add a --{flag} flag to {cmd}.",
    "Refactor {fn} in {file} so it reads the config only once.",
    "Write a test for {fn} in {file}.",
    "The build fails with {error}. Can you take a look?",
    "Rename {type} to {type2} everywhere.",
    "Explain what {fn} in {file} does.",
    "Speed up {fn}, it takes seconds on a large {noun}.",
    "Update the README to mention the new --{flag} option.",
    "{cmd} fails on CI but passes locally. Why?",
    "Can you review my changes to {file} before I commit?",
    "Move {fn} out of {file} into its own module.",
    "Add type hints to {file}.",
    "Handle the timeout in {fn} and retry twice.",
    "Bump the dependencies in {file} and fix what breaks.",
    "I get {error} when I run {cmd}.",
    "Make {fn} accept a {type} instead of a dict.",
    "Where is the {noun} validated before {fn} runs?",
    "Split {file} into smaller modules.",
    "Add logging to {fn} so I can see why it is slow.",
    "Remove the dead code around {fn}.",
)
_FOLLOW_UPS: Final = (
    "It started after the last merge.",
    "Keep the public API the same.",
    "Run {cmd} when you are done.",
    "Do not touch the migrations.",
    "The error is {error}.",
    "I think the problem is in {fn}.",
    "Use the existing helper in {file}.",
    "Add a regression test too.",
    "Keep the change small.",
    "It only happens with an empty {noun}.",
    "Make sure {cmd} still passes.",
    "The {type} class is in {file}.",
    "Here is what I see: {error} in {file}.",
    "We tried a cache before and it made things worse.",
    "Please explain the fix before you apply it.",
    "No new dependencies.",
    "Check how {fn} is called from {file} first.",
    "The same thing happens on main.",
)
_PASTES: Final = (
    "FAILED {test}::test_{fn} - {error}",
    "E       {error}",
    "  File {file}, line {n}, in {fn}",
    "{test}::test_{fn} PASSED",
    "WARNING: {fn} took {n} ms",
    "ERROR {file}:{n}: {error}",
    "    at {fn} ({file}:{n}:{col})",
)
"""Lines of pasted output (a long prompt ends with some, ``\\n``-separated as in the JSON)."""
_CLOSERS: Final = (
    "Ty.",
    "Thx.",
    "Cool.",
    "Go on.",
    "Thanks.",
    "No rush.",
    "Go ahead.",
    "Then stop.",
    "Be careful.",
    "Many thanks.",
    "Keep it tidy.",
    "Keep it short.",
    "Commit it then.",
    "Explain briefly.",
    "Show me the diff.",
    "Commit when green.",
    "Ask me if not sure.",
    "Keep the diff small.",
    "Tell me what you did.",
    "Leave the tests alone.",
    "Ping me when it passes.",
)
_REPLIES: Final = (
    "k",
    "ok",
    "yes",
    "okay",
    "do it",
    "thanks",
    "go on!",
    "ship it",
    "continue",
    "try again",
    "yes please",
    "looks good",
    "revert that",
    "run the tests",
    "what changed?",
    "and the docs?",
    "yes, go ahead",
    "commit and push",
    "same error again",
    "perfect, commit it",
    "undo the last change",
    "that broke the build",
    "no, keep the old name",
    "now run the full suite",
    "can you explain that part?",
    "good, now do the same for the tests",
)

_VOCABULARY: Final = {
    "test": _TESTS,
    "fn": _FUNCS,
    "file": _FILES,
    "type": _TYPES,
    "cmd": _COMMANDS,
    "flag": _FLAGS,
    "noun": _NOUNS,
    "error": _ERRORS,
    "n": tuple(str(n) for n in (3, 12, 42, 88, 117, 204, 311, 1024)),
    "col": tuple(str(n) for n in (5, 9, 17, 23)),
}
_CLOSE_MIN: Final = 4
"""The smallest gap a closer fills: a space and the shortest closer."""
_CLOSE_MAX: Final = 30
"""The largest gap left for the closers (``_closers`` covers every gap in between)."""
_SHORT_ALWAYS: Final = 24
"""Prompts up to this size are short replies; up to ``_SHORT_MAX`` some are."""
_SHORT_MAX: Final = 40
_PASTE_FROM: Final = 360
"""A prompt longer than this ends with pasted output once its request is written."""
_NL: Final = "\\n"
"""A newline as it stands in a JSON string (two characters)."""


def typed_prompt(drawn: str) -> str:
    """A typed-looking prompt as many UTF-8 bytes long as ``drawn``, the prose slice a generator
    drew for it (its hash picks the words, so the same slice gives the same prompt). The result is
    the content of a JSON string: ASCII, no quote, no backslash but in ``\\n``."""
    size = len(drawn.encode())
    return compose(random.Random(zlib.crc32(drawn.encode())), size)


def compose(rng: random.Random, size: int) -> str:
    """A prompt of exactly ``size`` characters (ASCII, so also bytes): an opening request,
    follow-ups, pasted output when it is long, then a closer to land on the size; a short reply
    when it is short."""
    if size <= _SHORT_ALWAYS or (size <= _SHORT_MAX and rng.random() < 0.3):
        return rng.choice(_replies()[size])
    opening = _pick(rng, _OPENINGS, lambda o: len(o) == size or len(o) + _CLOSE_MIN <= size)
    if opening is None:  # only a few sizes below _SHORT_MAX
        return rng.choice(_replies()[size])
    text = opening[1]
    used: set[str] = set()
    while size - len(text) > _CLOSE_MAX:
        room = size - len(text) - _CLOSE_MIN
        if len(text) > _PASTE_FROM // 2 and room > _PASTE_FROM // 2:
            text = _paste(rng, text, room)
            continue
        fresh = tuple(t for t in _FOLLOW_UPS if t not in used)
        picked = _pick(rng, fresh, _within(room, 1))
        if picked is None:  # a repeat then, rather than a gap too big to close
            picked = _pick(rng, _FOLLOW_UPS, _within(room, 1))
        assert picked is not None, "the shortest follow-up fits in any gap over _CLOSE_MAX"
        used.add(picked[0])
        text += " " + picked[1]
    left = size - len(text)
    if left:
        text += " " + rng.choice(_closers()[left])
    return text


def _paste(rng: random.Random, text: str, room: int) -> str:
    """``text`` with pasted output after it, as many lines as fit in ``room`` (at least one)."""
    text += " Here is the output:"
    room -= len(" Here is the output:")
    while True:
        picked = _pick(rng, _PASTES, _within(room, len(_NL)))
        if picked is None:
            return text
        text += _NL + picked[1]
        room -= len(_NL) + len(picked[1])
        if room < _CLOSE_MAX:
            return text


def _within(room: int, extra: int) -> Callable[[str], bool]:
    """Whether a text and ``extra`` more characters fit in ``room``."""
    return lambda text: len(text) + extra <= room


def _pick(
    rng: random.Random, templates: tuple[str, ...], fits: Callable[[str], bool]
) -> tuple[str, str] | None:
    """One of ``templates`` and its text, filled at random, that ``fits``; ``None`` when none
    does."""
    for index in rng.sample(range(len(templates)), len(templates)):
        template = templates[index]
        slots = _slots(template)
        values = {slot: rng.choice(_VOCABULARY[slot]) for slot in slots if slot != "type2"}
        if "type2" in slots:  # two different types
            values["type"], values["type2"] = rng.sample(_TYPES, 2)
        text = template.format(**values)
        if fits(text):
            return template, text
    return None


@cache
def _slots(template: str) -> tuple[str, ...]:
    """The names of the slots in ``template``, in the order they appear: a set's order changes
    with each interpreter's string hashing, and the draws (so the corpus) would with it."""
    return tuple(dict.fromkeys(name for _, name, _, _ in Formatter().parse(template) if name))


@cache
def _closers() -> dict[int, tuple[str, ...]]:
    """For every gap from ``_CLOSE_MIN`` to ``_CLOSE_MAX``: closers (one, else two) that fill it
    exactly after a space."""
    table = _sums(_CLOSERS, " ", _CLOSE_MAX - 1)
    out = {gap: tuple(table[gap - 1]) for gap in range(_CLOSE_MIN, _CLOSE_MAX + 1)}
    missing = [gap for gap, found in out.items() if not found]
    assert not missing, f"no closer fills gaps {missing}"
    return out


@cache
def _replies() -> dict[int, tuple[str, ...]]:
    """For every size up to ``_SHORT_MAX``: short replies (one, else two) of exactly that size."""
    table = _sums(_REPLIES, ", ", _SHORT_MAX)
    out = {size: tuple(table[size]) for size in range(1, _SHORT_MAX + 1)}
    missing = [size for size, found in out.items() if not found]
    assert not missing, f"no short reply is {missing} characters long"
    return out


def _sums(phrases: tuple[str, ...], sep: str, limit: int) -> list[list[str]]:
    """For each length up to ``limit``: the phrases that long, else the joins of two different
    phrases by ``sep`` that long."""
    singles: list[list[str]] = [[] for _ in range(limit + 1)]
    pairs: list[list[str]] = [[] for _ in range(limit + 1)]
    for first in phrases:
        if len(first) <= limit:
            singles[len(first)].append(first)
        for second in phrases:
            length = len(first) + len(sep) + len(second)
            if first != second and length <= limit:
                pairs[length].append(first + sep + second)
    return [one or two for one, two in zip(singles, pairs, strict=True)]
