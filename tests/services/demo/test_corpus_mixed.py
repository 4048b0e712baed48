"""The mixed corpus (services.demo.corpus.mixed): all three CLIs' trees at once, by byte share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.demo.corpus.mixed import generate_mixed

START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def test_mixed_tree_splits_bytes_by_share(tmp_path: Path) -> None:
    """generate_mixed writes claude/, codex/ and gemini/ with about 70/20/10 % of the bytes."""
    m = generate_mixed(tmp_path, 12.0, seed=2, start=START)
    shares = [round(part.bytes / m.bytes, 1) for part in m]
    assert [0.7, 0.2, 0.1] == shares
    assert all((tmp_path / name).is_dir() for name in ("claude", "codex", "gemini"))


def test_mixed_tree_refuses_before_writing(tmp_path: Path) -> None:
    """A non-empty provider folder stops generate_mixed before anything is written."""
    (tmp_path / "gemini" / "tmp" / "p").mkdir(parents=True)
    with pytest.raises(FileExistsError):
        generate_mixed(tmp_path, 0.1, seed=1, start=START)
    assert not (tmp_path / "claude").exists()
