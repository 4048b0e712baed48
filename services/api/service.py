"""The api process: uvicorn serving the Litestar app on 127.0.0.1, plus heartbeats.

SIGTERM (or SIGINT) sets uvicorn's ``should_exit``; open streams are ended at once rather than
waited for, so the process is gone well within 2 s.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from typing import Any

import structlog
import uvicorn

from bus.client import Publisher
from services.api.app import create_app
from services.api.stream import StreamHub
from services.runtime.installation import Runtime
from services.runtime.lifecycle import Pulse, StopFlag

HOST = "127.0.0.1"
"""Loopback only: the stream carries prompts and spend (DESIGN.md, invariant 6)."""
GRACEFUL_SHUTDOWN_SECONDS = 1


class ApiServer(uvicorn.Server):
    """A uvicorn server that logs "ready" once listening and ends streams when stopping."""

    def __init__(
        self, config: uvicorn.Config, hub: StreamHub, logger: structlog.typing.FilteringBoundLogger
    ) -> None:
        super().__init__(config)
        self.hub = hub
        self.logger = logger
        self.port: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Bind, then announce the address actually bound (the port may have been 0)."""
        await super().startup(sockets)
        if self.started:
            self.port = _bound_port(self.servers[0].sockets)
            self.logger.info("ready", host=HOST, port=self.port, url=f"http://{HOST}:{self.port}")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End every open stream first: uvicorn would otherwise wait for them to finish."""
        # Stopping the hub here (not only in the app's on_shutdown) lets its follower thread
        # wind down while uvicorn closes connections.
        self.hub.stop()
        await super().shutdown(sockets)


def _bound_port(sockets: Sequence[Any]) -> int:
    return int(sockets[0].getsockname()[1])


def run(runtime: Runtime) -> None:
    """Serve the API until SIGTERM."""
    logger = structlog.get_logger().bind(process="api")
    # uvicorn re-raises the signal it caught once it has stopped; with our handler in place
    # that is a no-op instead of the default "die by SIGTERM".
    stop = StopFlag()
    hub = StreamHub(runtime.endpoints, runtime.db_path)
    config = uvicorn.Config(
        create_app(runtime, hub),
        host=HOST,
        port=runtime.config.api_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = ApiServer(config, hub, logger)
    beats = threading.Thread(target=_beat, args=(runtime, hub, server, stop), daemon=True)
    beats.start()
    try:
        server.run()
    finally:
        stop.set()
        beats.join(timeout=1.0)
        logger.info("stopping", stream_seq=hub.position)


def _beat(runtime: Runtime, hub: StreamHub, server: ApiServer, stop: StopFlag) -> None:
    # The publisher lives and dies in this thread: zmq sockets are not shared across threads.
    publisher = Publisher(runtime.endpoints)
    pulse = Pulse("api", publisher)
    try:
        while not stop.wait(pulse.due_in() or 0.1):
            # No head_seq: followers trust a heartbeat's head_seq as the store's log head.
            pulse.counters["stream_clients"] = hub.clients
            pulse.counters["stream_clients_dropped"] = hub.dropped
            pulse.counters["stream_seq"] = hub.position
            if server.port is not None:
                pulse.detail["url"] = f"http://{HOST}:{server.port}"
            pulse.beat()
    finally:
        publisher.close()
