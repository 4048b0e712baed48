"""Where the bus and the store's replay socket live, and the per-user state directory.

On POSIX the default transport is ``ipc://`` in ``<state>/run``, a directory only its owner can
enter (mode 0700), so no other user can read the stream. ``OTM_BUS_TRANSPORT=tcp`` (the default
on Windows) uses loopback TCP ports instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

TCP_BASE_PORT = 5750


def state_dir() -> Path:
    """The one folder holding all state and config: ``$OTM_HOME`` or the platform data dir."""
    env = os.environ.get("OTM_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed without OTM_HOME; keeps quick commands quick

    return Path(platformdirs.user_data_dir("opentokenmonitor", appauthor=False))


def run_dir(state: Path | None = None) -> Path:
    """The private directory for sockets and locks, created with mode 0700 if missing."""
    path = (state or state_dir()) / "run"
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        # mkdir's mode is masked by umask; chmod makes the guarantee unconditional.
        path.chmod(0o700)
    return path


@dataclass(frozen=True)
class Endpoints:
    """The three addresses every process agrees on."""

    publish: str
    """Publishers connect here (the forwarder's XSUB side)."""
    subscribe: str
    """Subscribers connect here (the forwarder's XPUB side)."""
    replay: str
    """The store's REP socket answering ``ReplayRequest``."""


def endpoints(state: Path | None = None) -> Endpoints:
    """Resolve the endpoints for a state directory and the configured transport."""
    transport = os.environ.get("OTM_BUS_TRANSPORT", "tcp" if sys.platform == "win32" else "ipc")
    if transport == "tcp":
        base = int(os.environ.get("OTM_BUS_PORT", TCP_BASE_PORT))
        return Endpoints(
            publish=f"tcp://127.0.0.1:{base}",
            subscribe=f"tcp://127.0.0.1:{base + 1}",
            replay=f"tcp://127.0.0.1:{base + 2}",
        )
    if transport != "ipc":
        raise ValueError(f"OTM_BUS_TRANSPORT must be 'ipc' or 'tcp', not {transport!r}")
    run = run_dir(state)
    return Endpoints(
        publish=f"ipc://{run / 'bus-in.sock'}",
        subscribe=f"ipc://{run / 'bus-out.sock'}",
        replay=f"ipc://{run / 'store-replay.sock'}",
    )
