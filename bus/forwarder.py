"""The XSUB/XPUB forwarder: the one pair of endpoints every other process connects to.

Publishers connect to its XSUB side, subscribers to its XPUB side, so processes can start in any
order. A lock file makes a second forwarder refuse to start instead of silently taking over the
ipc endpoints of the first.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import zmq

from bus.endpoints import Endpoints, run_dir
from bus.lock import ProcessLock

if TYPE_CHECKING:
    from bus.curve import KeyPair
    from bus.gate import Gate

HIGH_WATER_MARK = 200_000
FORWARDER_THREAD = "otm-forwarder"
"""The forwarder thread's name, also as the OS shows it: it wakes once per message it forwards
(libzmq's proxy loop), which ``bench.idle`` shows apart from the loops that wake on their own."""
_PR_SET_NAME = 15


class Forwarder:
    """Runs ``zmq.proxy_steerable`` in a thread until ``stop`` is called."""

    def __init__(
        self,
        endpoints: Endpoints,
        state: Path | None = None,
        listen: Endpoints | None = None,
        pair: KeyPair | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.listen = listen
        """On a hub: the tcp endpoints agents reach, served with CURVE (``pair``, ``gate``)."""
        self.pair = pair
        self.gate = gate
        self.lock = ProcessLock(run_dir(state) / "bus.lock")
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self._thread: threading.Thread | None = None
        self._control_addr = f"inproc://forwarder-control-{id(self)}"

    def start(self) -> None:
        """Take the lock, bind both sides and start forwarding in a background thread."""
        self.lock.acquire()
        xsub = self._ctx.socket(zmq.XSUB)
        xpub = self._ctx.socket(zmq.XPUB)
        for sock in (xsub, xpub):
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
            sock.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
        _unlink_stale_ipc(self.endpoints.publish)
        _unlink_stale_ipc(self.endpoints.subscribe)
        xsub.bind(self.endpoints.publish)
        xpub.bind(self.endpoints.subscribe)
        if self.listen is not None:
            self._bind_hub(xsub, xpub, self.listen)
        control = self._ctx.socket(zmq.PAIR)
        control.bind(self._control_addr)
        ready = threading.Event()

        def run() -> None:
            name_os_thread(FORWARDER_THREAD)
            ready.set()
            try:
                zmq.proxy_steerable(xsub, xpub, None, control)
            except zmq.ContextTerminated:
                pass
            finally:
                for sock in (xsub, xpub, control):
                    sock.close(0)

        self._thread = threading.Thread(target=run, name=FORWARDER_THREAD, daemon=True)
        self._thread.start()
        ready.wait()

    def _bind_hub(self, xsub: zmq.Socket[bytes], xpub: zmq.Socket[bytes], at: Endpoints) -> None:
        from bus.curve import serve_curve

        if self.pair is None:
            raise ValueError("a forwarder listening for agents needs this machine's key pair")
        for sock, where in ((xsub, at.publish), (xpub, at.subscribe)):
            # After the local binds: libzmq takes each bind's options as they are at that bind.
            serve_curve(sock, self.pair)
            if self.gate is not None:
                self.gate.watch(sock)
            sock.bind(where)

    def stop(self) -> None:
        """Stop forwarding, close the sockets and release the lock."""
        if self._thread is not None:
            steer = self._ctx.socket(zmq.PAIR)
            steer.setsockopt(zmq.LINGER, 0)
            steer.connect(self._control_addr)
            steer.send(b"TERMINATE")
            self._thread.join(timeout=2)
            steer.close(0)
            self._thread = None
        self.lock.release()


def _unlink_stale_ipc(endpoint: str) -> None:
    # We hold the lock, so a socket file left here belongs to a forwarder that died.
    if endpoint.startswith("ipc://"):
        Path(endpoint.removeprefix("ipc://")).unlink(missing_ok=True)


def name_os_thread(name: str) -> None:
    """Give the calling thread ``name`` in the OS too (``top -H``, ``/proc/<pid>/task/*/comm``;
    Linux only, at most 15 bytes; elsewhere nothing happens)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass
