"""Every message that crosses the bus: commands, observations and committed events.

Each body is a frozen msgspec Struct tagged with an explicit dotted name in a ``type`` field.
Tags never change meaning and new fields always get defaults, so an old consumer can decode a
newer producer's message (unknown fields are ignored) and skip a type it has never heard of.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Provider = Literal["claude", "codex", "gemini"]
PROVIDERS: tuple[str, ...] = ("claude", "codex", "gemini")
"""Every CLI OpenTokenMonitor reads, in the order reports list them."""
RefreshReason = Literal["files", "schedule", "manual", "startup"]


class Message(msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=False):
    """Base of every body on the wire; subclasses set ``tag`` to their dotted type name."""


# -- commands -------------------------------------------------------------------------------


class RefreshRequested(Message, frozen=True, tag="cmd.refresh"):
    """Ask the collector to look for new data of one provider.

    ``paths`` narrows the scan to files the watcher saw change; empty means "scan every root".
    """

    provider: str
    reason: RefreshReason
    requested_at: float
    paths: tuple[str, ...] = ()
    live: bool = False
    """Also ask the provider's live limits endpoint (the collector still enforces the polling
    floor and any back-off, whoever asks)."""


# -- observations (collector -> store) --------------------------------------------------------


class UsageRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One billed model response, as counted by a provider adapter.

    ``key`` is deterministic, taken from the CLI's own ids, so the same response read twice
    (streaming copies, resumed sessions, a re-read file) always lands on the same key.
    ``model`` is ``None`` for records that name no real model (Claude's ``<synthetic>``).
    """

    key: str
    provider: str
    ts_ms: int
    model: str | None
    project: str
    session: str
    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    speed: str | None = None
    sidechain: bool = False
    reasoning: int = 0
    """Reasoning/thinking tokens the log reports separately. For Codex they are already inside
    ``output`` (informational); for Gemini (``thoughts``) they are not, and are billed as output."""
    revision: int = 0
    """Orders copies of one key where the provider's rule is "the last written wins" (Gemini
    re-appends a message with its tokens): the line's byte offset in its file."""
    total: int | None = None
    """The log's own total when it writes one (Codex ``total_tokens``, Gemini ``total``); ccusage
    reports sum it as ``totalTokens`` for those CLIs. ``None`` means "the sum of the parts"."""
    web_search_requests: int = 0
    """Server-side web searches the response ran, billed per search apart from tokens (never
    part of any token count). Claude Code writes them as ``usage.server_tool_use.
    web_search_requests`` (builds of late 2026); ccusage 20.0.24 ignores them."""

    @property
    def total_tokens(self) -> int:
        """All billed tokens: input, output, both cache writes and cache reads."""
        return (
            self.input + self.output + self.cache_write_5m + self.cache_write_1h + self.cache_read
        )

    @property
    def prompt_tokens(self) -> int:
        """The whole prompt the request sent: what long-context pricing tiers are measured on."""
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read


class LimitWindow(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One rate-limit window as a provider reports it (the one window model of every CLI).

    ``window`` names it (``five_hour``, ``weekly``, ``primary``, ``secondary``, a model id for a
    Gemini quota bucket, ...). ``resets_at`` is epoch seconds, so a reader computes a live
    countdown instead of trusting a frozen one. ``source`` is ``live`` (the provider's
    endpoint), ``local-official`` (the provider's own numbers found in local logs) or
    ``estimated``.
    """

    provider: str
    window: str
    used_percent: float
    observed_at: float
    source: str
    resets_at: float | None = None
    window_seconds: int | None = None
    detail: str = ""


class CreditBalance(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Prepaid or extra-usage credit a provider reports beside its windows.

    Amounts are decimal strings as the provider sent them, so no float rounds money.
    """

    provider: str
    name: str
    balance: str | None = None
    used: str | None = None
    limit: str | None = None
    currency: str = ""
    used_percent: float | None = None
    unlimited: bool = False
    enabled: bool = True


class AuthInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Where a provider's credentials came from and what they allow; never the secret itself.

    ``source`` is a path or a keychain item name, ``kind`` is ``oauth``, ``api-key`` or
    ``none``, ``expires_at`` is epoch seconds when the credentials say.
    """

    source: str
    kind: str
    expires_at: float | None = None
    plan: str = ""
    scopes: tuple[str, ...] = ()


LiveState = Literal["ok", "failed", "unconfigured", "unsupported", "waiting"]


class LiveStatus(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The outcome of asking a provider's live limits endpoint.

    ``state``: ``ok``; ``failed`` (will be retried: ``kind`` says why, e.g. ``auth``,
    ``rate_limited``, ``server``, ``timeout``, ``network``, ``malformed``); ``unconfigured`` (no
    usable credentials here); ``unsupported`` (the provider no longer serves this account: not
    retried until the credentials change). ``reason`` and ``fix`` are for people and never
    quote a secret or a response body.
    """

    provider: str
    state: LiveState
    checked_at: float
    kind: str = ""
    reason: str = ""
    fix: str = ""
    http_status: int | None = None
    retry_after: float | None = None
    next_poll_at: float | None = None
    last_success_at: float | None = None
    consecutive_failures: int = 0
    auth: AuthInfo | None = None


class FileCursor(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """How far one log file has been consumed, and how to recognise the same file again.

    ``dev``/``ino`` catch a replaced file; ``head_len``/``head_sha1`` (a hash of the first bytes)
    catch a file rewritten in place; ``offset`` always sits just after a newline, so a
    half-written last line is read again once it is complete. ``state`` is the parser's own
    resumable state (e.g. Codex running totals), opaque to everyone but the adapter.
    """

    path: str
    dev: int
    ino: int
    offset: int
    head_len: int
    head_sha1: str
    state: bytes = b""


class SkipCounts(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Input an adapter passed over, by reason. Every field is a count of lines or files."""

    malformed_json: int = 0
    invalid_utf8: int = 0
    wrong_shape: int = 0
    oversized_line: int = 0
    unreadable: int = 0
    rewound: int = 0

    def __add__(self, other: SkipCounts) -> SkipCounts:
        """Add two tallies field by field."""
        return SkipCounts(*(getattr(self, f) + getattr(other, f) for f in self.__struct_fields__))

    @property
    def total(self) -> int:
        """All skips, whatever the reason."""
        return sum(getattr(self, f) for f in self.__struct_fields__)


PROMPT_CHARS = 220
"""A prompt's text is cut to this many characters before it leaves the collector."""
DEFAULT_KEEP = 500
"""Prompts kept per provider unless ``[activity] keep`` says otherwise."""


class Prompt(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One prompt a person typed into a CLI, as its adapter found it in the same logs it reads
    for usage ("Recent activity").

    ``key`` is deterministic, from the CLI's own ids (Claude's line ``uuid``, Gemini's message
    ``id``, a hash of Codex's line), so the same prompt read twice lands on the same key.
    ``project`` and ``session`` are derived exactly as the usage records of the same file, so a
    reply's records are matched to their prompt by ``(provider, session)`` and time. ``text``
    is at most ``PROMPT_CHARS`` characters. Prompts are private: they stay on this machine,
    and no process logs their text.
    """

    key: str
    provider: str
    ts_ms: int
    project: str
    session: str
    text: str


class UsageBatch(Message, frozen=True, tag="obs.usage"):
    """Records read from one file between two cursors; the store commits them atomically.

    The store applies a batch only when ``before`` equals its committed cursor for the path
    (``None`` meaning "no cursor yet"), so a re-sent or out-of-order batch is never applied twice.
    ``batch_id`` is derived from the file identity and both offsets, so a re-send has the same id.
    """

    batch_id: str
    provider: str
    source: str
    before: FileCursor | None
    after: FileCursor
    records: tuple[UsageRecord, ...] = ()
    skipped: SkipCounts = SkipCounts()
    limits: tuple[LimitWindow, ...] = ()
    """Rate-limit windows found in the same span of the file (e.g. Codex ``rate_limits``)."""
    prompts: tuple[Prompt, ...] = ()
    """User prompts found in the same span of the file (none when ``[activity]`` is off); the
    store commits them as an ``ActivityCommitted`` in the same transaction as the records."""
    machine: str = ""
    """The id of the machine that read the file (``services.runtime.machine``); empty (an
    older collector) means the store's own machine. Cursors are kept per machine and path."""
    machine_name: str = ""
    """That machine's readable name, for reports."""


class LimitsObserved(Message, frozen=True, tag="obs.limits"):
    """Rate-limit windows read outside the usage logs: a live endpoint or the statusline.

    ``status`` is set for live polls, failed ones included (then ``windows`` is empty and the
    last good windows stay, marked stale by readers). ``observation_id`` makes a re-send
    recognisable; the store applies an observation only if it is newer than the last one.
    """

    observation_id: str
    provider: str
    source: str
    observed_at: float
    windows: tuple[LimitWindow, ...] = ()
    credits: tuple[CreditBalance, ...] = ()
    status: LiveStatus | None = None


class ModelPrice(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """USD per million tokens for one model, as the provider bills it.

    ``long_context_*`` apply to every category of a request whose prompt exceeds
    ``long_context_threshold`` tokens (Anthropic's and Google's "cliff" rule). Prices are decimal
    strings so no float ever rounds a published price. ``fast_multiplier`` scales the whole
    request in fast mode.
    """

    input: str
    output: str
    cache_write_5m: str
    cache_write_1h: str
    cache_read: str
    long_context_threshold: int | None = None
    long_context_input: str | None = None
    long_context_output: str | None = None
    long_context_cache_write_5m: str | None = None
    long_context_cache_write_1h: str | None = None
    long_context_cache_read: str | None = None
    fast_multiplier: str = "1"
    web_searches_kcount: str = "0"
    """USD per 1,000 server-side web searches (genai-prices' ``web_searches_kcount``; Anthropic
    bills $10), flat: neither the long-context tier nor the fast multiplier applies."""


class PriceObserved(Message, frozen=True, tag="obs.price"):
    """The collector's price for a model under the current configuration.

    ``price`` is ``None`` when no source knows the model: it is then reported as unpriced,
    never as $0. ``source`` says where the number came from (``genai-prices 0.2.3``, ``config``).
    """

    provider: str
    model: str
    source: str
    price: ModelPrice | None = None


# -- committed events (store -> everyone) ----------------------------------------------------


class UsageCommitted(Message, frozen=True, tag="evt.usage"):
    """One observed batch was applied: its file cursor moved and its new records entered the log.

    ``records`` are the records that now count (new keys, or larger copies of known keys);
    ``replaces`` are the records they supersede, so projections can subtract them and the log
    alone is enough to rebuild every projection. ``duplicates`` counts records that lost to a
    record already counted. Every applied batch gives exactly one such event, even an empty one.
    """

    seq: int
    batch_id: str
    provider: str
    source: str
    cursor: FileCursor
    records: tuple[UsageRecord, ...] = ()
    replaces: tuple[UsageRecord, ...] = ()
    duplicates: int = 0
    skipped: SkipCounts = SkipCounts()
    limits: tuple[LimitWindow, ...] = ()
    machine: str = ""
    """The machine whose file this was; empty in events logged before machines were kept,
    which belong to the store's own machine. ``records`` count for it."""
    machine_name: str = ""


class PriceCommitted(Message, frozen=True, tag="evt.price"):
    """The price used for a model from this point on."""

    seq: int
    provider: str
    model: str
    source: str
    price: ModelPrice | None = None


class LimitsCommitted(Message, frozen=True, tag="evt.limits"):
    """A limits observation entered the log (windows, credits and the live status)."""

    seq: int
    observation_id: str
    provider: str
    source: str
    observed_at: float
    windows: tuple[LimitWindow, ...] = ()
    credits: tuple[CreditBalance, ...] = ()
    status: LiveStatus | None = None


class ActivityCommitted(Message, frozen=True, tag="evt.activity"):
    """User prompts of one applied batch entered the log ("Recent activity").

    Committed in the same transaction as the batch's ``UsageCommitted``, just before it, so a
    reply in the same batch finds its prompt. ``prompts`` are the prompts not seen before.
    ``keep`` is how many prompts per provider the activity projection keeps (``[activity]
    keep`` when it was committed), so the projection is a function of the log alone.
    ``scrubbed`` marks an event whose prompts were deleted because ``[activity] enabled`` was
    turned off: its ``seq`` stays (the log stays gapless), its prompts are gone.
    """

    seq: int
    provider: str
    prompts: tuple[Prompt, ...] = ()
    keep: int = DEFAULT_KEEP
    scrubbed: bool = False


# -- alerts (notifier -> store -> channels) ---------------------------------------------------

AlertRule = Literal["threshold", "pace", "budget", "reset", "trouble", "test", "summary"]
Severity = Literal["info", "warning", "critical"]


class Alert(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One thing a person should hear about, as the notifier's rules decided it.

    ``key`` is deterministic (rule, provider, window, band, window instance), so the same alert
    decided twice, by a restarted notifier or after a replay, is one alert: the store's append
    is idempotent on it. ``title`` and ``body`` are ready for people and never hold a secret.
    """

    key: str
    rule: AlertRule
    provider: str
    """``claude``, ``codex``, ``gemini``, or ``all`` (a budget over every provider)."""
    title: str
    body: str
    severity: Severity
    raised_at: float
    window: str = ""
    band: float | None = None
    """The threshold crossed: a used % of a window, or a % of a budget."""
    used_percent: float | None = None
    resets_at: float | None = None
    estimated: bool = False
    demo: bool = False


class AlertObserved(Message, frozen=True, tag="obs.alert"):
    """The notifier decided an alert; channels deliver it only once it is committed."""

    alert: Alert


class AlertCommitted(Message, frozen=True, tag="evt.alert"):
    """An alert entered the log (once per key)."""

    seq: int
    alert: Alert


# -- system ----------------------------------------------------------------------------------


class Heartbeat(Message, frozen=True, tag="sys.heartbeat"):
    """A process is alive. The store's heartbeat carries the head ``seq`` of the log.

    ``counters`` are the process's own tallies (skips, re-sends, garbage dropped), shown by
    ``otm status``. ``stopping`` marks the last beat of a process that stops on purpose: idle
    beats are seconds apart, so readers would otherwise take a while to see it gone.
    """

    process: str
    pid: int
    started_at: float
    sent_at: float
    head_seq: int | None = None
    counters: dict[str, int] = {}
    detail: dict[str, str] = {}
    stopping: bool = False
    machine: str = ""
    """The id of the machine the process runs on; empty (an older process) means the
    store's own machine. The store keeps one heartbeat per machine and process."""


CommittedEvent = UsageCommitted | PriceCommitted | LimitsCommitted | ActivityCommitted
AnyMessage = (
    RefreshRequested
    | UsageBatch
    | PriceObserved
    | LimitsObserved
    | UsageCommitted
    | PriceCommitted
    | LimitsCommitted
    | ActivityCommitted
    | Heartbeat
)

MESSAGE_TYPES: dict[str, type[Message]] = {
    t.__struct_config__.tag: t  # type: ignore[misc]
    for t in (
        RefreshRequested,
        UsageBatch,
        PriceObserved,
        LimitsObserved,
        UsageCommitted,
        PriceCommitted,
        LimitsCommitted,
        ActivityCommitted,
        AlertObserved,
        AlertCommitted,
        Heartbeat,
    )
}


# -- control plane (request/reply, never published) ------------------------------------------


class ReplayRequest(msgspec.Struct, frozen=True, tag_field="type", tag="ctl.replay"):
    """Ask the store for committed events after seq ``after`` whose topic starts with ``prefix``."""

    after: int
    prefix: str = "evt."
    limit: int = 1000


class ReplayReply(msgspec.Struct, frozen=True, tag_field="type", tag="ctl.replay.reply"):
    """Committed events as ``(seq, topic, body)`` in seq order, and the log's head ``seq``.

    ``error`` is set instead when the request could not be served.
    """

    head: int
    events: list[tuple[int, str, bytes]] = []
    error: str | None = None


class HeartbeatsRequest(msgspec.Struct, frozen=True, tag_field="type", tag="ctl.heartbeats"):
    """Ask the running store for the latest heartbeat of every process of the stack (asked on
    the replay socket: the store keeps them in memory and writes them down only now and then)."""


class HeartbeatsReply(msgspec.Struct, frozen=True, tag_field="type", tag="ctl.heartbeats.reply"):
    """The latest heartbeat of each process and when the store received it (epoch seconds).

    ``error`` is set instead when the request could not be served.
    """

    heartbeats: list[tuple[Heartbeat, float]] = []
    error: str | None = None


class CursorsRequest(msgspec.Struct, frozen=True, tag_field="type", tag="ctl.cursors"):
    """Ask the store (on the replay socket) for one machine's committed file cursors: an agent
    has no database of its own and resumes from what the hub committed."""

    machine: str


class CursorsReply(msgspec.Struct, frozen=True, tag_field="type", tag="ctl.cursors.reply"):
    """A machine's committed cursors by path.

    ``error`` is set instead when the request could not be served.
    """

    cursors: dict[str, FileCursor] = {}
    error: str | None = None
