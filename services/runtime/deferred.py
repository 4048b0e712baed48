"""Importing structlog without asyncio, in processes that have no event loop.

structlog imports asyncio at the top of two modules (``structlog._native`` and
``structlog.stdlib``), only for its ``a``-prefixed logging methods (``ainfo``...), which hand a
log call to a thread from inside a running event loop. Five of the stack's seven processes
have no event loop, yet asyncio and what it pulls in (ssl, subprocess, concurrent.futures,
socket) cost each of them ~7 MB of memory and ~16 ms at every start.

``deferred("asyncio")`` puts a stand-in under that name for the length of an import: structlog
keeps a reference to the stand-in, which imports the real asyncio the first time an attribute
of it is read. After the block the stand-in is gone from ``sys.modules``, so every other
``import asyncio`` (uvicorn's, desktop-notifier's) is the usual import of the real module.

importlib's ``LazyLoader`` cannot do this on Python 3.11: an ``import asyncio`` of a lazy module
reads its ``__spec__``, which loads it at once. The stand-in keeps ``__spec__`` in its own
namespace (None), so only a real use of asyncio reaches ``__getattr__``.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator


class StandIn(types.ModuleType):
    """Stands in for a module not imported yet; the first attribute read imports it."""

    def __getattr__(self, name: str) -> object:
        return getattr(_real(self.__name__), name)


def _real(name: str) -> types.ModuleType:
    module = sys.modules.get(name)
    if module is None or isinstance(module, StandIn):
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
    return module


@contextlib.contextmanager
def deferred(name: str) -> Iterator[None]:
    """Within the block, ``import <name>`` gives a ``StandIn`` (unless the module is imported
    already); afterwards ``import <name>`` is the usual import again."""
    if name in sys.modules:
        yield
        return
    stand_in = StandIn(name)
    sys.modules[name] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]


def import_structlog_without_asyncio() -> None:
    """Import structlog with asyncio deferred until something uses it."""
    with deferred("asyncio"):
        import structlog  # noqa: F401
