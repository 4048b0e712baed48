"""``[api] host``, ``token`` and ``allowed_hosts`` (and ``OTM_API_HOST``/``OTM_API_TOKEN``):
beyond loopback only with a token, and the token never repeated in a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.config import ConfigError, config_path, load_config

TOKEN = "k" * 43
SHORT = "secret-but-short"
NEW_TOKEN_HINT = (
    "`otm api token --new` makes one (or "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)


def refusal(state: Path, text: str) -> str:
    """The message ``load_config`` refuses ``text`` with."""
    config_path(state).write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    return str(caught.value)


def test_default_host_is_loopback(state: Path) -> None:
    """With no [api] table the api listens on 127.0.0.1 with no configured token."""
    assert ("127.0.0.1", "") == (load_config().api.host, load_config().api.token)


def test_host_beyond_loopback_without_token_is_refused(state: Path) -> None:
    """A wildcard host with no token stops start-up with one line naming [api] token."""
    path = config_path(state)
    expected = (
        f'{path}: [api] host = "0.0.0.0" (or OTM_API_HOST) serves other machines, so it '
        f"needs [api] token: {NEW_TOKEN_HINT}; put it in this file under [api] as "
        'token = "<token>" (or set host = "127.0.0.1")'
    )
    assert expected == refusal(state, '[api]\nhost = "0.0.0.0"\n')


def test_host_from_the_environment_without_token_is_refused(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTM_API_HOST beyond loopback needs a token just as the file's host does."""
    monkeypatch.setenv("OTM_API_HOST", "192.0.2.2")
    assert "needs [api] token" in refusal(state, "")


def test_host_beyond_loopback_with_token_loads(state: Path) -> None:
    """An address with a token is taken as written."""
    config_path(state).write_text(f'[api]\nhost = "192.0.2.2"\ntoken = "{TOKEN}"\n')
    assert ("192.0.2.2", TOKEN) == (load_config().api.host, load_config().api.token)


def test_environment_overrides_host_and_token(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTM_API_HOST and OTM_API_TOKEN win over the file."""
    config_path(state).write_text('[api]\nhost = "127.0.0.1"\n')
    monkeypatch.setenv("OTM_API_HOST", "::")
    monkeypatch.setenv("OTM_API_TOKEN", TOKEN)
    assert ("::", TOKEN) == (load_config().api.host, load_config().api.token)


@pytest.mark.parametrize("host", ["::1", "localhost", "127.0.0.2"])
def test_other_loopback_hosts_need_no_token(state: Path, host: str) -> None:
    """Every loopback address is this machine only: no token needed."""
    config_path(state).write_text(f'[api]\nhost = "{host}"\n')
    assert host == load_config().api.host


def test_short_token_is_refused_without_repeating_it(state: Path) -> None:
    """A guessable token is refused, and the message does not contain it."""
    message = refusal(state, f'[api]\ntoken = "{SHORT}"\n')
    assert (True, True) == (SHORT not in message, "[api] token is too short" in message)


def test_short_token_in_the_environment_is_refused_without_repeating_it(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTM_API_TOKEN is checked like the file's token and never shown."""
    monkeypatch.setenv("OTM_API_TOKEN", SHORT)
    message = refusal(state, "")
    assert (True, True) == (SHORT not in message, "OTM_API_TOKEN is too short" in message)


def test_host_that_is_no_address_is_refused(state: Path) -> None:
    """A host with a space or a scheme is neither an address nor a name."""
    path = config_path(state)
    expected = (
        f'{path}: [api] host = "http://box" is not an address or a host name: use '
        '"127.0.0.1" (this machine only), an address of this machine, or "0.0.0.0"'
    )
    assert expected == refusal(state, '[api]\nhost = "http://box"\n')


def test_allowed_host_that_is_no_name_is_refused(state: Path) -> None:
    """Each allowed_hosts entry must be a name or an address, named by its position."""
    message = refusal(state, f'[api]\ntoken = "{TOKEN}"\nallowed_hosts = ["ok.lan", "a b"]\n')
    assert '[api] allowed_hosts entry 2 = "a b" is not a host name' in message
