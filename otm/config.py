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
import tomllib
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


class CodexConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[codex]``: Codex CLI homes (each holding ``sessions/``). Empty means ``CODEX_HOME``,
    else ``~/.codex``."""

    roots: list[str] = []


class GeminiConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[gemini]``: Gemini CLI chat roots (``.gemini/tmp``). Empty means auto-discover."""

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
    codex: CodexConfig = CodexConfig()
    gemini: GeminiConfig = GeminiConfig()
    pricing: PricingConfig = PricingConfig()
    api: ApiConfig = ApiConfig()
    scheduler: SchedulerConfig = SchedulerConfig()

    @property
    def api_port(self) -> int:
        """``OTM_API_PORT`` wins over ``[api] port``, which wins over the default 8787.

        0 asks the OS for a free port (the "ready" log line says which).
        """
        env = os.environ.get("OTM_API_PORT")
        if env:
            return _port(env, "OTM_API_PORT")
        if self.api.port is None:
            return DEFAULT_API_PORT
        return _port(str(self.api.port), "[api] port")


def _port(value: str, setting: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"{setting}={value!r} is not a port number (0-65535)")
    return port


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
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8.") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from None
    _check_overrides(path, document)
    try:
        return msgspec.convert(document, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(
            f"{path}: {exc}. Fix or remove that setting (see README, 'Configuration')."
        ) from None


def _check_overrides(path: Path, document: dict[str, object]) -> None:
    """Validate each price override on its own, so the error names the model."""
    pricing = document.get("pricing")
    overrides = pricing.get("overrides") if isinstance(pricing, dict) else None
    if not isinstance(overrides, dict):
        return
    for model, override in overrides.items():
        try:
            checked = msgspec.convert(override, type=PriceOverride)
        except msgspec.ValidationError as exc:
            message, _, where = str(exc).partition(" - at `$")
            key = f'pricing.overrides."{model}"{where.rstrip("`")}'
            raise ConfigError(
                f"{path}: {message} - at `{key}`. Prices are USD per million tokens, "
                "e.g. input = 3.0"
            ) from None
        for field in checked.__struct_fields__:
            value = getattr(checked, field)
            if value is not None and not (value >= 0 and value != float("inf")):
                raise ConfigError(
                    f'{path}: [pricing.overrides."{model}"] {field} = {value} must be a '
                    "non-negative number of USD per million tokens"
                )
