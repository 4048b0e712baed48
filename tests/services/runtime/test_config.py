"""The config file: every key optional, and every mistake named by file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.config import DEFAULT_API_PORT, Config, ConfigError, config_path, load_config


def write(state: Path, text: str) -> Path:
    """Write ``config.toml`` into the state directory."""
    path = config_path(state)
    path.write_text(text)
    return path


def test_missing_file_gives_defaults(state: Path) -> None:
    """Without a config file every setting has its default."""
    assert Config() == load_config()


def test_config_lives_in_the_state_dir(state: Path) -> None:
    """The config file is ``$OTM_HOME/config.toml``."""
    assert state / "config.toml" == config_path()


def test_values_are_read(state: Path) -> None:
    """Settings in the file override the defaults."""
    write(
        state, '[claude]\nroots = ["~/x"]\n[api]\nport = 9000\n[scheduler]\nrefresh_seconds = 5\n'
    )
    config = load_config()
    assert (["~/x"], 9000, 5.0) == (
        config.claude.roots,
        config.api.port,
        config.scheduler.refresh_seconds,
    )


def test_price_overrides_are_read(state: Path) -> None:
    """A per-model override keeps only the keys it sets."""
    write(state, '[pricing.overrides."claude-x"]\ninput = 3.0\ncache_write_1h = 6\n')
    override = load_config().pricing.overrides["claude-x"]
    assert (3.0, 6.0, None) == (override.input, override.cache_write_1h, override.output)


def test_wrong_type_names_the_file(state: Path) -> None:
    """A value of the wrong type raises ConfigError naming the file."""
    path = write(state, '[api]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=str(path)):
        load_config()


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        pytest.param('[api]\nport = "eighty"\n', "api.port", id="api.port"),
        pytest.param(
            "[scheduler]\nrefresh_seconds = [1]\n", "scheduler.refresh_seconds", id="list"
        ),
        pytest.param('[claude]\nroots = "~/x"\n', "claude.roots", id="claude.roots"),
        pytest.param(
            '[pricing.overrides."m"]\ninput = "3"\n', 'pricing.overrides."m".input', id="nested"
        ),
    ],
)
def test_wrong_type_names_the_key_path(state: Path, text: str, key_path: str) -> None:
    """A value of the wrong type raises ConfigError naming the dotted key path."""
    write(state, text)
    with pytest.raises(ConfigError, match=key_path.replace(".", r"\.")):
        load_config()


def test_unknown_key_is_an_error(state: Path) -> None:
    """A misspelt key is refused, naming it, rather than silently ignored."""
    write(state, "[api]\nprot = 9000\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config()


def test_bad_toml_is_a_config_error(state: Path) -> None:
    """A file that is not TOML raises ConfigError saying so and naming the file."""
    path = write(state, "[api\nport = 1\n")
    with pytest.raises(ConfigError, match=rf"{path}: not valid TOML"):
        load_config()


def test_unreadable_file_is_a_config_error(state: Path) -> None:
    """A config path that cannot be read (a directory) raises ConfigError naming it."""
    config_path(state).mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config()


def test_explicit_path_is_read(tmp_path: Path) -> None:
    """load_config reads the path it is given."""
    path = tmp_path / "elsewhere.toml"
    path.write_text("[api]\nport = 9100\n")
    assert 9100 == load_config(path).api.port


# -- api port ---------------------------------------------------------------------------------


def test_api_port_default(state: Path) -> None:
    """With neither file nor environment, the API port is 8787."""
    assert DEFAULT_API_PORT == load_config().api_port


def test_api_port_from_the_file(state: Path) -> None:
    """``[api] port`` sets the API port."""
    write(state, "[api]\nport = 9000\n")
    assert 9000 == load_config().api_port


def test_api_port_environment_beats_the_file(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTM_API_PORT wins over ``[api] port``."""
    write(state, "[api]\nport = 9000\n")
    monkeypatch.setenv("OTM_API_PORT", "9001")
    assert 9001 == load_config().api_port


def test_api_port_non_numeric_environment_is_a_config_error(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-numeric OTM_API_PORT raises ConfigError naming the variable."""
    monkeypatch.setenv("OTM_API_PORT", "http")
    with pytest.raises(ConfigError, match="OTM_API_PORT"):
        load_config().api_port  # noqa: B018


@pytest.mark.parametrize("value", ["70000", "-1"])
def test_api_port_out_of_range_environment_is_a_config_error(
    state: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """An OTM_API_PORT outside 1-65535 raises ConfigError instead of failing at bind time."""
    monkeypatch.setenv("OTM_API_PORT", value)
    with pytest.raises(ConfigError, match="OTM_API_PORT"):
        load_config().api_port  # noqa: B018


def test_api_port_empty_environment_is_ignored(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty OTM_API_PORT falls back to the file."""
    write(state, "[api]\nport = 9000\n")
    monkeypatch.setenv("OTM_API_PORT", "")
    assert 9000 == load_config().api_port


def test_non_utf8_file_is_a_config_error(state: Path) -> None:
    """A config file that is not UTF-8 raises ConfigError, not a decoding traceback."""
    config_path(state).write_bytes(b"[api]\nport = 1 # \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_config()


def test_activity_defaults_keep_500_prompts(state: Path) -> None:
    """Without an ``[activity]`` section prompts are read and 500 per provider are kept."""
    activity = load_config().activity
    assert (True, 500) == (activity.enabled, activity.keep)


def test_activity_settings_are_read(state: Path) -> None:
    """``[activity] enabled`` and ``keep`` come from the file."""
    write(state, "[activity]\nenabled = false\nkeep = 20\n")
    activity = load_config().activity
    assert (False, 20) == (activity.enabled, activity.keep)


@pytest.mark.parametrize("keep", [0, -1, 10_001])
def test_activity_keep_out_of_range_names_file_key_and_range(state: Path, keep: int) -> None:
    """A ``keep`` outside 1-10000 is refused with the file, the key and the allowed range."""
    path = write(state, f"[activity]\nkeep = {keep}\n")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert f"{path}: [activity] keep = {keep}: use 1-10000 (prompts kept per provider)" == str(
        caught.value
    )


def test_activity_keep_of_the_wrong_type_names_the_key(state: Path) -> None:
    """A ``keep`` that is not an integer is refused naming ``activity.keep``."""
    write(state, '[activity]\nkeep = "all"\n')
    with pytest.raises(ConfigError, match=r"activity\.keep"):
        load_config()
