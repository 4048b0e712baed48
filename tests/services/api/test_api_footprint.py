"""What the running api process leaves out: Litestar's pydantic plugins (pydantic is installed,
genai-prices needs it) and uvicorn's command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.services.api.api_support import Api

pytestmark = pytest.mark.e2e


def mapped_files(pid: int) -> set[str]:
    """The file names of every mapping of process ``pid`` (its shared libraries included)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {Path(line.split()[-1]).name for line in lines if "/" in line}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/maps")
def test_serving_api_has_not_loaded_pydantic(start_api: Callable[[], Api]) -> None:
    """After answering, the api has mapped no pydantic_core library (pydantic is installed)."""
    import pydantic_core

    api = start_api()
    status = httpx.get(f"{api.url}/schema/openapi.json").status_code
    native = Path(pydantic_core._pydantic_core.__file__).name
    assert (200, False) == (status, native in mapped_files(api.proc.pid))
