"""Deferring asyncio while structlog is imported: each check runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]


def fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter that imports this checkout."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
    result = subprocess.run(
        [sys.executable, "-I", "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_structlog_imported_this_way_leaves_asyncio_unimported() -> None:
    """After ``import_structlog_without_asyncio`` neither asyncio nor its ssl is loaded."""
    printed = fresh_python(
        "from services.runtime.deferred import import_structlog_without_asyncio as imp; imp(); "
        "import structlog; print(sorted(m for m in ('asyncio', 'ssl') if m in sys.modules))"
    )
    assert "[]" == printed


def test_a_later_import_of_asyncio_is_the_real_module() -> None:
    """``import asyncio`` after the block is the usual import, not the stand-in."""
    printed = fresh_python(
        "from services.runtime.deferred import import_structlog_without_asyncio as imp; imp(); "
        "import asyncio; print(type(asyncio).__name__, asyncio.run(asyncio.sleep(0, 'ran')))"
    )
    assert "module ran" == printed


def test_structlog_async_logging_still_works() -> None:
    """structlog's ``ainfo`` (which needs asyncio) imports it through the stand-in and logs."""
    printed = fresh_python(
        "from services.runtime.deferred import import_structlog_without_asyncio as imp; imp(); "
        "import structlog, io; out = io.StringIO(); "
        "structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out), "
        "processors=[structlog.processors.JSONRenderer()], "
        "wrapper_class=structlog.make_filtering_bound_logger(20)); "
        "import asyncio; asyncio.run(structlog.get_logger().ainfo('hello')); "
        "print(out.getvalue().strip())"
    )
    assert '{"event": "hello"}' == printed


def test_a_module_imported_already_is_left_alone() -> None:
    """When asyncio is imported before the block, structlog gets the real module."""
    printed = fresh_python(
        "import asyncio; from services.runtime.deferred import deferred\n"
        "with deferred('asyncio'):\n    import structlog._native as n\n"
        "print(n.asyncio is asyncio)"
    )
    assert "True" == printed


def test_the_stand_in_imports_the_module_on_first_use() -> None:
    """Reading an attribute of the stand-in imports the real module and gives its attribute."""
    printed = fresh_python(
        "from services.runtime.deferred import deferred\n"
        "with deferred('colorsys'):\n    import colorsys as stand_in\n"
        "print('colorsys' in sys.modules, stand_in.rgb_to_hsv(1, 0, 0), 'colorsys' in sys.modules)"
    )
    assert "False (0.0, 1.0, 1) True" == printed
