"""The user's configuration: ``<state dir>/config.toml``, every key optional.

Example::

    [claude]
    roots = ["~/.claude/projects"]      # default: CLAUDE_CONFIG_DIR, else the CLI's own dirs

    [pricing.overrides."claude-sonnet-4-5-20250929"]   # USD per million tokens
    input = 3.0
    output = 15.0
    cache_read = 0.3
    cache_write = 3.75
    cache_write_1h = 6.0

    [api]
    port = 8787

    [scheduler]
    refresh_seconds = 60
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from bus.endpoints import state_dir

DEFAULT_API_PORT = 8787


class ConfigError(Exception):
    """The config file is unreadable or wrong; the message names the file, the key and the fix."""


class PriceOverride(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens for one model; a missing key keeps the genai-prices value."""

    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None


class PricingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[pricing]``: per-model overrides on top of genai-prices."""

    overrides: dict[str, PriceOverride] = {}


class ClaudeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[claude]``: where Claude Code's transcripts are. Empty means auto-discover."""

    roots: list[str] = []


class ApiConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[api]``: the HTTP API. It binds 127.0.0.1 only."""

    port: int | None = None


class SchedulerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[scheduler]``: the safety-net refresh cadence."""

    refresh_seconds: float = 60.0


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole file."""

    claude: ClaudeConfig = ClaudeConfig()
    pricing: PricingConfig = PricingConfig()
    api: ApiConfig = ApiConfig()
    scheduler: SchedulerConfig = SchedulerConfig()

    @property
    def api_port(self) -> int:
        """``OTM_API_PORT`` wins over ``[api] port``, which wins over the default 8787."""
        env = os.environ.get("OTM_API_PORT")
        if env:
            try:
                return int(env)
            except ValueError:
                raise ConfigError(f"OTM_API_PORT={env!r} is not a port number") from None
        return self.api.port or DEFAULT_API_PORT


def config_path(state: Path | None = None) -> Path:
    """``<state dir>/config.toml``."""
    return (state or state_dir()) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file means all defaults."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror}).") from None
    try:
        return msgspec.toml.decode(raw, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(
            f"{path}: {exc}. Fix or remove that setting (see README, 'Configuration')."
        ) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from None
