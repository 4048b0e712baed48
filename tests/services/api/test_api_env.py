"""The environment the api tests start their processes with is a temporary one."""

from __future__ import annotations

from pathlib import Path


def test_processes_get_a_temporary_home_and_state(
    env: dict[str, str], tmp_path: Path, hermetic: Path, real_home: Path
) -> None:
    """HOME is the test's temporary home and OTM_HOME its own state dir, never the real ones."""
    assert (str(hermetic / "home"), str(tmp_path / "home")) == (env["HOME"], env["OTM_HOME"])
    assert [] == [k for k, v in env.items() if v == str(real_home)]
