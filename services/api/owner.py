"""Who may use the api: the user it runs as, and nobody else on the machine.

Any local user can connect to 127.0.0.1, so every request is checked (``services.api.guard``
calls ``Owner.admit`` after the Host/Origin check):

* On Linux the kernel says which uid owns the client's end of the connection
  (``services.api.peer``): the api's own uid is let in, any other is refused.
* Where that cannot be told (another system, or a client that already closed its end), the
  request must carry the per-user token kept in ``<state>/api-token`` (0600, made on first
  use): ``Authorization: Bearer <token>``, or the cookie a page URL with ``?token=<token>``
  sets once (the answer to that URL is a redirect to the same URL without the token).

Beyond loopback (``[api] host`` another address) the token is ``[api] token`` and every request
must carry it, whoever asks: a uid only names a user of this machine, and the point is to serve
others. Another local user is still refused.

The token is a secret: it is never logged, never put in an answer's body, never in an error.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

from litestar.types import Scope

from services.api.peer import Address, peer_uid

TOKEN_FILE = "api-token"
TOKEN_BYTES = 32
MIN_TOKEN_CHARS = 32
"""A shorter token file (emptied, cut) is not trusted: a fresh token replaces it."""
OTHER_USER = "this OpenTokenMonitor belongs to another user"
NEEDS_TOKEN = (
    "this OpenTokenMonitor cannot tell which user is asking: send its token "
    "(`otm api token` prints it) as 'Authorization: Bearer <token>', "
    "or open the dashboard address `otm up` printed"
)
WRONG_TOKEN = "wrong token: `otm api token` prints this OpenTokenMonitor's token"
NEEDS_TOKEN_REMOTE = (
    "this OpenTokenMonitor serves other machines and asks every request for its token "
    "([api] token in its config file; `otm api token` prints it): send it as "
    "'Authorization: Bearer <token>', or in a browser open this address once with "
    "?token=<token> added"
)


def token_path(state: Path) -> Path:
    """``<state>/api-token``."""
    return state / TOKEN_FILE


def api_token(state: Path) -> str:
    """The state folder's api token, made (0600, random, URL-safe) if there is none yet.

    Two processes making it at once agree: the file appears whole or not at all (a finished
    temporary file is hard-linked into place), and the one that loses reads the winner's."""
    path = token_path(state)
    token = _read_token(path)
    if token is not None:
        return token
    temporary = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (secrets.token_urlsafe(TOKEN_BYTES) + "\n").encode())
    finally:
        os.close(fd)
    try:
        if path.exists():  # there, but not a token worth trusting
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    except FileExistsError:
        pass  # made by another process meanwhile: theirs it is
    finally:
        temporary.unlink(missing_ok=True)
    token = _read_token(path)
    if token is None:
        raise RuntimeError(f"{path}: cannot keep the api token there; delete the file")
    return token


def effective_token(state: Path, configured: str) -> str:
    """The api's token: ``[api] token`` when set, else the state folder's (``api_token``)."""
    return configured or api_token(state)


def _read_token(path: Path) -> str | None:
    try:
        token = path.read_text("ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return token if len(token) >= MIN_TOKEN_CHARS else None


def cookie_name(port: int) -> str:
    """The token's cookie, one per port (browsers share cookies across a host's ports: two
    stacks on one machine must not overwrite each other's)."""
    return f"otm_token_{port}"


@dataclass(frozen=True)
class Admitted:
    """Go on to the handler."""


@dataclass(frozen=True)
class Denied:
    """Answer ``status`` with this one-line reason: 403 for another user, 401 for a missing or
    wrong token (the owner may still get in, with the right one)."""

    reason: str
    status: int = 403


@dataclass(frozen=True)
class Redirect:
    """The token came in the URL and was right: set the cookie and send the browser to the
    same address without the token."""

    location: str
    cookie: str


Admission = Admitted | Denied | Redirect
ADMITTED = Admitted()


class Owner:
    """Lets in the api process's own user and refuses every other one."""

    def __init__(
        self,
        token: str,
        uid: int | None = None,
        lookup: Callable[[Address, Address], int | None] = peer_uid,
        require_token: bool = False,
    ) -> None:
        self.token = token.encode()
        self.require_token = require_token
        """Beyond loopback: the token decides for every request, even the owner's."""
        # Without geteuid (Windows) no peer's uid is known either: the token decides.
        self.uid = getattr(os, "geteuid", lambda: -1)() if uid is None else uid
        self.lookup = lookup

    def __repr__(self) -> str:
        return f"Owner(uid={self.uid}, require_token={self.require_token})"  # never the token

    def admit(self, scope: Scope) -> Admission:
        """Whether the request of ``scope`` comes from the owner."""
        uid = self._peer(scope)
        if uid is not None and uid != self.uid:
            return Denied(OTHER_USER)
        query = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        in_url = [value for name, value in pairs if name == "token"]
        if in_url and scope.get("method") in ("GET", "HEAD"):
            if not self._right(in_url[-1].encode()):
                return Denied(WRONG_TOKEN, 401)
            return self._redirect(scope, [(n, v) for n, v in pairs if n != "token"])
        if uid is not None and not self.require_token:
            return ADMITTED
        presented = _bearer(scope) or _cookie(scope, cookie_name(_port(scope)))
        if presented is None:
            return Denied(NEEDS_TOKEN_REMOTE if self.require_token else NEEDS_TOKEN, 401)
        return ADMITTED if self._right(presented) else Denied(WRONG_TOKEN, 401)

    def _peer(self, scope: Scope) -> int | None:
        client, server = scope.get("client"), scope.get("server")
        if not client or not server or server[1] is None:
            return None
        return self.lookup((client[0], client[1]), (server[0], server[1]))

    def _right(self, presented: bytes) -> bool:
        return hmac.compare_digest(presented, self.token)

    def _redirect(self, scope: Scope, rest: list[tuple[str, str]]) -> Redirect:
        raw = scope.get("raw_path") or quote(scope.get("path", "/")).encode()
        # One leading slash: "//host/x" would send the browser to another site.
        path = "/" + raw.decode("latin-1").lstrip("/")
        location = path + (f"?{urlencode(rest)}" if rest else "")
        cookie = (
            f"{cookie_name(_port(scope))}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict"
        )
        return Redirect(location, cookie)


def _port(scope: Scope) -> int:
    server = scope.get("server") or ("", 0)
    return int(server[1] or 0)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _bearer(scope: Scope) -> bytes | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    kind, _, token = value.strip().partition(b" ")
    return token.strip() if kind.lower() == b"bearer" else None


def _cookie(scope: Scope, name: str) -> bytes | None:
    value = _header(scope, b"cookie")
    if value is None:
        return None
    for part in value.split(b";"):
        key, _, content = part.strip().partition(b"=")
        if key == name.encode():
            return content.strip()
    return None
