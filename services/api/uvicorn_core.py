"""uvicorn's ``Config`` and ``Server`` without its command line.

``import uvicorn`` runs ``uvicorn/__init__``, which imports ``uvicorn.main``: the ``uvicorn``
command (click, the reload and multi-worker supervisors, multiprocessing), about 1 MB of every
api process that builds its ``Config`` and ``Server`` itself and never parses a command line.
So the package is registered without running its ``__init__`` and the two modules are imported
from it; the names other uvicorn modules take from the package (``uvicorn.lifespan.on`` does
``from uvicorn import Config``) are put on it. Where uvicorn was imported already (a test
process), that package is used as it is.
"""

from __future__ import annotations

import importlib.util
import sys


def _register_bare_package() -> None:
    if "uvicorn" in sys.modules:
        return
    spec = importlib.util.find_spec("uvicorn")
    if spec is None:  # pragma: no cover - uvicorn is a declared dependency
        raise ImportError("uvicorn is not installed")
    sys.modules["uvicorn"] = importlib.util.module_from_spec(spec)


_register_bare_package()

from uvicorn.config import Config  # noqa: E402
from uvicorn.server import Server  # noqa: E402

for _name, _value in (("Config", Config), ("Server", Server)):
    if not hasattr(sys.modules["uvicorn"], _name):
        setattr(sys.modules["uvicorn"], _name, _value)

__all__ = ["Config", "Server"]
