"""The trouble rule: once when a provider's live limits stop working in a way the person must
fix (a sign-in, an account the provider no longer serves, repeated failures), once when it
recovers, each with the fix.

Ordinary hiccups (one time-out, a 429 the collector is waiting out) are not trouble: the
collector retries them politely and the windows are marked stale meanwhile.
"""

from __future__ import annotations

from bus.messages import Alert, LiveStatus
from services.notifier.labels import provider_name

REPEATED_FAILURES = 3


def troubled(status: LiveStatus) -> bool:
    """Whether this live status needs the person: signed out, unsupported, or failing again
    and again."""
    if status.state == "unsupported":
        return True
    if status.state != "failed":
        return False
    return status.kind == "auth" or status.consecutive_failures >= REPEATED_FAILURES


def evaluate(
    was_troubled: bool, status: LiveStatus, seq: int, current: bool, demo: bool = False
) -> tuple[bool, list[Alert]]:
    """Whether the provider is now troubled, and the alert for a change (only when the status
    is current, so old history announces nothing). The key carries the ``seq`` of the event
    that changed it: one alert per change."""
    if status.state in ("waiting", "unconfigured"):
        return was_troubled, []  # says nothing about whether the provider works
    now_troubled = troubled(status)
    if now_troubled == was_troubled or not current:
        return now_troubled, []
    name = provider_name(status.provider)
    if now_troubled:
        fix = f" Fix: {status.fix}" if status.fix else ""
        alert = Alert(
            key=f"trouble:{status.provider}:down:{seq}",
            rule="trouble",
            provider=status.provider,
            title=f"{name}: live limits not working",
            body=f"{status.reason or 'The last checks failed.'}{fix}",
            severity="warning",
            raised_at=status.checked_at,
            demo=demo,
        )
    else:
        alert = Alert(
            key=f"trouble:{status.provider}:up:{seq}",
            rule="trouble",
            provider=status.provider,
            title=f"{name}: live limits working again",
            body="The provider answered; its windows are current again.",
            severity="info",
            raised_at=status.checked_at,
            demo=demo,
        )
    return now_troubled, [alert]
