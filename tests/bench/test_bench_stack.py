"""``bench.stack``'s port helpers, which the hub bench and the hub tests share."""

from __future__ import annotations

import socket

from bench.stack import free_port_run


def test_free_port_run_gives_a_base_whose_next_ports_are_free() -> None:
    """Every port of the run can be bound at once."""
    base = free_port_run(3)
    probes = [socket.socket() for _ in range(3)]
    try:
        for offset, probe in enumerate(probes):
            probe.bind(("127.0.0.1", base + offset))
    finally:
        for probe in probes:
            probe.close()
