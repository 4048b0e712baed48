"""What every HTTP answer of the api goes through: the Host/Origin check, then the owner check
(``services.api.owner``: another local user is refused), and security headers.

A page the person visits elsewhere could make their browser talk to 127.0.0.1 — directly (its
``Origin`` gives it away) or through a DNS name rebound to 127.0.0.1 (its ``Host`` gives it away).
Both are refused on every route, pages and the stream included, before any handler runs. Tools
that send no ``Origin`` (curl, scripts, ``otm``) are fine.

Beyond loopback (``[api] host``) the ``Host`` may also be that host, this machine's host name,
an ``[api] allowed_hosts`` name, or the very address the connection came in on (an address, not
a name, so a rebound DNS name still fails); any other is refused the same way.

The middleware wraps the whole Litestar app, so its own answers (404, 405) and the stream are
guarded like every route; a WebSocket handshake is guarded too (none is served today).
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import error_body
from services.api.owner import Denied, Owner, Redirect
from services.runtime.api_host import host_header_name

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'none'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


class Refused(Exception):
    """A request from somewhere other than this machine's own pages and tools."""

    status_code = 403


def host_name(host: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8787`` → ``[::1]``)."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def check_origin(
    origin: str | None,
    host: str | None,
    names: frozenset[str] = frozenset(LOOPBACK_HOSTS),
    arrived_at: str | None = None,
) -> None:
    """Raise ``Refused`` unless ``host`` is one of ``names`` (or ``arrived_at``, the address
    the connection came in on) and ``origin`` (if sent) is this very address — the only page
    allowed to call the api is its own dashboard."""
    name = host_name(host).lower() if host else ""
    if not name or (name not in names and name != arrived_at):
        if names == frozenset(LOOPBACK_HOSTS):
            raise Refused(f"Host {host!r} is not this machine's loopback address")
        raise Refused(
            f"Host {host!r} is not a name this OpenTokenMonitor answers to: add it to "
            "[api] allowed_hosts"
        )
    if origin is not None and origin.lower() != f"http://{host}".lower():
        raise Refused(f"requests from {origin} are not allowed; call the API directly")


def _arrival(scope: Scope) -> str | None:
    """The local address the connection came in on, as a ``Host`` header names it."""
    server = scope.get("server")
    return host_header_name(server[0]) if server and server[0] else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class GuardMiddleware:
    """ASGI middleware: refuse a foreign Host/Origin and any user but ``owner`` (403; 401 when
    only a token could tell), add security headers."""

    def __init__(
        self, app: ASGIApp, owner: Owner, names: frozenset[str] = frozenset(LOOPBACK_HOSTS)
    ) -> None:
        self.app = app
        self.owner = owner
        self.names = names
        """The ``Host`` names answered (``services.runtime.api_host.answered_names``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with the headers added to its answer."""
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await self.app(scope, receive, send)
            return
        try:
            check_origin(
                _header(scope, b"origin"), _header(scope, b"host"), self.names, _arrival(scope)
            )
        except Refused as exc:
            await _refuse(scope, send, str(exc), Refused.status_code)
            return
        admission = self.owner.admit(scope)
        if isinstance(admission, Denied):
            await _refuse(scope, send, admission.reason, admission.status)
            return
        if isinstance(admission, Redirect):
            await _redirect(send, admission)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {key.lower() for key, _ in headers}
    return [*headers, *(h for h in SECURITY_HEADERS if h[0] not in present)]


async def _refuse(scope: Scope, send: Send, message: str, status: int) -> None:
    """Answer ``status`` in the api's one error shape (``services.api.errors``)."""
    if scope["type"] == ScopeType.WEBSOCKET:
        await send({"type": "websocket.close", "code": 1008, "reason": ""})  # the server: 403
        return
    body = error_body(message)
    # A 401 says how to authenticate (RFC 9110): the bearer token `otm api token` prints.
    challenge = [(b"www-authenticate", b"Bearer")] if status == 401 else []
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *challenge,
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _redirect(send: Send, redirect: Redirect) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", redirect.location.encode("latin-1")),
                (b"set-cookie", redirect.cookie.encode("latin-1")),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})
