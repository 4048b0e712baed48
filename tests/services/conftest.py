"""Fixtures shared by the service tests that run real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack (not started) on an empty Claude folder, so not in demo mode."""
    (tmp_path / "claude").mkdir()
    s = Stack(tmp_path / "home", tmp_path / "claude")
    yield s
    s.stop_all()
