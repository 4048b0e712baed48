"""The shape of ``otm status --json`` and ``GET /v1/status`` (camelCase, as every answer of the
api), for type checks and the OpenAPI document; ``services.queries.status`` fills it in."""

# No `from __future__ import annotations`: TypedDict tells NotRequired keys only from
# evaluated annotations (Python 3.11), and the OpenAPI document needs them.
from typing import Any, NotRequired, TypedDict


class Root(TypedDict):
    """One data root of one provider."""

    provider: str
    path: str
    exists: bool
    files: int
    """Log files found under it."""
    unreadableDirs: list[str]
    """Folders under it that could not be listed."""


class Process(TypedDict):
    """One process of the stack, as its latest heartbeat describes it."""

    process: str
    pid: int
    alive: bool
    lastSeenSecondsAgo: float
    uptimeSeconds: float
    counters: dict[str, int]
    detail: dict[str, Any]


class Drops(TypedDict):
    """What the bus readers dropped: a total and ``{process: {reason: count}}``."""

    total: int
    byProcess: dict[str, dict[str, int]]


class Trouble(TypedDict):
    """Something wrong with a process now (a full disk, a damaged database)."""

    process: str
    state: str
    message: str
    since: NotRequired[float | None]


class ProviderState(TypedDict):
    """A provider's overall state (``services.queries.providers``)."""

    state: str
    """available, partial or unavailable."""
    reason: str
    fix: str
    logFiles: int
    live: dict[str, Any] | None
    """The last live limits check, as in ``GET /v1/limits``; null before the first."""


class MachineSeen(TypedDict):
    """One machine whose usage or heartbeats the store holds."""

    id: str
    name: str
    local: bool
    """Whether it is this machine."""
    lastRecord: str | None
    """Its latest usage record's time (UTC ISO 8601); null before it counted one."""
    lastHeardSecondsAgo: float | None
    """How long ago the store last had a heartbeat of any of its processes; null if never
    (or the store keeps none of it)."""


class StatusReport(TypedDict):
    """Everything ``otm status`` shows."""

    stateDir: str
    database: str
    demo: bool
    storeRunning: bool
    busRunning: bool
    roots: list[Root]
    headSeq: int
    processes: list[Process]
    skipped: dict[str, int]
    """Input lines skipped, by reason."""
    unpricedModels: list[str]
    pricedAs: dict[str, str]
    """Models priced as the known model inside their name."""
    busGarbageDropped: Drops
    eventsRefused: Drops
    unknownHeartbeatsIgnored: int
    machines: list[MachineSeen]
    """Every machine seen (this one first), by usage and by heartbeats."""
    trouble: list[Trouble]
    databaseError: NotRequired[str]
    """Why the database could not be read, when it could not."""
    providers: dict[str, ProviderState]
    alertChannels: list[dict[str, Any]]
    """Each alert channel's deliveries by state and its latest problem."""
