"""The ``OTM_*`` variables that override settings, checked with the config file so that a bad
one stops every process at start with one line naming it, instead of a traceback later.

``OTM_API_PORT``, ``OTM_API_HOST`` and ``OTM_API_TOKEN`` are applied to the config
(``Config.api_port``, ``[api] host`` and ``token``; the token is never repeated in a
message); ``OTM_BUS_TRANSPORT`` and ``OTM_BUS_PORT`` are read by ``bus.endpoints`` and
``OTM_DEMO`` by the installation, which can then trust them. ``OTM_HOME`` is checked where
the state folder is made (``services.runtime.installation``).
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping

import msgspec

from bus.endpoints import TCP_BASE_PORT
from services.runtime.api_host import is_address_or_name, is_good_token
from services.runtime.config_errors import ConfigError
from services.runtime.config_schema import Config

BUS_TRANSPORTS = ("ipc", "tcp")
BUS_PORT_RANGE = (1, 65_533)
"""The bus takes ``OTM_BUS_PORT`` and the next two ports."""
DEMO_VALUES = ("", "0", "1")


def apply_environment(config: Config, environ: Mapping[str, str]) -> Config:
    """``config`` with ``OTM_API_PORT``, ``OTM_API_HOST`` and ``OTM_API_TOKEN`` applied, once
    every override variable is checked."""
    _check_bus(environ)
    _check_demo(environ)
    changes: dict[str, object] = {}
    port = _api_port(environ)
    if port is not None:
        changes["port"] = port
    host = environ.get("OTM_API_HOST", "")
    if host:
        if not is_address_or_name(host):
            raise ConfigError(
                f"{_shown('OTM_API_HOST', host)} is not an address or a host name: use "
                "127.0.0.1 (this machine only), an address of this machine, or 0.0.0.0"
            )
        changes["host"] = host
    token = environ.get("OTM_API_TOKEN", "")
    if token:
        if not is_good_token(token):
            raise ConfigError(
                "environment variable OTM_API_TOKEN is too short or holds characters other "
                "than letters, digits and -._~: use at least 32 of them "
                "(`otm api token --new` makes one)"
            )
        changes["token"] = token
    if not changes:
        return config
    return msgspec.structs.replace(config, api=msgspec.structs.replace(config.api, **changes))


def _api_port(environ: Mapping[str, str]) -> int | None:
    """``OTM_API_PORT``; empty means unset, 0 asks the OS for any free port (for tests that
    run ``otm api`` alone and read the port from its "ready" line)."""
    raw = environ.get("OTM_API_PORT", "")
    if not raw:
        return None
    return _port("OTM_API_PORT", raw, 0, 65_535, "use 1-65535 (or 0: any free port)")


def _check_bus(environ: Mapping[str, str]) -> None:
    default = "tcp" if sys.platform == "win32" else "ipc"
    transport = environ.get("OTM_BUS_TRANSPORT", default)
    if transport not in BUS_TRANSPORTS:
        raise ConfigError(
            f"{_shown('OTM_BUS_TRANSPORT', transport)} is not a transport: use ipc or tcp, "
            "or unset it"
        )
    if transport == "tcp":  # the only time bus.endpoints reads the port
        low, high = BUS_PORT_RANGE
        raw = environ.get("OTM_BUS_PORT", str(TCP_BASE_PORT))
        advice = f"use {low}-{high} (the bus takes it and the next two ports)"
        _port("OTM_BUS_PORT", raw, low, high, advice)


def _check_demo(environ: Mapping[str, str]) -> None:
    value = environ.get("OTM_DEMO", "")
    if value not in DEMO_VALUES:
        raise ConfigError(
            f"{_shown('OTM_DEMO', value)} is not 0 or 1: use 1 for demo data, or unset it"
        )


def _port(name: str, raw: str, low: int, high: int, advice: str) -> int:
    # Digits only: int() would also take "+80", " 80" and "8_0".
    if re.fullmatch(r"[0-9]+", raw) is None:
        raise ConfigError(f"{_shown(name, raw)} is not a whole number: {advice}")
    port = int(raw)
    if not low <= port <= high:
        raise ConfigError(f"{_shown(name, raw)} is out of range: {advice}")
    return port


def _shown(name: str, value: str) -> str:
    """``environment variable OTM_API_PORT=99999``, quoted as a shell would need it."""
    return f"environment variable {name}={shlex.quote(value)}"
