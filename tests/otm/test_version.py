"""``otm --version``: the real ``python -m otm`` start (``otm.entry`` first, then the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def test_version_prints_the_installed_version() -> None:
    """``python -m otm --version`` prints ``otm <version>`` and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "otm", "--version"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=50,
        check=False,
    )
    assert (0, f"otm {version('opentokenmonitor')}\n", "") == (
        result.returncode,
        result.stdout,
        result.stderr,
    )
