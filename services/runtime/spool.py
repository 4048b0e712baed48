"""Limits observations dropped by short-lived commands for the collector to pick up.

``otm statusline`` runs for a few milliseconds on every Claude Code status update: too short
to join the bus (a fresh PUB socket loses what it sends before subscribers connect). It writes
its observation here instead, atomically (write a temporary file, then rename), one file per
source so only the newest matters. The watcher sees the file change and the collector
publishes it; a one-shot command without the stack applies it in-process.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from bus.messages import LimitsObserved

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(LimitsObserved)
MAX_SPOOL_BYTES = 64 * 1024


def spool_dir(state: Path) -> Path:
    """``<state>/spool``: one JSON file per source of observations."""
    return state / "spool"


def write_observation(state: Path, name: str, observation: LimitsObserved) -> Path:
    """Replace the spool file ``name`` with ``observation``; readers never see half a file."""
    folder = spool_dir(state)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"{name}.json"
    temporary = folder / f".{name}.{os.getpid()}.tmp"
    temporary.write_bytes(_encoder.encode(observation))
    os.replace(temporary, target)
    return target


def read_observations(state: Path) -> tuple[list[LimitsObserved], list[str]]:
    """Every spooled observation, and a plain message for each spool file that is unreadable."""
    observations: list[LimitsObserved] = []
    problems: list[str] = []
    folder = spool_dir(state)
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix == ".json")
    except OSError:
        return observations, problems
    for path in paths:
        try:
            raw = path.read_bytes()[: MAX_SPOOL_BYTES + 1]
        except OSError as exc:
            problems.append(f"{path}: cannot read ({exc.strerror}); it is rewritten on next use")
            continue
        try:
            observations.append(_decoder.decode(raw))
        except msgspec.DecodeError:
            problems.append(f"{path}: not an observation; delete it, it is rewritten on next use")
    return observations, problems
