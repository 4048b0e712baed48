"""The ``Date`` header on every answer, stamped when the answer starts.

uvicorn keeps a ready-made ``Date`` header and refreshes it from a tick in its main loop, which
must then wake every second even when nobody asks anything. Stamping each answer instead costs a
few microseconds per request and lets the idle api sleep.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send


class DateHeader:
    """ASGI middleware: adds ``Date`` (RFC 9110, GMT) to each HTTP answer that has none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; stamp the answer's start."""
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if all(key.lower() != b"date" for key, _ in headers):
                    headers.append((b"date", http_date(time.time()).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_dated)


def http_date(now: float) -> str:
    """``now`` as an HTTP date: ``Fri, 04 Dec 2026 13:04:31 GMT``."""
    return formatdate(now, usegmt=True)
