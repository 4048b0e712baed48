"""Fixtures for end-to-end tests: a generated corpus and a stack of real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.demo.corpus.claude import Manifest
from tests.e2e.corpus_support import make_corpus
from tests.e2e.stack import Stack


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Manifest]:
    """A small corpus with every edge case."""
    root = tmp_path / "claude"
    return root, make_corpus(root, size_mb=2)


@pytest.fixture
def stack(tmp_path: Path, corpus: tuple[Path, Manifest]) -> Iterator[Stack]:
    """A stack (not started) reading the small corpus."""
    s = Stack(tmp_path / "home", corpus[0])
    yield s
    s.stop_all()
