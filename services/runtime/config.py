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

    [limits]                            # live limits endpoints
    poll_seconds = 300
    min_interval_seconds = 60

    [activity]                          # recent user prompts ("Recent activity")
    enabled = true
    keep = 500                          # per provider, 1-10000
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import msgspec

from bus.endpoints import state_dir
from bus.messages import DEFAULT_KEEP

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
    """``[claude]``: where Claude Code's transcripts are (empty: auto-discover) and its live
    usage endpoint (only https, or http on this machine)."""

    roots: list[str] = []
    usage_url: str = "https://api.anthropic.com/api/oauth/usage"
    keychain: bool = True
    """On macOS, also look for the ``Claude Code-credentials`` keychain item."""


class CodexConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[codex]``: Codex CLI homes (each holding ``sessions/``). Empty means ``CODEX_HOME``,
    else ``~/.codex``. ``usage_url`` empty means the one Codex itself uses
    (``chatgpt_base_url`` in its ``config.toml``, else chatgpt.com)."""

    roots: list[str] = []
    usage_url: str = ""


class GeminiConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[gemini]``: Gemini CLI chat roots (``.gemini/tmp``). Empty means auto-discover.
    ``code_assist_endpoint`` empty means ``CODE_ASSIST_ENDPOINT``, else Google's."""

    roots: list[str] = []
    code_assist_endpoint: str = ""


class ApiConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[api]``: the HTTP API. It binds 127.0.0.1 only."""

    port: int | None = None


class SchedulerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[scheduler]``: the safety-net refresh cadence."""

    refresh_seconds: float = 60.0


class LimitsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[limits]``: how politely the live limits endpoints are asked.

    The scheduler asks every ``poll_seconds`` (with up to ``jitter`` of it added at random);
    whoever else asks (``otm refresh``, ``POST /v1/refresh``), a provider is never asked more
    often than every ``min_interval_seconds``. Every request gives up after
    ``timeout_seconds``.
    """

    enabled: bool = True
    poll_seconds: float = 300.0
    min_interval_seconds: float = 60.0
    jitter: float = 0.1
    timeout_seconds: float = 10.0
    max_backoff_seconds: float = 3600.0


class BudgetLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD budgets per local day, week (from Monday) and calendar month; unset means none."""

    daily_usd: float | None = None
    weekly_usd: float | None = None
    monthly_usd: float | None = None


class BudgetConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[alerts.budget]``: budgets over every provider, and per provider under
    ``[alerts.budget.claude]`` (``codex``, ``gemini``)."""

    daily_usd: float | None = None
    weekly_usd: float | None = None
    monthly_usd: float | None = None
    claude: BudgetLimits = BudgetLimits()
    codex: BudgetLimits = BudgetLimits()
    gemini: BudgetLimits = BudgetLimits()

    def scopes(self) -> dict[str, BudgetLimits]:
        """Each budget scope (``all`` and every provider) with its limits."""
        overall = BudgetLimits(self.daily_usd, self.weekly_usd, self.monthly_usd)
        return {"all": overall, "claude": self.claude, "codex": self.codex, "gemini": self.gemini}


class AlertsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[alerts]``: what the notifier speaks up about, and where (README, "Alerts")."""

    thresholds: list[float] = msgspec.field(default_factory=lambda: [75.0, 90.0, 95.0])
    """Used % of every official window; one alert per band per window instance."""
    estimated: bool = False
    """Also alert on estimated windows (the alert then says "estimate")."""
    pace: bool = True
    pace_margin_minutes: float = 15.0
    resets: bool = True
    trouble: bool = True
    budget: BudgetConfig = BudgetConfig()
    budget_thresholds: list[float] = msgspec.field(default_factory=lambda: [80.0, 100.0])
    tz: str = ""
    """Time zone of budget days, weeks and months (IANA name); empty: this machine's."""
    quiet_hours: str = ""
    """``"22:00-07:00"``: desktop pop-ups wait, then one summary is shown."""
    desktop: bool = True
    urls: list[str] = []
    """apprise URLs (ntfy://, slack://, json://, mailto://, ...); they may hold credentials,
    which never reach a log, an event or an answer."""
    command: str = ""
    """A program run with the alert as JSON on stdin and OTM_ALERT_* variables (no shell)."""
    command_timeout_seconds: float = 10.0


ACTIVITY_KEEP_RANGE = (1, 10_000)
"""The allowed ``[activity] keep`` values (prompts kept per provider)."""


class ActivityConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[activity]``: recent user prompts, kept in the state folder (README, "Recent activity")."""

    enabled: bool = True
    """``false``: the collector reads no prompts and the store deletes those it kept."""
    keep: int = DEFAULT_KEEP
    """How many of the latest prompts the store keeps per provider (``ACTIVITY_KEEP_RANGE``)."""


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole file."""

    claude: ClaudeConfig = ClaudeConfig()
    codex: CodexConfig = CodexConfig()
    gemini: GeminiConfig = GeminiConfig()
    pricing: PricingConfig = PricingConfig()
    api: ApiConfig = ApiConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    limits: LimitsConfig = LimitsConfig()
    alerts: AlertsConfig = AlertsConfig()
    activity: ActivityConfig = ActivityConfig()

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
        config = msgspec.convert(document, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(
            f"{path}: {exc}. Fix or remove that setting (see README, 'Configuration')."
        ) from None
    _check_limits(path, config)
    _check_alerts(path, config.alerts)
    _check_activity(path, config.activity)
    return config


def _check_activity(path: Path, activity: ActivityConfig) -> None:
    """``keep`` is a count of prompts per provider, within ``ACTIVITY_KEEP_RANGE``."""
    low, high = ACTIVITY_KEEP_RANGE
    if not low <= activity.keep <= high:
        raise ConfigError(
            f"{path}: [activity] keep = {activity.keep}: use {low}-{high} "
            "(prompts kept per provider)"
        )


def _check_limits(path: Path, config: Config) -> None:
    """Endpoints receive tokens: only https, or plain http to this machine (test servers)."""
    for setting, url in (
        ("[claude] usage_url", config.claude.usage_url),
        ("[codex] usage_url", config.codex.usage_url),
        ("[gemini] code_assist_endpoint", config.gemini.code_assist_endpoint),
    ):
        if url and not is_safe_endpoint(url):
            raise ConfigError(
                f"{path}: {setting} = {url!r} would send your sign-in token unencrypted or to "
                "an odd address; use an https:// URL (http:// only to 127.0.0.1 or localhost)"
            )
    limits = config.limits
    if limits.min_interval_seconds < 1 or limits.poll_seconds < limits.min_interval_seconds:
        raise ConfigError(
            f"{path}: [limits] poll_seconds ({limits.poll_seconds:g}) must be at least "
            f"min_interval_seconds ({limits.min_interval_seconds:g}), which must be at least 1"
        )
    if not 0 <= limits.jitter <= 1 or not 0 < limits.timeout_seconds <= 120:
        raise ConfigError(f"{path}: [limits] jitter must be 0-1 and timeout_seconds 0-120 seconds")


def _check_alerts(path: Path, alerts: AlertsConfig) -> None:
    """Bands are percentages; quiet hours are HH:MM-HH:MM; budgets are positive dollars."""
    for setting, bands in (
        ("thresholds", alerts.thresholds),
        ("budget_thresholds", alerts.budget_thresholds),
    ):
        if any(not 0 < band <= 1000 for band in bands):
            raise ConfigError(f"{path}: [alerts] {setting} = {bands}: each must be a % above 0")
    if alerts.quiet_hours and parse_quiet_hours(alerts.quiet_hours) is None:
        raise ConfigError(
            f"{path}: [alerts] quiet_hours = {alerts.quiet_hours!r}: write it as "
            '"22:00-07:00" (local time, start-end)'
        )
    for scope, limits in alerts.budget.scopes().items():
        for field in limits.__struct_fields__:
            value = getattr(limits, field)
            if value is not None and not value > 0:
                where = "[alerts.budget]" if scope == "all" else f"[alerts.budget.{scope}]"
                raise ConfigError(f"{path}: {where} {field} = {value}: use a positive USD amount")
    if not 0 < alerts.command_timeout_seconds <= 300:
        raise ConfigError(f"{path}: [alerts] command_timeout_seconds must be 0-300 seconds")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """``"22:00-07:00"`` as (start, end) minutes after midnight; None if malformed."""
    start, dash, end = text.strip().partition("-")
    if not dash:
        return None
    minutes = [_minutes(part) for part in (start, end)]
    if minutes[0] is None or minutes[1] is None:
        return None
    return minutes[0], minutes[1]


def _minutes(clock: str) -> int | None:
    hours, colon, mins = clock.strip().partition(":")
    if not (colon and hours.isdigit() and mins.isdigit() and len(mins) == 2):
        return None
    value = int(hours) * 60 + int(mins)
    return value if int(hours) < 24 and int(mins) < 60 else None


def is_safe_endpoint(url: str) -> bool:
    """True for https URLs and for http URLs to the loopback interface."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


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
