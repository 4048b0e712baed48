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
