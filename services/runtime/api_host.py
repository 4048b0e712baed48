"""What an ``[api] host`` means: this machine only (loopback), every address (a wildcard), or
one address or name; how it is written in a URL and a ``Host`` header; and what a token must
look like to be sent in a header, a cookie and a URL unchanged.
"""

from __future__ import annotations

import ipaddress
import re
import socket

LOOPBACK_NAMES = ("localhost",)
WILDCARDS = ("0.0.0.0", "::")
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{32,512}")
"""URL-safe characters only (they need no escaping in ``?token=``, a cookie or a header), and
long enough not to be guessed: ``secrets.token_urlsafe(32)`` gives 43."""
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def is_address_or_name(host: str) -> bool:
    """Whether ``host`` is an IP address or a syntactically valid host name."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return _HOST_NAME.fullmatch(host) is not None


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` serves this machine only."""
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any address


def is_wildcard(host: str) -> bool:
    """Whether ``host`` means every address of this machine."""
    return host in WILDCARDS


def is_good_token(token: str) -> bool:
    """Whether ``token`` is long and plain enough (``TOKEN_PATTERN``)."""
    return TOKEN_PATTERN.fullmatch(token) is not None


def host_header_name(host: str) -> str:
    """``host`` as it appears in a ``Host`` header or a URL, lower case (IPv6 in brackets)."""
    host = host.lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.rstrip(".")
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return f"[{address.compressed}]"
    return str(address)


def shown_host(host: str) -> str:
    """The name to put in a URL for people: ``host`` itself, or for a wildcard this machine's
    host name."""
    return host_header_name(socket.gethostname() if is_wildcard(host) else host)


def base_url(host: str, port: int) -> str:
    """``http://<host>:<port>``, the api's address as a person on another machine types it."""
    return f"http://{shown_host(host)}:{port}"


def answered_names(host: str, extra: tuple[str, ...] | list[str] = ()) -> frozenset[str]:
    """The ``Host`` header names the api answers to: loopback's always; beyond loopback also
    ``host`` itself, this machine's host name and ``extra`` (``[api] allowed_hosts``). The
    address a request came in on is allowed besides (``services.api.guard``)."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if not is_loopback(host):
        if not is_wildcard(host):
            names.add(host_header_name(host))
        names.add(host_header_name(socket.gethostname()))
        names.update(host_header_name(name) for name in extra)
    return frozenset(names)
