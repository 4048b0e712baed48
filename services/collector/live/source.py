"""What every live source is, and the failures every provider shares.

A source reads its credentials afresh on every poll (the CLI may have refreshed them), asks its
endpoint once through ``request_json`` and turns the answer into windows. It never writes the
CLI's credential files and never lets a secret into what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx

from bus.messages import AuthInfo, CreditBalance, LimitWindow
from services.collector.live.http import HttpFailure


@dataclass(frozen=True)
class LiveFailure:
    """Why a poll gave no numbers, for people: what happened and what to do.

    ``kind``: ``auth`` (sign in again), ``unconfigured`` (no usable credentials here),
    ``unsupported`` (the provider no longer serves this account; not retried until the
    credentials change), ``rate_limited``, ``server``, ``timeout``, ``network``, ``malformed``
    (an answer we cannot read) or ``unexpected`` (valid JSON without the expected fields).
    """

    kind: str
    reason: str
    fix: str
    http_status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class LiveResult:
    """One poll: the windows and credits read, the auth used, or the failure."""

    windows: tuple[LimitWindow, ...] = ()
    credits: tuple[CreditBalance, ...] = ()
    auth: AuthInfo | None = None
    failure: LiveFailure | None = None
    notes: tuple[str, ...] = ()
    """Fields of the answer that were present but unreadable, and were skipped."""


@dataclass(frozen=True)
class Inspection:
    """What a source can tell without the network: its credentials and whether they look usable.

    ``failure`` is set when polling would certainly fail (no file, expired, wrong scope, an
    API-key login), so the poller need not ask the endpoint at all.
    """

    auth: AuthInfo | None
    failure: LiveFailure | None = None
    found: tuple[str, ...] = ()
    """Human lines for ``otm doctor``: each place looked at and what was there."""


class LiveSource(Protocol):
    """One provider's live limits endpoint."""

    provider: str

    def inspect(self, now: float) -> Inspection:
        """Read the credentials (no network) and say whether a poll can work."""
        ...

    def poll(self, client: httpx.Client, now: float) -> LiveResult:
        """Ask the endpoint once; never raises for anything the network or server does."""
        ...


def failure_from_http(
    exc: HttpFailure, *, sign_in: str, forbidden: str | None = None
) -> LiveFailure:
    """The shared reading of an HTTP failure. ``sign_in`` is the provider's own fix for a 401
    (e.g. "run `claude` and sign in again with /login"); ``forbidden`` its fix for a 403."""
    status = exc.status
    if exc.kind == "timeout":
        return LiveFailure("timeout", str(exc), "nothing to do: it is retried later", status)
    if exc.kind == "network":
        return LiveFailure(
            "network", str(exc), "check the network connection; it is retried later", status
        )
    if exc.kind == "malformed":
        return LiveFailure("malformed", str(exc), "nothing to do: it is retried later", status)
    if status == 401:
        return LiveFailure("auth", f"{exc}: the sign-in was refused", sign_in, status)
    if status == 403:
        return LiveFailure(
            "auth", f"{exc}: this account may not read its usage", forbidden or sign_in, status
        )
    if status == 429:
        wait = "" if exc.retry_after is None else f" for {exc.retry_after:g} s as asked"
        return LiveFailure(
            "rate_limited",
            f"{exc}: too many requests",
            f"nothing to do: polling backs off{wait}",
            status,
            exc.retry_after,
        )
    if status is not None and status >= 500:
        return LiveFailure(
            "server",
            f"{exc}: the provider's server failed",
            "nothing to do: it is retried later",
            status,
            exc.retry_after,
        )
    return LiveFailure(
        "unexpected", f"{exc}", "check for an OpenTokenMonitor update; it is retried later", status
    )


def utc_text(epoch: float, seconds: bool = False) -> str:
    """Epoch seconds as a UTC time for messages (``2026-05-01 10:00 UTC``); a time no calendar
    can show (a corrupt expiry) stays readable as epoch seconds."""
    shape = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime(shape)
    except (OverflowError, OSError, ValueError):
        return f"{epoch:.0f} (epoch seconds)"
