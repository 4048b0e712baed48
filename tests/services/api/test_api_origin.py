"""The api's Host/Origin check (``services.api.guard.check_origin``), without a running process."""

from __future__ import annotations

import pytest

from services.api.guard import Refused, check_origin


def test_no_origin_is_allowed() -> None:
    """Tools that send no Origin header (curl, scripts) are not refused."""
    check_origin(None, "127.0.0.1:8787")


def test_origin_matching_the_host_is_allowed() -> None:
    """An Origin equal to http://<Host> passes."""
    check_origin("http://127.0.0.1:8787", "127.0.0.1:8787")


def test_origin_on_another_port_is_refused() -> None:
    """Another local port (another local web app) is a different origin: 403."""
    with pytest.raises(Refused) as refused:
        check_origin("http://127.0.0.1:3000", "127.0.0.1:8787")
    assert 403 == refused.value.status_code


def test_any_origin_without_a_host_is_refused() -> None:
    """With no Host header to compare against, any Origin is refused."""
    with pytest.raises(Refused) as refused:
        check_origin("http://127.0.0.1:8787", None)
    assert 403 == refused.value.status_code


def test_a_foreign_host_name_is_refused() -> None:
    """A DNS name rebound to 127.0.0.1 shows in the Host header: 403 even without Origin."""
    with pytest.raises(Refused) as refused:
        check_origin(None, "evil.example:8787")
    assert 403 == refused.value.status_code


def test_ipv6_loopback_host_is_allowed() -> None:
    """``[::1]`` with a port is this machine."""
    check_origin(None, "[::1]:8787")


BEYOND = frozenset({"127.0.0.1", "localhost", "[::1]", "devbox", "devbox.lan"})


def test_configured_name_is_allowed_beyond_loopback() -> None:
    """A name of the answered set passes, whatever its case."""
    check_origin("http://DevBox.lan:8787", "DevBox.lan:8787", BEYOND)


def test_arrival_address_is_allowed() -> None:
    """The address the connection came in on is a Host the api answers to."""
    check_origin(None, "192.0.2.2:8787", BEYOND, arrived_at="192.0.2.2")


def test_other_address_is_refused_beyond_loopback() -> None:
    """An address the connection did not come in on, and no name of the set, is refused with
    the setting that would allow it."""
    with pytest.raises(Refused, match=r"add it to \[api\] allowed_hosts"):
        check_origin(None, "192.0.2.9:8787", BEYOND, arrived_at="192.0.2.2")


def test_foreign_origin_is_refused_beyond_loopback() -> None:
    """With an answered Host, an Origin of another site is still refused."""
    with pytest.raises(Refused):
        check_origin("http://evil.example", "devbox:8787", BEYOND)
