"""The shapes of the api's JSON answers for the OpenAPI document (``otm status``'s is
``services.queries.status_types``). The queries build plain dicts; the handlers name their
shape, and the api's schemathesis test checks every answer against it.

Rows stay ``dict[str, Any]`` here: the reports' rows are ccusage's JSON (listed in
``services.queries.reports``), and the windows, credits, alerts and prompts are documented
where they are built.
"""

# No `from __future__ import annotations`: TypedDict tells NotRequired keys only from
# evaluated annotations (Python 3.11), and the OpenAPI document needs them.
from typing import Any, NotRequired, TypedDict

Row = dict[str, Any]


class Unpriced(TypedDict):
    """A model without a price: its tokens are counted, its dollars are not."""

    model: str
    tokens: int
    provider: NotRequired[str]


class UsageAnswer(TypedDict):
    """``GET /v1/usage/{kind}``: the kind's rows under its own key, like ccusage's JSON."""

    daily: NotRequired[list[Row]]
    weekly: NotRequired[list[Row]]
    monthly: NotRequired[list[Row]]
    sessions: NotRequired[list[Row]]
    projects: NotRequired[list[Row]]
    blocks: NotRequired[list[Row]]
    machines: NotRequired[list[Row]]
    totals: NotRequired[Row]
    """Every kind but blocks: the token fields and ``totalCost`` summed."""
    unpriced: NotRequired[list[Unpriced]]
    """Only when some model has no price."""
    pricedAs: NotRequired[dict[str, str]]
    """Only when some model was priced as the known model inside its name: ``{model: known}``."""


class MachineEntry(TypedDict):
    """One machine whose usage the store holds."""

    id: str
    """Its stable id (128-bit hex, made once on that machine)."""
    name: str
    """``[machine] name`` there, else its short host name."""
    firstSeen: str | None
    """Its first record's time (UTC ISO 8601); null before it counted one."""
    lastSeen: str | None
    """Its latest record's time (UTC ISO 8601); null before it counted one."""
    totalTokens: int
    totalCost: float
    share: float
    """Its part of every machine's tokens, 0-1."""
    local: bool
    """Whether it is the machine the store runs on."""


class MachinesAnswer(TypedDict):
    """``GET /v1/machines``: every machine seen, most tokens first."""

    machines: list[MachineEntry]


class LimitsAnswer(TypedDict):
    """``GET /v1/limits``: every rate-limit window, credit and live check."""

    limits: list[Row]
    credits: list[Row]
    live: dict[str, Row]
    """Each provider's last live check (its state, reason, fix, age and sign-in)."""
    checkedAt: float
    """When this answer was made (epoch seconds)."""


class AlertsAnswer(TypedDict):
    """``GET /v1/alerts``: the newest alerts with their deliveries, and the active ones."""

    alerts: list[Row]
    active: list[Row]
    demo: bool


class ActivityAnswer(TypedDict):
    """``GET /v1/activity``: the newest prompts with their replies' models, tokens and dollars."""

    provider: str
    enabled: bool
    """``[activity] enabled``: off, nothing is kept."""
    keep: int
    """``[activity] keep``: prompts kept per provider."""
    activity: list[Row]
