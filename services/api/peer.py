"""Which local user holds the other end of a loopback TCP connection (Linux).

The client's socket of a connection is the one whose local address is the connection's client
address and whose remote address is its server address; the kernel knows the uid that owns it.
Two ways to ask, the first that works wins:

* ``sock_diag`` over netlink (what ``ss`` uses): an exact lookup of that one socket, some tens
  of microseconds;
* ``/proc/net/tcp`` and ``/proc/net/tcp6`` (IPv6, and IPv4 connections made from IPv6 sockets),
  where a kernel without ``sock_diag`` still lists every socket; reading them walks the kernel's
  whole connection table, milliseconds.

Every lookup asks the kernel afresh: a port it frees is soon reused by someone else's connection,
so no answer is ever kept for another connection. ``None`` means "not known": not Linux, no such
socket, or a socket no process holds any more (the kernel lists those with uid 0 and inode 0,
and that 0 is nobody, not root).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import sys
from pathlib import Path

PROC_NET = Path("/proc/net")
UID_FIELD = 7
INODE_FIELD = 9

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NETLINK_HEADER = struct.Struct("=IHHII")
DIAG_REQUEST = struct.Struct("=BBBxI")
"""``inet_diag_req_v2`` up to its socket id: family, protocol, extensions, states."""
SOCKET_ID = struct.Struct("!HH16s16s")
"""``inet_diag_sockid``: ports and addresses in network order (then interface and cookie)."""
ANY_INTERFACE_NO_COOKIE = struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)
ALL_STATES = 0xFFFFFFFF
DIAG_ANSWER = struct.Struct("=BBBB")
"""``inet_diag_msg``'s start: family, state, timer, retransmits; then the socket id (48 bytes),
expires, rqueue, wqueue, uid, inode."""
ANSWER_OWNER = struct.Struct("=II")
ANSWER_OWNER_OFFSET = DIAG_ANSWER.size + 48 + 12
DIAG_TIMEOUT_SECONDS = 1.0

Address = tuple[str, int]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unavailable(Exception):
    """This way of asking does not work on this system."""


def peer_uid(client: Address, server: Address, proc_net: Path = PROC_NET) -> int | None:
    """The uid owning the client end of the TCP connection ``client`` → ``server``, or None."""
    try:
        client_ip = _plain(ipaddress.ip_address(client[0]))
        server_ip = _plain(ipaddress.ip_address(server[0]))
    except ValueError:
        return None
    if client_ip.version != server_ip.version:
        return None
    try:
        return diag_uid(client_ip, client[1], server_ip, server[1])
    except Unavailable:
        return proc_uid(client_ip, client[1], server_ip, server[1], proc_net)


def uid_check_available(proc_net: Path = PROC_NET) -> bool:
    """Whether this system tells the owner of a local TCP connection (Linux does)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        diag_uid(ipaddress.IPv4Address("127.0.0.1"), 0, ipaddress.IPv4Address("127.0.0.1"), 0)
        return True
    except Unavailable:
        return _proc_table_readable(proc_net)


# -- sock_diag --------------------------------------------------------------------------------


def diag_uid(client: IP, client_port: int, server: IP, server_port: int) -> int | None:
    """The owner of the socket (local ``client``, remote ``server``) as ``sock_diag`` tells it;
    ``Unavailable`` when netlink's inet diagnostics cannot be asked here."""
    family = socket.AF_INET if client.version == 4 else socket.AF_INET6
    request = (
        DIAG_REQUEST.pack(family, socket.IPPROTO_TCP, 0, ALL_STATES)
        + SOCKET_ID.pack(
            client_port, server_port, client.packed.ljust(16, b"\0"), server.packed.ljust(16, b"\0")
        )
        + ANY_INTERFACE_NO_COOKIE
    )
    header = NETLINK_HEADER.pack(
        NETLINK_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0
    )
    answer = _ask_netlink(header + request)
    _length, kind, _flags, _seq, _pid = NETLINK_HEADER.unpack_from(answer)
    if kind == NLMSG_ERROR:
        (code,) = struct.unpack_from("=i", answer, NETLINK_HEADER.size)
        if -code == errno.ENOENT:
            return None
        raise Unavailable(f"sock_diag answered error {-code}")
    if kind != SOCK_DIAG_BY_FAMILY or len(answer) < NETLINK_HEADER.size + ANSWER_OWNER_OFFSET + 8:
        raise Unavailable("sock_diag answered something else")
    uid, inode = ANSWER_OWNER.unpack_from(answer, NETLINK_HEADER.size + ANSWER_OWNER_OFFSET)
    return uid if inode else None


def _ask_netlink(message: bytes) -> bytes:
    family = getattr(socket, "AF_NETLINK", None)
    if family is None:
        raise Unavailable("no netlink on this system")
    try:
        with socket.socket(family, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as sock:
            sock.settimeout(DIAG_TIMEOUT_SECONDS)
            sock.sendto(message, (0, 0))
            answer = sock.recv(8192)
    except OSError as exc:
        raise Unavailable(f"netlink: {exc}") from None
    if len(answer) < NETLINK_HEADER.size + 4:
        raise Unavailable("netlink answered too little")
    return answer


# -- /proc/net/tcp ----------------------------------------------------------------------------


def proc_uid(
    client: IP, client_port: int, server: IP, server_port: int, proc_net: Path = PROC_NET
) -> int | None:
    """The owner of the socket (local ``client``, remote ``server``) as ``/proc/net/tcp*`` list
    it, or None (no such row, or no such tables)."""
    for table, local, remote in _rows_to_look_for(client, client_port, server, server_port):
        uid = _uid_in(proc_net / table, f" {local} {remote} ")
        if uid is not None:
            return uid
    return None


def proc_address(ip: IP, port: int) -> str:
    """``ip:port`` as ``/proc/net/tcp*`` writes it: each 32-bit word of the address in network
    order printed as a native integer (``%08X``), then the port (``%04X``)."""
    packed = ip.packed
    words = (packed[i : i + 4] for i in range(0, len(packed), 4))
    address = "".join(f"{int.from_bytes(word, sys.byteorder):08X}" for word in words)
    return f"{address}:{port:04X}"


def _proc_table_readable(proc_net: Path) -> bool:
    try:
        with (proc_net / "tcp").open("rb") as table:
            return table.readline().split()[:3] == [b"sl", b"local_address", b"rem_address"]
    except OSError:
        return False


def _plain(ip: IP) -> IP:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _rows_to_look_for(
    client: IP, client_port: int, server: IP, server_port: int
) -> list[tuple[str, str, str]]:
    """(table, local, remote) as the kernel writes them, for each table the row may be in."""
    rows = [("tcp6", proc_address(client, client_port), proc_address(server, server_port))]
    if isinstance(client, ipaddress.IPv4Address) and isinstance(server, ipaddress.IPv4Address):
        # An IPv4 connection made from an IPv6 socket is listed in tcp6, IPv4-mapped.
        mapped_client = ipaddress.IPv6Address(f"::ffff:{client}")
        mapped_server = ipaddress.IPv6Address(f"::ffff:{server}")
        rows = [
            ("tcp", proc_address(client, client_port), proc_address(server, server_port)),
            (
                "tcp6",
                proc_address(mapped_client, client_port),
                proc_address(mapped_server, server_port),
            ),
        ]
    return rows


def _uid_in(table: Path, needle: str) -> int | None:
    try:
        text = table.read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    at = text.find(needle)
    if at < 0:
        return None
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    fields = text[start : end if end >= 0 else len(text)].split()
    try:
        uid, inode = int(fields[UID_FIELD]), int(fields[INODE_FIELD])
    except (IndexError, ValueError):
        return None
    return uid if inode else None
