"""Formatting of `otm up`'s banner and event lines."""

from __future__ import annotations

import socket

from otm.up import alert_line, live_line, port_in_use, port_message


def test_alert_line_has_title_and_body() -> None:
    """An alert line is the time, the title, a dash and the body."""
    assert alert_line(0, "Claude 80% used", "5-hour window").endswith(
        " Claude 80% used — 5-hour window"
    )


def test_live_line_names_state_reason_and_fix() -> None:
    """A live state line says the provider, the state, the reason and the fix."""
    assert live_line(0, "codex", "unavailable", "no token", "codex login").endswith(
        " codex live limits: unavailable — no token (fix: codex login)"
    )


def test_lines_fit_80_columns() -> None:
    """A long alert is cut to 80 columns."""
    assert 80 == len(alert_line(0, "t" * 50, "b" * 100))


def test_port_message_names_the_config() -> None:
    """The busy-port line names the port, the variable and the config file."""
    from pathlib import Path

    assert "port 9 is in use: set OTM_API_PORT or [api] port in /x/config.toml" == port_message(
        9, Path("/x/config.toml")
    )


def test_port_in_use_sees_a_bound_port() -> None:
    """A port someone listens on is in use."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        assert True is port_in_use(held.getsockname()[1])
