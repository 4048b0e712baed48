"""How often a provider's live endpoint may be asked: the floor, the back-off, Retry-After.

The gate is the one place that decides, whoever asks (the scheduler, ``otm refresh``,
``POST /v1/refresh``): a provider is never asked more often than ``min_interval_seconds``,
waits as long as a 429's ``Retry-After`` says, and backs off exponentially on failures. Its
state survives a collector restart through the committed ``LiveStatus`` (``restore``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bus.messages import LiveStatus
from services.runtime.config import LimitsConfig

UNSUPPORTED_HOLD_SECONDS = 24 * 3600.0
"""An account the provider no longer serves is asked again on schedule only after this long;
on demand (``otm refresh``) after the usual floor, e.g. once the user signed in differently."""
RETRYABLE = frozenset({"rate_limited", "server", "timeout", "network", "malformed", "unexpected"})


@dataclass
class PollGate:
    """The polling state of one provider (wall-clock seconds)."""

    config: LimitsConfig
    next_allowed: float = 0.0
    failures: int = 0
    last_success_at: float | None = None
    held: bool = False
    """The last answer was "unsupported": scheduled polls wait for ``scheduled_after``."""
    scheduled_after: float = 0.0

    def allows(self, now: float, manual: bool) -> bool:
        """Whether a request may go out now."""
        if self.held and not manual and now < self.scheduled_after:
            return False
        return now >= self.next_allowed

    def record(self, now: float, kind: str | None, retry_after: float | None = None) -> None:
        """Note the outcome of a poll started at ``now`` (``kind`` None means success)."""
        floor = self.config.min_interval_seconds
        self.held = kind == "unsupported"
        if kind is None:
            self.failures = 0
            self.last_success_at = now
            self.next_allowed = now + floor
            return
        if kind == "unconfigured":
            # Nothing went over the network: checking the credentials again costs nothing.
            self.next_allowed = now + floor
            return
        self.failures += 1
        if self.held:
            self.scheduled_after = now + max(
                UNSUPPORTED_HOLD_SECONDS, self.config.max_backoff_seconds
            )
            self.next_allowed = now + floor
            return
        wait = self._backoff()
        if retry_after is not None:
            wait = max(wait, min(retry_after, UNSUPPORTED_HOLD_SECONDS))
        self.next_allowed = now + wait

    def _backoff(self) -> float:
        """Doubling from the floor with each failure, capped, with jitter so many machines
        behind one outage do not come back in step."""
        base = self.config.min_interval_seconds * 2 ** min(self.failures - 1, 20)
        jittered: float = base * random.uniform(0.9, 1.1)
        return max(self.config.min_interval_seconds, min(jittered, self.config.max_backoff_seconds))

    def restore(self, status: LiveStatus) -> None:
        """Pick up where a previous collector left off, so a restart loop cannot hammer."""
        self.failures = status.consecutive_failures
        self.last_success_at = status.last_success_at
        self.held = status.state == "unsupported"
        self.next_allowed = max(
            status.next_poll_at or 0.0, status.checked_at + self.config.min_interval_seconds
        )
        if self.held:
            self.scheduled_after = status.checked_at + max(
                UNSUPPORTED_HOLD_SECONDS, self.config.max_backoff_seconds
            )
