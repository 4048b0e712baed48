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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bus.curve import CurveClient

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
    curve: CurveClient | None = None
    """On an agent: the keys every socket connects to the hub with."""


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


def tcp_endpoints(url: str, curve: CurveClient | None = None) -> Endpoints:
    """The three endpoints of a hub at ``tcp://HOST:PORT``: publish, subscribe and replay on
    ``PORT``, ``PORT + 1`` and ``PORT + 2`` (as the local tcp transport lays them out)."""
    host, port = split_tcp(url)
    return Endpoints(
        publish=f"tcp://{host}:{port}",
        subscribe=f"tcp://{host}:{port + 1}",
        replay=f"tcp://{host}:{port + 2}",
        curve=curve,
    )


def split_tcp(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` as host and port; ``ValueError`` saying what is wrong."""
    if not url.startswith("tcp://"):
        raise ValueError(f"{url!r} does not start with tcp://")
    host, sep, port = url.removeprefix("tcp://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{url!r} is not tcp://HOST:PORT")
    number = int(port)
    if not 1 <= number <= 65_533:
        raise ValueError(f"{url!r}: the port must be 1 to 65533 (it and the next two are used)")
    return host, number
