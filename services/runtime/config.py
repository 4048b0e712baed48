"""The user's configuration: ``<state dir>/config.toml``, every key optional, checked once, in
full, by ``load_config`` for every process and command.

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
    port = 8787                         # 1-65535; OTM_API_PORT wins
    host = "127.0.0.1"                  # anything else needs token (OTM_API_HOST wins)
    token = ""                          # `otm api token --new` makes one (OTM_API_TOKEN wins)

    [scheduler]
    refresh_seconds = 60                # 1-86400

    [limits]                            # live limits endpoints
    poll_seconds = 300
    min_interval_seconds = 60

    [activity]                          # recent user prompts ("Recent activity")
    enabled = true
    keep = 500                          # per provider, 1-10000

The sections are in ``config_schema`` (with every range), the checks between settings in
``config_checks``, the ``OTM_*`` overrides in ``config_env`` and the messages in
``config_errors`` and ``config_explain``; this module reads the file and puts them together.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import msgspec

from bus.endpoints import state_dir
from services.runtime.config_checks import (
    check_config,
    check_exposure,
    is_safe_endpoint,
    parse_quiet_hours,
)
from services.runtime.config_env import apply_environment
from services.runtime.config_errors import ConfigError
from services.runtime.config_schema import (
    ACTIVITY_KEEP_RANGE,
    DEFAULT_API_PORT,
    ActivityConfig,
    AlertsConfig,
    ApiConfig,
    BudgetConfig,
    BudgetLimits,
    ClaudeConfig,
    CodexConfig,
    Config,
    GeminiConfig,
    LimitsConfig,
    PriceOverride,
    PricingConfig,
    SchedulerConfig,
)

__all__ = [
    "ACTIVITY_KEEP_RANGE",
    "DEFAULT_API_PORT",
    "ActivityConfig",
    "AlertsConfig",
    "ApiConfig",
    "BudgetConfig",
    "BudgetLimits",
    "ClaudeConfig",
    "CodexConfig",
    "Config",
    "ConfigError",
    "GeminiConfig",
    "LimitsConfig",
    "PriceOverride",
    "PricingConfig",
    "SchedulerConfig",
    "config_path",
    "is_safe_endpoint",
    "load_config",
    "parse_quiet_hours",
]

_TOML_AT = re.compile(r"^(.*) \(at (line \d+, column \d+)\)$")


def config_path(state: Path | None = None) -> Path:
    """``<state dir>/config.toml``."""
    return (state or state_dir()) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read and check the config file (a missing file means all defaults) and the ``OTM_*``
    overrides; a ``ConfigError`` names the file or variable, the key and the values it takes."""
    path = path or config_path()
    document = _read(path)
    try:
        config = msgspec.convert(document, type=Config)
    except msgspec.ValidationError as exc:
        from services.runtime.config_explain import explain

        raise ConfigError(explain(path, document, Config, exc)) from None
    check_config(path, config)
    config = apply_environment(config, os.environ)
    check_exposure(path, config)
    return config


def _read(path: Path) -> dict[str, object]:
    """The file as TOML tables; ``{}`` when there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise ConfigError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{byte}); save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_toml_problem(str(exc))}") from None


def _toml_problem(text: str) -> str:
    """tomllib's ``Expected ... (at line 2, column 5)`` with the place first."""
    match = _TOML_AT.match(text)
    if match is None:
        return f"not valid TOML ({text})"
    return f"{match.group(2)}: not valid TOML ({match.group(1)})"
