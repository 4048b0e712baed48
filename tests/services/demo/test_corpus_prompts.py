"""The demo corpora's user prompts: typed-looking, starting at a sentence, and without effect on
the trees' sizes and tokens."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from services.collector.claude.adapter import ClaudeAdapter
from services.collector.codex.adapter import CodexAdapter
from services.collector.gemini.adapter import GeminiAdapter
from services.collector.logadapter import LogAdapter
from services.demo.corpus import claude, codex, gemini, prompts
from services.demo.corpus.prompts import compose, typed_prompt
from services.runtime.cli_roots import codex_roots

START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
OPENINGS = tuple(template.split("{", 1)[0] for template in prompts._OPENINGS)
"""The fixed start of every opening request (empty for one that starts with a slot)."""


def looks_typed(text: str) -> bool:
    """Whether ``text`` starts like an opening request or is a short reply."""
    if any(text.startswith(start) for start in OPENINGS if start):
        return True
    if any(text.startswith(command) for command in prompts._COMMANDS):
        return True  # "{cmd} fails on CI but passes locally. Why?"
    return len(text) <= prompts._SHORT_MAX and text in prompts._replies()[len(text)]


@pytest.mark.parametrize("seed", [1, 2])
def test_every_size_is_met_exactly(seed: int) -> None:
    """A composed prompt has exactly the asked size, for every size up to 2000."""
    rng = random.Random(seed)
    wrong = [size for size in range(1, 2001) if size != len(compose(rng, size))]
    assert [] == wrong


def test_a_prompt_is_safe_inside_a_json_string() -> None:
    """ASCII, no quote, and a backslash only in a ``\\n`` escape: it decodes as written."""
    rng = random.Random(3)
    texts = [compose(rng, size) for size in range(1, 3000, 7)]
    unsafe = [t for t in texts if not t.isascii() or '"' in t or "\\" in t.replace("\\n", "")]
    assert ([], len(texts)) == (unsafe, len([json.loads(f'"{t}"') for t in texts]))


def test_a_typed_prompt_has_the_bytes_of_the_drawn_slice() -> None:
    """Non-ASCII and escapes in the drawn prose count in bytes, as the file does."""
    drawn = r"Looks like issue — cursor → offset\n\nfix the `store.flush()` path. "
    assert len(drawn.encode()) == len(typed_prompt(drawn))


def test_the_same_slice_gives_the_same_prompt() -> None:
    """A prompt depends on nothing but its slice (the generators stay deterministic)."""
    drawn = "Run build import export return type field schema query index."
    assert typed_prompt(drawn) == typed_prompt(drawn)


def test_prompts_start_like_a_request_or_a_reply() -> None:
    """Every composed prompt starts at the beginning of a sentence a person types."""
    rng = random.Random(4)
    odd = [t for t in (compose(rng, size) for size in range(1, 1500, 3)) if not looks_typed(t)]
    assert [] == odd


def test_a_long_prompt_ends_with_pasted_output() -> None:
    """Above a few hundred characters a prompt pastes output, as people do."""
    assert "Here is the output:\\n" in compose(random.Random(5), 2000)


# -- the generators ---------------------------------------------------------------------------


def read_prompts(adapter: LogAdapter[Any]) -> list[str]:
    """The texts of every prompt the collector reads through ``adapter``."""
    texts: list[str] = []
    for path in adapter.all_files():
        cursor, more = None, True
        while more:
            batch, more = adapter.read(path, cursor)
            if batch is None:
                break
            texts += [p.text for p in batch.prompts]
            cursor = batch.after
    return texts


def test_the_claude_demo_prompts_read_as_typed(tmp_path: Path) -> None:
    """The prompts the collector finds in a Claude demo tree all look typed."""
    claude.generate(tmp_path, 0.3, seed=2, start=START, days=3)
    texts = read_prompts(ClaudeAdapter([tmp_path / "projects"]))
    assert (True, []) == (bool(texts), [t for t in texts if not looks_typed(t)])


def test_the_codex_demo_prompts_read_as_typed(tmp_path: Path) -> None:
    """The prompts the collector finds in a Codex demo tree all look typed."""
    codex.generate(tmp_path, 0.3, seed=2, start=START, days=3)
    texts = read_prompts(CodexAdapter(codex_roots([str(tmp_path)], env={})))
    assert (True, []) == (bool(texts), [t for t in texts if not looks_typed(t)])


def test_the_gemini_demo_prompts_read_as_typed(tmp_path: Path) -> None:
    """The prompts the collector finds in a Gemini demo tree (JSONL and legacy) look typed."""
    gemini.generate(tmp_path, 0.3, seed=2, start=START, days=3)
    texts = read_prompts(GeminiAdapter([tmp_path / "tmp"]))
    assert (True, []) == (bool(texts), [t for t in texts if not looks_typed(t)])


@pytest.mark.parametrize("module", [claude, codex, gemini], ids=["claude", "codex", "gemini"])
def test_prompt_words_change_no_size_and_no_token(
    module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing the drawn prose itself instead gives the same manifest: files, bytes, lines and
    every expected record (a seed's totals do not depend on the prompts' words)."""
    typed = module.generate(tmp_path / "typed", 0.5, seed=3, start=START, days=5)
    monkeypatch.setattr(module, "typed_prompt", lambda drawn: drawn)
    prose = module.generate(tmp_path / "prose", 0.5, seed=3, start=START, days=5)
    assert prose == typed


@pytest.mark.e2e
def test_a_slice_gives_the_same_prompt_in_every_interpreter() -> None:
    """Prompts do not depend on the interpreter's string hashing (PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys

    code = (
        "from services.demo.corpus.prompts import typed_prompt\n"
        "print([typed_prompt('x' * n + str(n)) for n in range(40, 400, 7)])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert 1 == len(outputs)
