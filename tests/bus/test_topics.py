"""Topics: dotted, prefix-matchable, the message's tag then its provider."""

from __future__ import annotations

import msgspec
import pytest

from bus.messages import (
    MESSAGE_TYPES,
    ActivityCommitted,
    Alert,
    AlertCommitted,
    AlertObserved,
    Heartbeat,
    LimitsCommitted,
    LimitsObserved,
    Message,
    PriceCommitted,
    PriceObserved,
    RefreshRequested,
    UsageCommitted,
)
from bus.topics import EVENTS, topic_for
from tests.helpers import batch, cursor

ALERT = Alert(
    key="k", rule="trouble", provider="gemini", title="t", body="b", severity="info", raised_at=1.0
)
CASES: list[tuple[Message, str]] = [
    (RefreshRequested(provider="claude", reason="manual", requested_at=0.0), "cmd.refresh.claude"),
    (msgspec.structs.replace(batch([], None, 10), provider="codex"), "obs.usage.codex"),
    (PriceObserved(provider="gemini", model="gemini-2.5-pro", source="x"), "obs.price.gemini"),
    (
        UsageCommitted(seq=1, batch_id="b", provider="claude", source="/a", cursor=cursor(1)),
        "evt.usage.claude",
    ),
    (PriceCommitted(seq=2, provider="codex", model="gpt-5", source="x"), "evt.price.codex"),
    (Heartbeat(process="store", pid=1, started_at=0.0, sent_at=0.0), "sys.heartbeat.store"),
    (
        LimitsObserved(observation_id="o", provider="gemini", source="live", observed_at=1.0),
        "obs.limits.gemini",
    ),
    (
        LimitsCommitted(
            seq=3, observation_id="o", provider="codex", source="live", observed_at=1.0
        ),
        "evt.limits.codex",
    ),
    (AlertObserved(alert=ALERT), "obs.alert.gemini"),
    (AlertCommitted(seq=4, alert=ALERT), "evt.alert.gemini"),
    (ActivityCommitted(seq=5, provider="codex"), "evt.activity.codex"),
]


def test_cases_cover_every_message_type() -> None:
    """Every registered message type has a topic case below."""
    assert set(MESSAGE_TYPES.values()) == {type(m) for m, _ in CASES}


@pytest.mark.parametrize(("message", "expected"), CASES, ids=[t for _, t in CASES])
def test_topic_for(message: Message, expected: str) -> None:
    """Each message is published under its tag followed by its provider."""
    assert expected == topic_for(message)


@pytest.mark.parametrize("message", [m for m, _ in CASES if type(m).__name__.endswith("Committed")])
def test_committed_events_fall_under_the_events_prefix(message: Message) -> None:
    """A subscriber to ``evt.`` sees every committed event."""
    assert topic_for(message).startswith(EVENTS)


def test_unregistered_message_type_has_no_topic() -> None:
    """A Message subclass the topic table does not know raises ValueError."""

    class Stray(Message, frozen=True, tag="x.stray"):
        pass

    with pytest.raises(ValueError, match="Stray"):
        topic_for(Stray())
