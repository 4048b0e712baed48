"""Where committed alerts go: the desktop (desktop-notifier), apprise URLs, a user command.

Every channel answers ``deliver(alert)`` with a ``Delivery``: whether it arrived, what the
channel answered (for people, never a secret), and whether trying again could help. A channel
never raises and never blocks longer than its own bounded time-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bus.messages import Alert


@dataclass(frozen=True)
class Delivery:
    """The outcome of handing one alert to one channel."""

    ok: bool
    answer: str
    """What happened, for ``otm alerts`` and ``otm status``: "shown", "HTTP 500 from …"."""
    retry: bool = True
    """False when trying again cannot help (no desktop session here, a bad URL)."""
    fix: str = ""
    """What the person can do about a failure."""


class Channel(Protocol):
    """One way of reaching the person."""

    name: str
    """Stable and secret-free: ``desktop``, ``command``, ``ntfy#1`` (scheme and position)."""

    def deliver(self, alert: Alert) -> Delivery:
        """Hand ``alert`` over; blocking, bounded, never raising."""
        ...

    def close(self) -> None:
        """Release what the channel holds."""
        ...
