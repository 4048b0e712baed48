"""The shape of ``config.toml``: one frozen Struct per section, every key optional.

Ranges are declared on the fields (``msgspec.Meta``), so decoding the file checks them and
``config_errors`` can say, from the same declaration, which values a key takes. What a single
field cannot say (an order, a time zone, a URL) is checked in ``config_checks``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from bus.messages import DEFAULT_KEEP

DEFAULT_API_PORT = 8787
DEFAULT_API_HOST = "127.0.0.1"
ACTIVITY_KEEP_RANGE = (1, 10_000)
"""The allowed ``[activity] keep`` values (prompts kept per provider)."""
DAY_SECONDS = 86_400.0

Port = Annotated[int, Meta(ge=1, le=65_535)]
Interval = Annotated[float, Meta(ge=1, le=DAY_SECONDS)]
"""A cadence in seconds: at least one a second (less would rescan without pause), at most daily."""
Timeout = Annotated[float, Meta(ge=0.1, le=120)]
CommandTimeout = Annotated[float, Meta(ge=0.1, le=300)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
WindowBand = Annotated[float, Meta(gt=0, le=100)]
"""A used percentage of a rate-limit window (a window cannot pass 100 %)."""
BudgetBand = Annotated[float, Meta(gt=0, le=1000)]
"""A percentage of a budget (spend can pass 100 %)."""
Usd = Annotated[float, Meta(gt=0, le=1_000_000)]
PerMillion = Annotated[float, Meta(ge=0, le=1_000_000)]
"""USD per million tokens."""
MarginMinutes = Annotated[float, Meta(ge=0, le=10_080)]
"""Up to a week: the longest window a provider reports."""
Keep = Annotated[int, Meta(ge=ACTIVITY_KEEP_RANGE[0], le=ACTIVITY_KEEP_RANGE[1])]


class PriceOverride(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens for one model; a missing key keeps the genai-prices value."""

    input: PerMillion | None = None
    output: PerMillion | None = None
    cache_read: PerMillion | None = None
    cache_write: PerMillion | None = None
    cache_write_1h: PerMillion | None = None
    web_searches_kcount: PerMillion | None = None
    """USD per 1,000 server-side web searches (Anthropic bills $10), not per million tokens."""


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
    """``[api]``: the HTTP API. It binds ``host``, this machine only by default; any other
    address needs ``token``, and then every route asks for it (README, "The dashboard on
    another machine")."""

    port: Port | None = None
    host: str = DEFAULT_API_HOST
    """The address to listen on: 127.0.0.1 (or ::1, localhost) for this machine only, else an
    address of this machine, or 0.0.0.0 / :: for all of them."""
    token: str = ""
    """The secret every client must send when ``host`` is beyond loopback (``otm api token
    --new`` makes one); never logged, never in an answer or an error."""
    allowed_hosts: list[str] = []
    """More names the api answers to in the ``Host`` header (e.g. this machine's DNS name),
    besides ``host``, this machine's host name and the address a request came in on."""


class SchedulerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[scheduler]``: the safety-net refresh cadence."""

    refresh_seconds: Interval = 60.0


class LimitsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[limits]``: how politely the live limits endpoints are asked.

    The scheduler asks every ``poll_seconds`` (with up to ``jitter`` of it added at random);
    whoever else asks (``otm refresh``, ``POST /v1/refresh``), a provider is never asked more
    often than every ``min_interval_seconds``. Every request gives up after
    ``timeout_seconds``.
    """

    enabled: bool = True
    poll_seconds: Interval = 300.0
    min_interval_seconds: Interval = 60.0
    jitter: Fraction = 0.1
    timeout_seconds: Timeout = 10.0
    max_backoff_seconds: Interval = 3600.0


class BudgetLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD budgets per local day, week (from Monday) and calendar month; unset means none."""

    daily_usd: Usd | None = None
    weekly_usd: Usd | None = None
    monthly_usd: Usd | None = None


class BudgetConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[alerts.budget]``: budgets over every provider, and per provider under
    ``[alerts.budget.claude]`` (``codex``, ``gemini``)."""

    daily_usd: Usd | None = None
    weekly_usd: Usd | None = None
    monthly_usd: Usd | None = None
    claude: BudgetLimits = BudgetLimits()
    codex: BudgetLimits = BudgetLimits()
    gemini: BudgetLimits = BudgetLimits()

    def scopes(self) -> dict[str, BudgetLimits]:
        """Each budget scope (``all`` and every provider) with its limits."""
        overall = BudgetLimits(self.daily_usd, self.weekly_usd, self.monthly_usd)
        return {"all": overall, "claude": self.claude, "codex": self.codex, "gemini": self.gemini}


class AlertsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[alerts]``: what the notifier speaks up about, and where (README, "Alerts")."""

    thresholds: list[WindowBand] = msgspec.field(default_factory=lambda: [75.0, 90.0, 95.0])
    """Used % of every official window; one alert per band per window instance."""
    estimated: bool = False
    """Also alert on estimated windows (the alert then says "estimate")."""
    pace: bool = True
    pace_margin_minutes: MarginMinutes = 15.0
    resets: bool = True
    trouble: bool = True
    budget: BudgetConfig = BudgetConfig()
    budget_thresholds: list[BudgetBand] = msgspec.field(default_factory=lambda: [80.0, 100.0])
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
    command_timeout_seconds: CommandTimeout = 10.0


class ActivityConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[activity]``: recent user prompts, kept in the state folder (README, "Recent activity")."""

    enabled: bool = True
    """``false``: the collector reads no prompts and the store deletes those it kept."""
    keep: Keep = DEFAULT_KEEP
    """How many of the latest prompts the store keeps per provider (``ACTIVITY_KEEP_RANGE``)."""


class BusConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[bus]``: several machines (README, "Several machines"). On the hub, ``listen`` is the
    base tcp port agents reach (publish, subscribe and replay on it and the next two); on an
    agent, ``connect`` is the hub's and ``hub_key`` the public key ``otm keys init`` printed
    there. Empty: this machine's processes talk over the local transport only."""

    listen: str = ""
    connect: str = ""
    hub_key: str = ""


MACHINE_NAME_CHARS = 64
"""The longest ``[machine] name`` (it is shown in report columns)."""


class MachineConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[machine]``: how this machine is named in reports (README, "Machines")."""

    name: str = ""
    """Empty: the short host name. Its id (``<state>/machine-id``) never changes with it."""


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole file (with ``OTM_API_PORT`` applied by ``load_config``)."""

    claude: ClaudeConfig = ClaudeConfig()
    codex: CodexConfig = CodexConfig()
    gemini: GeminiConfig = GeminiConfig()
    pricing: PricingConfig = PricingConfig()
    api: ApiConfig = ApiConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    limits: LimitsConfig = LimitsConfig()
    alerts: AlertsConfig = AlertsConfig()
    activity: ActivityConfig = ActivityConfig()
    bus: BusConfig = BusConfig()
    machine: MachineConfig = MachineConfig()

    @property
    def api_port(self) -> int:
        """``OTM_API_PORT``, else ``[api] port``, else the default 8787 (``load_config`` has
        checked and applied the variable). 0 asks the OS for a free port (the "ready" log
        line says which)."""
        return DEFAULT_API_PORT if self.api.port is None else self.api.port
