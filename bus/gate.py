"""The hub's gate: pyzmq's ZAP authenticator admitting only the agents in ``admitted.json``,
and counting every peer it turns away.

Two kinds of refusal: a CURVE peer whose key is not admitted (``unknown_key``, counted by the
authenticator's credentials callback) and a peer that does not speak CURVE at all, a plain
socket (``no_key``: libzmq fails the handshake before ZAP is asked, so a socket monitor on each
CURVE-serving socket sees it). ``refused`` is read from the owning process's heartbeat.
"""

from __future__ import annotations

import errno
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from bus.curve import ADMITTED_FILE, KEYS_DIR, ZAP_DOMAIN, BadKey, admitted

UNKNOWN_KEY = "unknown_key"
NO_KEY = "no_key"
BAD_HANDSHAKE = "bad_handshake"
_HANDSHAKE_FAILURES = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
# A plain peer reads our CURVE greeting, sees the mechanism mismatch first and hangs up: the
# server then sees only a broken pipe or a reset, with no protocol detail. Which side notices
# first is a race, so both outcomes are a peer without a key.
_HUNG_UP = frozenset({errno.EPIPE, errno.ECONNRESET})


class Gate:
    """Starts the authenticator on the process's context; ``watch`` each CURVE socket."""

    def __init__(self, state: Path, context: zmq.Context[zmq.Socket[bytes]] | None = None) -> None:
        self.path = state / KEYS_DIR / ADMITTED_FILE
        self.context = context or zmq.Context.instance()
        self.refused: Counter[str] = Counter()
        self._keys: frozenset[bytes] = frozenset()
        self._stamp: tuple[int, int] | None = None
        self._auth = ThreadAuthenticator(self.context)
        self._monitors: list[zmq.Socket[bytes]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The monitor thread blocks until a refusal or a wake (a new socket to watch, or stop):
        # a hub at rest never wakes for it.
        self._wake_address = f"inproc://otm-gate-wake-{id(self)}"
        self._wake_in: zmq.Socket[bytes] | None = None
        self._wake_out: zmq.Socket[bytes] | None = None

    def start(self) -> None:
        """Answer ZAP requests from now on (before any CURVE bind)."""
        self._auth.start()
        self._auth.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=self)

    def callback(self, domain: str, key: bytes) -> bool:
        """The authenticator's question: is this z85 public key admitted? (A refusal counts.)"""
        if key in self._current():
            return True
        self.refused[UNKNOWN_KEY] += 1
        return False

    def _current(self) -> frozenset[bytes]:
        # Re-read only when the file changed: `otm keys add` works without a restart.
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            try:
                self._keys = frozenset(
                    a.key.encode("ascii") for a in admitted(self.path.parent.parent)
                )
            except BadKey:
                self._keys = frozenset()  # a damaged list admits nobody
            self._stamp = stamp
        return self._keys

    def watch(self, sock: zmq.Socket[bytes]) -> None:
        """Count the plain peers that ``sock`` (serving CURVE) turns away."""
        monitor = sock.get_monitor_socket(_HANDSHAKE_FAILURES)
        self._monitors.append(monitor)
        if self._thread is None:
            self._wake_in = self.context.socket(zmq.PAIR)
            self._wake_in.bind(self._wake_address)
            self._wake_out = self.context.socket(zmq.PAIR)
            self._wake_out.connect(self._wake_address)
            self._thread = threading.Thread(
                target=self._count, args=(self._wake_in,), name="gate-monitor", daemon=True
            )
            self._thread.start()
        else:
            self._wake()  # so the thread polls the new monitor too

    def _wake(self) -> None:
        if self._wake_out is not None:
            self._wake_out.send(b"", zmq.NOBLOCK)

    def _count(self, wake: zmq.Socket[bytes]) -> None:
        while not self._stop.is_set():
            poller = zmq.Poller()
            poller.register(wake, zmq.POLLIN)
            for monitor in list(self._monitors):
                poller.register(monitor, zmq.POLLIN)
            for ready, _ in poller.poll():
                if ready is wake:
                    wake.recv()
                    continue
                event: dict[str, Any] = recv_monitor_message(ready)
                self.refused[refusal(event["event"], event["value"])] += 1

    def stop(self) -> None:
        """Stop answering and counting."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=1)
        for sock in (*self._monitors, self._wake_in, self._wake_out):
            if sock is not None:
                sock.close(0)
        self._auth.stop()


def refusal(event: int, value: int) -> str:
    """The refusal a failed handshake counts as: ``no_key`` for a peer that spoke no CURVE."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        plain = value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
    else:
        plain = value in _HUNG_UP
    return NO_KEY if plain else BAD_HANDSHAKE
