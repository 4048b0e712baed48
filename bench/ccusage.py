"""Running ccusage 20.0.24 side by side (FORMATS.md §1, §7), installing it with npm if missing."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERSION = "20.0.24"
"""The version FORMATS.md was checked against; the collector counts as this one does."""


@dataclass(frozen=True)
class CcusageRun:
    """Wall times of several identical runs and the JSON of the first."""

    seconds: list[float]
    report: dict[str, Any]


def native_package() -> str:
    """The npm package holding the native binary for this machine."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if system is None or arch is None:
        raise RuntimeError(f"ccusage has no native build for {sys.platform}/{machine}")
    return f"@ccusage/ccusage-{system}-{arch}"


def ensure_installed(cache_dir: Path) -> Path:
    """The ccusage binary under ``cache_dir``, installed with npm on first use."""
    prefix = cache_dir / f"ccusage-{VERSION}"
    name = "ccusage.exe" if sys.platform == "win32" else "ccusage"
    binary = prefix / "node_modules" / native_package() / "bin" / name
    if not binary.is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(prefix), f"ccusage@{VERSION}"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not binary.is_file():
            raise RuntimeError(f"npm install ccusage@{VERSION} failed:\n{done.stderr[-2000:]}")
    # npm unpacks the native binary without its executable bit on some platforms.
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def isolated_env(empty_home: Path, data_dirs: dict[str, str] | None = None) -> dict[str, str]:
    """The environment ccusage runs in (FORMATS.md §7): nothing but PATH, an empty HOME, UTC,
    no logs, and the data-directory variables in ``data_dirs`` (``CLAUDE_CONFIG_DIR``, ...), so
    no config or other agent's data on this machine is discovered."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(empty_home),
        "TZ": "UTC",
        "LOG_LEVEL": "0",
        **(data_dirs or {}),
    }


def run_json(
    binary: Path, arguments: list[str], data_dirs: dict[str, str], empty_home: Path
) -> dict[str, Any]:
    """``ccusage <arguments>`` in the isolated environment (working directory: the empty HOME),
    its stdout parsed as JSON; ``RuntimeError`` with the end of stderr if it fails."""
    done = subprocess.run(
        [str(binary), *arguments],
        env=isolated_env(empty_home, data_dirs),
        cwd=empty_home,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"ccusage {' '.join(arguments)} failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


DAILY: dict[str, list[str]] = {
    "claude": ["claude", "daily", "--json", "--offline", "-z", "UTC"],
    "codex": ["codex", "daily", "--json", "--offline", "-z", "UTC", "--speed", "standard"],
    "gemini": ["gemini", "daily", "--json", "--offline", "-z", "UTC"],
}
"""Each agent's daily report as FORMATS.md §1 runs it (``--speed standard``: no config.toml)."""


def daily(binary: Path, claude_dir: Path, empty_home: Path, runs: int) -> CcusageRun:
    """Time ``ccusage claude daily --json --offline -z UTC`` ``runs`` times on ``claude_dir``.

    The environment is emptied as in FORMATS.md §7: an empty HOME (and working directory) so no
    config or other agent's data is discovered, UTC, no logs.
    """
    dirs = {"claude": {"CLAUDE_CONFIG_DIR": str(claude_dir)}}
    return daily_each(binary, dirs, empty_home, runs)["claude"]


def daily_each(
    binary: Path, data_dirs: dict[str, dict[str, str]], empty_home: Path, runs: int
) -> dict[str, CcusageRun]:
    """Time ``ccusage <agent> daily`` (`DAILY`) for each agent of ``data_dirs`` (agent: its
    data-directory variables), the agents one after the other, ``runs`` rounds.

    Each runs in the isolated environment of `isolated_env` with only its own data variable.
    """
    seconds: dict[str, list[float]] = {agent: [] for agent in data_dirs}
    first: dict[str, str] = {}
    for _ in range(runs):
        for agent, dirs in data_dirs.items():
            command = [str(binary), *DAILY[agent]]
            env = isolated_env(empty_home, dirs)
            began = time.perf_counter()
            done = subprocess.run(command, env=env, cwd=empty_home, capture_output=True, text=True)
            seconds[agent].append(time.perf_counter() - began)
            if done.returncode != 0:
                raise RuntimeError(
                    f"ccusage {agent} daily failed ({done.returncode}):\n{done.stderr[-2000:]}"
                )
            first.setdefault(agent, done.stdout)
    return {agent: CcusageRun(seconds[agent], json.loads(first[agent])) for agent in data_dirs}
