"""A real HTTP server on 127.0.0.1 that stands in for a provider endpoint and misbehaves on cue.

Each path answers from a script: queued replies are used once each, in order, then the path's
standing reply. A reply can be slow, trickle its body, send truncated JSON or drop the
connection. Every request received is kept (method, path, headers, body) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``body`` is JSON-encoded unless it is already bytes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow server, or a time-out)."""
    trickle: float = 0.0
    """Seconds to wait between body bytes (a server that never quite finishes)."""
    hang_up: bool = False
    """Close the connection without answering."""

    def payload(self) -> bytes:
        """The body's bytes."""
        if isinstance(self.body, bytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


class FakeEndpoint:
    """The server; use as a context manager or call ``start``/``stop``."""

    def __init__(self) -> None:
        self.standing: dict[str, Reply] = {}
        self.queued: dict[str, deque[Reply]] = defaultdict(deque)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, reply: Reply) -> None:
        """Answer every request for ``path`` with ``reply`` (after any queued replies)."""
        with self._lock:
            self.standing[path] = reply

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests for ``path`` with these replies, once each."""
        with self._lock:
            self.queued[path].extend(replies)

    def requests_for(self, path: str) -> list[Received]:
        """The requests received for ``path`` so far."""
        with self._lock:
            return [r for r in self.received if r.path == path]

    def start(self) -> FakeEndpoint:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; replies still sleeping are cut short."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, path: str, received: Received) -> Reply | None:
        with self._lock:
            self.received.append(received)
            if self.queued[path]:
                return self.queued[path].popleft()
            return self.standing.get(path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test output is not the place for access logs."""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                received = Received(self.command, path, dict(self.headers.items()), body)
                reply = endpoint._next(path, received) or Reply(404, {"error": "not scripted"})
                if reply.delay and endpoint._stopping.wait(reply.delay):
                    return
                if reply.hang_up:
                    self.close_connection = True
                    return
                payload = reply.payload()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    if reply.trickle:
                        for i in range(len(payload)):
                            self.wfile.write(payload[i : i + 1])
                            self.wfile.flush()
                            if endpoint._stopping.wait(reply.trickle):
                                return
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def wait_for_requests(endpoint: FakeEndpoint, path: str, count: int, timeout: float = 10) -> None:
    """Block until ``path`` has received ``count`` requests (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while len(endpoint.requests_for(path)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{path} got {len(endpoint.requests_for(path))} requests, wanted {count}"
            )
        time.sleep(0.02)
