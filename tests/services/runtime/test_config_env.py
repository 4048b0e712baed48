"""The ``OTM_*`` variables that override settings are checked with the file: a bad one is
refused by ``load_config`` (``OTM_HOME`` by ``load_runtime``) naming the variable and its values."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.config import DEFAULT_API_PORT, ConfigError, load_config
from services.runtime.installation import load_runtime

PORT_ADVICE = "use 1-65535 (or 0: any free port)"
BUS_ADVICE = "use 1-65533 (the bus takes it and the next two ports)"
BAD_VARIABLES = [
    (
        {"OTM_API_PORT": "99999"},
        f"environment variable OTM_API_PORT=99999 is out of range: {PORT_ADVICE}",
    ),
    (
        {"OTM_API_PORT": "http"},
        f"environment variable OTM_API_PORT=http is not a whole number: {PORT_ADVICE}",
    ),
    (
        {"OTM_API_PORT": "-1"},
        f"environment variable OTM_API_PORT=-1 is not a whole number: {PORT_ADVICE}",
    ),
    (
        {"OTM_API_PORT": "80 80"},
        f"environment variable OTM_API_PORT='80 80' is not a whole number: {PORT_ADVICE}",
    ),
    (
        {"OTM_BUS_TRANSPORT": "udp"},
        "environment variable OTM_BUS_TRANSPORT=udp is not a transport: use ipc or tcp, "
        "or unset it",
    ),
    (
        {"OTM_BUS_TRANSPORT": ""},
        "environment variable OTM_BUS_TRANSPORT='' is not a transport: use ipc or tcp, or unset it",
    ),
    (
        {"OTM_BUS_TRANSPORT": "tcp", "OTM_BUS_PORT": "65534"},
        f"environment variable OTM_BUS_PORT=65534 is out of range: {BUS_ADVICE}",
    ),
    (
        {"OTM_BUS_TRANSPORT": "tcp", "OTM_BUS_PORT": "five"},
        f"environment variable OTM_BUS_PORT=five is not a whole number: {BUS_ADVICE}",
    ),
    (
        {"OTM_DEMO": "yes"},
        "environment variable OTM_DEMO=yes is not 0 or 1: use 1 for demo data, or unset it",
    ),
]


@pytest.mark.parametrize(
    ("variables", "expected"), BAD_VARIABLES, ids=[str(v) for v, _ in BAD_VARIABLES]
)
def test_bad_variable_is_refused_naming_it_and_its_values(
    state: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    """Each bad override gives exactly its message."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert expected == str(caught.value)


@pytest.mark.parametrize(
    ("variables", "port"),
    [
        ({"OTM_BUS_TRANSPORT": "tcp", "OTM_BUS_PORT": "65533"}, DEFAULT_API_PORT),
        ({"OTM_BUS_TRANSPORT": "ipc", "OTM_BUS_PORT": "not read with ipc"}, DEFAULT_API_PORT),
        ({"OTM_DEMO": "0"}, DEFAULT_API_PORT),
        ({"OTM_API_PORT": "65535"}, 65535),
    ],
    ids=str,
)
def test_good_variables_are_accepted(
    state: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], port: int
) -> None:
    """Values the variables take load without complaint (and the API port is applied)."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert port == load_config().api_port


def test_otm_home_that_is_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OTM_HOME naming a file stops the runtime with one message naming the variable."""
    home = tmp_path / "not-a-folder"
    home.write_text("")
    monkeypatch.setenv("OTM_HOME", str(home))
    with pytest.raises(ConfigError) as caught:
        load_runtime()
    assert (
        f"environment variable OTM_HOME={home} is a file, not a folder: "
        "point OTM_HOME at a folder you can write"
    ) == str(caught.value)
