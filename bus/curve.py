"""CURVE keys for a hub and its agents: this machine's key pair, the agents a hub admits, and
the socket options that put a ``tcp://`` socket behind them.

Everything lives under ``<state>/keys/``: ``machine.key`` (the public key, z85),
``machine.key_secret`` (the secret key, z85, mode 0600, created so from the start: never
readable by anyone else, even for an instant) and, on a hub, ``admitted.json`` (the agents it
lets in). A secret key is never printed or logged; only ``KeyPair.public`` is.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
import zmq
from zmq.utils import z85

ZAP_DOMAIN = "otm"
"""The ZAP domain of every socket a hub serves with CURVE."""
KEYS_DIR = "keys"
PUBLIC_FILE = "machine.key"
SECRET_FILE = "machine.key_secret"
ADMITTED_FILE = "admitted.json"
Z85_KEY_LENGTH = 40
"""A 32-byte CURVE key in z85."""
HEARTBEAT_MS = 2000
"""ZMTP heartbeats on every tcp socket: a dead link (a cable pulled, a NAT that forgot us)
gives no FIN, so without them a peer would wait on it forever instead of reconnecting."""
HEARTBEAT_TIMEOUT_MS = 6000
RECONNECT_MAX_MS = 5000
"""Reconnects back off up to this, so an agent whose hub is away for hours keeps trying."""


class BadKey(ValueError):
    """A key file or a key given on the command line is not usable (the message says why)."""


@dataclass(frozen=True)
class KeyPair:
    """This machine's CURVE key pair, both z85."""

    public: str
    secret: str

    def __repr__(self) -> str:
        # A traceback or a log line that shows the pair must never show the secret.
        return f"KeyPair(public={self.public!r}, secret=<hidden>)"


class Admitted(msgspec.Struct, frozen=True):
    """An agent a hub lets in."""

    name: str
    key: str
    added: float


def keys_dir(state: Path) -> Path:
    """The keys folder of a state directory, created with mode 0700 if missing."""
    path = state / KEYS_DIR
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        path.chmod(0o700)
    return path


def valid_key(text: str) -> bool:
    """Whether ``text`` is a z85 CURVE key (40 characters that decode to 32 bytes)."""
    if len(text) != Z85_KEY_LENGTH:
        return False
    try:
        return len(z85.decode(text.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError, KeyError):
        return False


def load_pair(state: Path) -> KeyPair | None:
    """This machine's key pair, or None before ``otm keys init``; ``BadKey`` if damaged."""
    folder = state / KEYS_DIR
    public_path, secret_path = folder / PUBLIC_FILE, folder / SECRET_FILE
    if not public_path.exists() and not secret_path.exists():
        return None
    try:
        public = public_path.read_text(encoding="ascii").strip()
        secret = secret_path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadKey(f"cannot read this machine's keys in {folder}: {exc}") from exc
    if not (valid_key(public) and valid_key(secret)):
        raise BadKey(
            f"the keys in {folder} are damaged: move the folder away and run `otm keys init`"
        )
    if zmq.curve_public(secret.encode()).decode() != public:
        raise BadKey(
            f"{public_path} is not the public half of {secret_path}: "
            "move the keys folder away and run `otm keys init`"
        )
    return KeyPair(public, secret)


def init_pair(state: Path) -> tuple[KeyPair, bool]:
    """This machine's key pair, made now if there is none; whether it was made now."""
    existing = load_pair(state)
    if existing is not None:
        return existing, False
    folder = keys_dir(state)
    public, secret = (key.decode("ascii") for key in zmq.curve_keypair())
    # O_EXCL with mode 0600: the secret is never, even briefly, readable by another user.
    fd = os.open(folder / SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret + "\n")
    (folder / PUBLIC_FILE).write_text(public + "\n", encoding="ascii")
    return KeyPair(public, secret), True


def admitted(state: Path) -> list[Admitted]:
    """The agents this hub admits, in the order they were added."""
    path = state / KEYS_DIR / ADMITTED_FILE
    if not path.exists():
        return []
    try:
        return msgspec.json.decode(path.read_bytes(), type=list[Admitted])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadKey(f"cannot read {path}: {exc}") from exc


def admit(state: Path, name: str, key: str, now: float | None = None) -> Admitted:
    """Admit an agent's public key under ``name`` (a new key for a known name replaces it)."""
    key = key.strip()
    if not valid_key(key):
        raise BadKey(
            f"{key!r} is not a public key: give the 40 characters "
            "`otm keys init` printed on the agent"
        )
    if not name.strip():
        raise BadKey("give the agent a name, e.g. `otm keys add laptop KEY`")
    entry = Admitted(name.strip(), key, time.time() if now is None else now)
    kept = [a for a in admitted(state) if a.name != entry.name and a.key != key]
    path = keys_dir(state) / ADMITTED_FILE
    staged = path.with_suffix(".tmp")
    staged.write_bytes(msgspec.json.encode([*kept, entry]))
    staged.replace(path)  # a hub reading it mid-write sees the old list or the new one
    return entry


@dataclass(frozen=True)
class CurveClient:
    """The keys an agent's sockets connect with: its own pair and the hub's public key."""

    public: str
    secret: str
    server: str

    def __repr__(self) -> str:
        return f"CurveClient(public={self.public!r}, server={self.server!r}, secret=<hidden>)"

    def apply(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE client of the hub (before it connects)."""
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server.encode("ascii"))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret.encode("ascii"))
        link_heartbeat(sock)


def serve_curve(sock: zmq.Socket[bytes], pair: KeyPair) -> None:
    """Make the next binds of ``sock`` CURVE servers: libzmq snapshots the options at each
    bind, so binds made before this one (the local ``ipc://`` ones) stay as they were."""
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, pair.secret.encode("ascii"))
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())
    link_heartbeat(sock)


def link_heartbeat(sock: zmq.Socket[bytes]) -> None:
    """ZMTP heartbeats and a bounded reconnect back-off, so a dead tcp link is noticed and
    reconnected instead of waited on."""
    sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_MAX_MS)
