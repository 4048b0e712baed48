"""Dotted, prefix-matchable topics. A subscriber to ``evt.`` sees every committed event."""

from __future__ import annotations

from bus.messages import (
    ActivityCommitted,
    AlertCommitted,
    AlertObserved,
    Heartbeat,
    LimitsCommitted,
    LimitsObserved,
    Message,
    PriceCommitted,
    PriceObserved,
    RefreshRequested,
    UsageBatch,
    UsageCommitted,
)

COMMANDS = "cmd."
OBSERVATIONS = "obs."
EVENTS = "evt."
SYSTEM = "sys."
HEARTBEAT = "sys.heartbeat"
"""Every process's heartbeat (a prefix: each beats under ``sys.heartbeat.<process>``)."""
STORE_HEARTBEAT = f"{HEARTBEAT}.store"
"""The store's heartbeat alone, which carries the log's head: what a follower needs, without
waking for the whole stack's beats."""


def topic_for(message: Message) -> str:
    """The topic a message is published under: its tag, then the provider when it has one."""
    match message:
        case RefreshRequested(provider=p):
            return f"cmd.refresh.{p}"
        case UsageBatch(provider=p):
            return f"obs.usage.{p}"
        case PriceObserved(provider=p):
            return f"obs.price.{p}"
        case LimitsObserved(provider=p):
            return f"obs.limits.{p}"
        case LimitsCommitted(provider=p):
            return f"evt.limits.{p}"
        case UsageCommitted(provider=p):
            return f"evt.usage.{p}"
        case PriceCommitted(provider=p):
            return f"evt.price.{p}"
        case ActivityCommitted(provider=p):
            return f"evt.activity.{p}"
        case AlertObserved(alert=a):
            return f"obs.alert.{a.provider}"
        case AlertCommitted(alert=a):
            return f"evt.alert.{a.provider}"
        case Heartbeat(process=p):
            return f"{HEARTBEAT}.{p}"
    raise ValueError(f"no topic for {type(message).__name__}")
