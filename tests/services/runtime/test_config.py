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


def test_unreadable_file_is_a_config_error(state: Path) -> None:
    """A config path that cannot be read (a directory) raises ConfigError naming it."""
    config_path(state).mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config()
    # The reason is the OS's own words ("Is a directory" here, "Permission denied" on Windows).
    message, _, reason = str(caught.value).rpartition(" (")
    assert (f"{config_path(state)}: cannot read the config file", True) == (
        message,
        reason.endswith(")"),
    )


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


def test_api_port_empty_environment_is_ignored(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty OTM_API_PORT falls back to the file."""
    write(state, "[api]\nport = 9000\n")
    monkeypatch.setenv("OTM_API_PORT", "")
    assert 9000 == load_config().api_port


def test_non_utf8_file_is_a_config_error(state: Path) -> None:
    """A config file that is not UTF-8 raises ConfigError, not a decoding traceback."""
    path = config_path(state)
    path.write_bytes(b"[api]\nport = 1 # \xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert f"{path}: line 2: not UTF-8 text (byte 0xff); save it as UTF-8" == str(caught.value)


def test_activity_defaults_keep_500_prompts(state: Path) -> None:
    """Without an ``[activity]`` section prompts are read and 500 per provider are kept."""
    activity = load_config().activity
    assert (True, 500) == (activity.enabled, activity.keep)


def test_activity_settings_are_read(state: Path) -> None:
    """``[activity] enabled`` and ``keep`` come from the file."""
    write(state, "[activity]\nenabled = false\nkeep = 20\n")
    activity = load_config().activity
    assert (False, 20) == (activity.enabled, activity.keep)


def test_api_port_zero_in_the_environment_asks_for_any_free_port(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OTM_API_PORT=0`` is kept as 0 (the api then binds any free port and logs it)."""
    monkeypatch.setenv("OTM_API_PORT", "0")
    assert 0 == load_config().api_port


def test_settings_at_the_edges_of_their_ranges_are_accepted(state: Path) -> None:
    """The lowest and highest allowed values of each kind load as written."""
    write(
        state,
        "[api]\nport = 65535\n[scheduler]\nrefresh_seconds = 1\n"
        "[limits]\npoll_seconds = 86400\nmin_interval_seconds = 1\njitter = 1\n"
        "timeout_seconds = 0.1\nmax_backoff_seconds = 1\n"
        '[alerts]\nthresholds = [100]\nbudget_thresholds = [1000]\ntz = "UTC"\n'
        'quiet_hours = "23:59-00:00"\npace_margin_minutes = 0\ncommand_timeout_seconds = 300\n'
        'urls = ["json://127.0.0.1:1/x"]\ncommand = "notify \'a b\'"\n'
        "[activity]\nkeep = 1\n",
    )
    config = load_config()
    assert (65535, 1.0, 1.0, [100.0], 1) == (
        config.api_port,
        config.scheduler.refresh_seconds,
        config.limits.jitter,
        config.alerts.thresholds,
        config.activity.keep,
    )
