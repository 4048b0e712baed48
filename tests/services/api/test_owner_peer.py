"""Who holds the client end of a loopback connection (``services.api.peer``), asked of this
machine's kernel about real sockets, both ways (``sock_diag`` and ``/proc/net/tcp*``)."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.api.peer import (
    IP,
    diag_uid,
    peer_uid,
    proc_address,
    proc_uid,
    uid_check_available,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel tells a socket's owner on Linux"
)

Lookup = Callable[[IP, int, IP, int], int | None]
LOOKUPS: dict[str, Lookup] = {"sock_diag": diag_uid, "proc": proc_uid}


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server socket on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def connect(listener: socket.socket, family: int = socket.AF_INET) -> tuple[socket.socket, ...]:
    """A connection to ``listener``: (client socket, server's accepted socket)."""
    client = socket.socket(family)
    target = listener.getsockname()
    client.connect(target if family == socket.AF_INET else (f"::ffff:{target[0]}", target[1]))
    accepted, _ = listener.accept()
    return client, accepted


def ends(accepted: socket.socket) -> tuple[IP, int, IP, int]:
    """(client address, client port, server address, server port) as the server sees them."""
    client, server = accepted.getpeername(), accepted.getsockname()
    return (
        ipaddress.ip_address(client[0]),
        client[1],
        ipaddress.ip_address(server[0]),
        server[1],
    )


@pytest.mark.parametrize("way", sorted(LOOKUPS))
def test_the_client_end_is_owned_by_this_user(way: str, listener: socket.socket) -> None:
    """A connection this process made is owned by this process's uid."""
    client, accepted = connect(listener)
    with client, accepted:
        assert os.geteuid() == LOOKUPS[way](*ends(accepted))


@pytest.mark.parametrize("way", sorted(LOOKUPS))
def test_an_ipv6_socket_connected_over_ipv4_is_found(way: str, listener: socket.socket) -> None:
    """A client using an IPv6 socket with an IPv4-mapped address is found too."""
    client, accepted = connect(listener, socket.AF_INET6)
    with client, accepted:
        assert os.geteuid() == LOOKUPS[way](*ends(accepted))


@pytest.mark.parametrize("way", sorted(LOOKUPS))
def test_a_connection_that_does_not_exist_has_no_owner(way: str, listener: socket.socket) -> None:
    """No socket with these ends: not known (None), never some uid."""
    client, accepted = connect(listener)
    with client, accepted:
        client_ip, _port, server_ip, server_port = ends(accepted)
        assert None is LOOKUPS[way](client_ip, 1, server_ip, server_port)


@pytest.mark.parametrize("way", sorted(LOOKUPS))
def test_a_socket_its_process_closed_has_no_owner(way: str, listener: socket.socket) -> None:
    """Once the client closed its end, the kernel's leftover (uid 0, inode 0) is not root."""
    client, accepted = connect(listener)
    with accepted:
        where = ends(accepted)
        client.close()
        assert None is LOOKUPS[way](*where)


def test_peer_uid_takes_the_addresses_the_asgi_scope_gives(listener: socket.socket) -> None:
    """``peer_uid`` reads ASGI's (host, port) pairs and answers this process's uid."""
    client, accepted = connect(listener)
    with client, accepted:
        assert os.geteuid() == peer_uid(accepted.getpeername(), accepted.getsockname())


def test_peer_uid_of_a_garbled_address_is_not_known() -> None:
    """An address that is not an IP (a Unix socket's path) has no TCP owner."""
    assert None is peer_uid(("/run/otm.sock", 0), ("127.0.0.1", 8787))


def test_proc_tables_that_are_missing_tell_nothing(tmp_path: Path, listener: socket.socket) -> None:
    """Without /proc/net/tcp (another system) the table lookup says "not known"."""
    client, accepted = connect(listener)
    with client, accepted:
        assert None is proc_uid(*ends(accepted), proc_net=tmp_path)


def test_proc_address_is_written_as_the_kernel_writes_it() -> None:
    """127.0.0.1:8080 is 0100007F:1F90 on a little-endian machine (each word native)."""
    expected = "0100007F:1F90" if sys.byteorder == "little" else "7F000001:1F90"
    assert expected == proc_address(ipaddress.IPv4Address("127.0.0.1"), 8080)


def test_proc_address_of_ipv6_loopback() -> None:
    """::1 is three zero words and then 1 in network order, each printed native."""
    last = "01000000" if sys.byteorder == "little" else "00000001"
    assert "0" * 24 + last + ":0050" == proc_address(ipaddress.IPv6Address("::1"), 80)


def test_this_machine_can_tell_owners() -> None:
    """On Linux the uid check is available (so `otm up` prints no token)."""
    assert uid_check_available()
