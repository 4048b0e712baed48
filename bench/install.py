"""A regular install of this working tree, as README's first command makes it, for timing.

A developer's ``pip install -e .`` puts setuptools' editable finder in ``site``: every start of
``otm`` then imports it (pathlib, fnmatch, re: about 5 ms of a report's 25). A user's
``pip install .`` has no such finder. One-shot timings (``bench.reports``) run the ``otm`` of
a regular install of the current code in a virtual environment of its own under the cache,
built on first use (``pip install``, about 15 s with pip's cache warm) and reused until a file
of the package changes; ``--install editable`` times the developer's install instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.pipeline import otm_command as developers_otm

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PARTS = ("pyproject.toml", "README.md", "bus", "services", "otm")
"""What ``pip install .`` installs from: a change to any file here means a new install."""
_BUILD_LEFTOVERS = shutil.ignore_patterns("__pycache__", "*.egg-info")
REGULAR = "regular"
EDITABLE = "editable"


def source_digest(root: Path = ROOT) -> str:
    """A short hash of every file a regular install is built from (names and bytes)."""
    digest = hashlib.sha256()
    for part in PACKAGE_PARTS:
        top = root / part
        files = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def regular_install(cache_dir: Path, root: Path = ROOT) -> Path:
    """The ``otm`` script of a regular install of ``root`` under ``cache_dir``, built now if
    this code has none yet (older installs are removed)."""
    place = cache_dir / f"install-{source_digest(root)}"
    script = place / ("Scripts/otm.exe" if os.name == "nt" else "bin/otm")
    if script.is_file():
        return script
    for old in cache_dir.glob("install-*"):
        shutil.rmtree(old, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(place)], check=True)
    python = place / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    with tempfile.TemporaryDirectory() as tmp:
        # From a copy of the package's files only: setuptools builds in the source folder and
        # a ``build/`` left there from an earlier build could bring deleted modules back.
        source = Path(tmp) / "source"
        for part in PACKAGE_PARTS:
            if (root / part).is_dir():
                shutil.copytree(root / part, source / part, ignore=_BUILD_LEFTOVERS)
            else:
                source.mkdir(exist_ok=True)
                shutil.copy2(root / part, source / part)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
            capture_output=True,
            text=True,
        )
    if pip.returncode != 0:
        shutil.rmtree(place, ignore_errors=True)
        raise RuntimeError(f"pip could not install {root} into {place}:\n{pip.stderr[-2000:]}")
    return script


def otm_command(install: str, cache_dir: Path) -> list[str]:
    """How to start ``otm`` for ``install`` (``regular`` or ``editable``, this interpreter's)."""
    if install == REGULAR:
        return [str(regular_install(cache_dir))]
    return developers_otm()
