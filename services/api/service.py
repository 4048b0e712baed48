"""The api process: uvicorn serving the Litestar app on ``[api] host`` (127.0.0.1 unless told
otherwise, and then only with ``[api] token``), plus heartbeats.

In: HTTP requests, committed events (for the stream). Work: answer from the projections.
Out: HTTP answers, the SSE stream, manual ``cmd.refresh`` requests. Only the user it runs as is
answered (``services.api.owner``); its token is made at start for where that cannot be told.

SIGTERM (or SIGINT) sets uvicorn's ``should_exit``; open streams are ended at once rather than
waited for, so the process is gone well within 2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from services.api import uvicorn_core as uvicorn
from services.api.app import create_app
from services.api.date_header import DateHeader
from services.api.guard import GuardMiddleware
from services.api.owner import Owner, effective_token
from services.api.stream import StreamHub
from services.runtime.api_host import answered_names, base_url, is_loopback
from services.runtime.installation import Runtime
from services.runtime.runner import Node, run_blocking_service

GRACEFUL_SHUTDOWN_SECONDS = 1
TICK_SECONDS = 3600.0
"""uvicorn's tick refreshes only its Date header (here: DateHeader) and checks the stop flag
(here: woken at once by the signal handler), so it may sleep."""


class ApiServer(uvicorn.Server):
    """A uvicorn server that logs "ready" once listening and ends streams when stopping."""

    def __init__(
        self,
        config: uvicorn.Config,
        hub: StreamHub,
        ready: Callable[[Mapping[str, object]], None],
    ) -> None:
        super().__init__(config)
        self.hub = hub
        self.ready = ready
        self.port: int | None = None
        self.url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        """uvicorn's loop, ticking once an hour instead of ten times a second: a stop signal
        wakes it at once, and answers are dated by ``DateHeader``."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        # on_tick refreshes the Date header when the counter is a multiple of 10.
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """uvicorn's signal handler, which also wakes the tick so stopping is not delayed."""
        super().handle_exit(sig, frame)
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Bind, then announce the address actually bound (the port may have been 0)."""
        await super().startup(sockets)
        if self.started:
            self.port = _bound_port(self.servers[0].sockets)
            host = str(self.config.host)
            self.url = base_url(host, self.port)
            self.ready({"host": host, "port": self.port, "url": self.url})

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End every open stream first: uvicorn would otherwise wait for them to finish."""
        # Stopping the hub here (not only in the app's on_shutdown) lets its follower thread
        # wind down while uvicorn closes connections.
        self.hub.stop()
        await super().shutdown(sockets)


def _bound_port(sockets: Sequence[Any]) -> int:
    return int(sockets[0].getsockname()[1])


class ApiService:
    """Serves the HTTP API and the live stream until SIGTERM."""

    name = "api"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.hub = StreamHub(runtime.endpoints, runtime.db_path)

    def start(self, node: Node) -> None:
        """Build the app and the server (uvicorn binds in ``serve``)."""
        self.node = node
        api = self.runtime.config.api
        # The stream carries prompts and spend (DESIGN.md, invariant 6): beyond loopback the
        # config has a token (load_config checked) and every request must bring it.
        beyond = not is_loopback(api.host)
        owner = Owner(effective_token(self.runtime.state, api.token), require_token=beyond)
        names = answered_names(api.host, api.allowed_hosts)
        config = uvicorn.Config(
            # Outside Litestar, so that its own answers (404, 405) are guarded too.
            DateHeader(GuardMiddleware(create_app(self.runtime, self.hub), owner, names)),
            host=api.host,
            port=self.runtime.config.api_port,
            log_config=None,
            access_log=False,
            # The owner check needs the connection's real client address: uvicorn would
            # otherwise take it from an X-Forwarded-For header sent from 127.0.0.1.
            proxy_headers=False,
            # DateHeader stamps each answer: no tick has to keep uvicorn's copy fresh.
            date_header=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        self.server = ApiServer(config, self.hub, self._ready)
        node.before_beat = self._figures
        # The heartbeat thread sleeps until the next idle beat unless these figures change.
        self.hub.on_change = node.figures_changed
        node.count_drops_of(lambda: self.hub.bus_dropped)
        return None  # ApiServer says "ready" once it listens, with the port it bound

    def serve(self) -> None:
        """uvicorn's loop; it re-raises the signal it caught once stopped, which our handler
        turns into a no-op instead of the default "die by SIGTERM"."""
        self.server.run()

    def stop(self) -> Mapping[str, object]:
        """Streams were ended by the server's shutdown."""
        return {"stream_seq": self.hub.position}

    def _ready(self, fields: Mapping[str, object]) -> None:
        self.node.ready(fields)
        self.node.figures_changed()  # the url is known now

    def _figures(self) -> None:
        # No head_seq: followers trust a heartbeat's head_seq as the store's log head.
        pulse = self.node.pulse
        pulse.counters["stream_clients"] = self.hub.clients
        pulse.counters["stream_clients_dropped"] = self.hub.dropped
        pulse.counters["stream_seq"] = self.hub.position
        if self.server.url is not None:
            pulse.detail["url"] = self.server.url


NEVER_LOADED = ("pydantic",)
"""Litestar adds its pydantic plugins whenever pydantic is installed (genai-prices brings it):
~8 MB of an api that has no pydantic model. A ``None`` entry in ``sys.modules`` makes ``import
pydantic`` fail as if it were absent; Litestar then leaves them out."""


def run(runtime: Runtime) -> None:
    """Serve the API until SIGTERM."""
    for name in NEVER_LOADED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    run_blocking_service(ApiService(runtime), runtime)
