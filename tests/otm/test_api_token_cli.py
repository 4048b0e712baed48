"""``otm api token`` (and ``--new``) and ``otm doctor`` with an api configured beyond loopback,
run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.runtime.api_host import is_good_token
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OTM = str(Path(sys.executable).parent / ("otm.exe" if os.name == "nt" else "otm"))
TOKEN = "configured-0123456789-abcdefghijklmnopqrstuvwxyz"
EXPOSED = '[api]\nhost = "0.0.0.0"\n'


def otm(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``otm <args>`` on a hermetic state folder whose config.toml is ``config``."""
    stack = Stack(tmp_path / "state", None, {"HOME": str(tmp_path / "user")})
    (stack.home / "config.toml").write_text(config)
    return subprocess.run([OTM, *args], env=stack.env, capture_output=True, text=True, timeout=60)


def test_new_token_works_while_the_config_lacks_one(tmp_path: Path) -> None:
    """`otm api token --new` prints a token the config accepts, even while the config is
    refused for want of one."""
    done = otm(tmp_path, EXPOSED, "api", "token", "--new")
    assert (0, True) == (done.returncode, is_good_token(done.stdout.strip()))


def test_new_token_is_new_each_time(tmp_path: Path) -> None:
    """Two `--new` tokens differ."""
    first = otm(tmp_path, EXPOSED, "api", "token", "--new").stdout
    assert first != otm(tmp_path, EXPOSED, "api", "token", "--new").stdout


def test_token_prints_the_configured_one(tmp_path: Path) -> None:
    """`otm api token` prints [api] token when it is set."""
    done = otm(tmp_path, f'{EXPOSED}token = "{TOKEN}"\n', "api", "token")
    assert TOKEN == done.stdout.strip()


def test_doctor_says_the_token_is_missing(tmp_path: Path) -> None:
    """`otm doctor` refuses the config with the same line as the api (exit 2)."""
    done = otm(tmp_path, EXPOSED, "doctor")
    assert (2, True) == (done.returncode, "needs [api] token" in done.stderr + done.stdout)
