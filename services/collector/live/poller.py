"""The collector's live half: polls in worker threads, observations out, re-sent until committed.

HTTP runs in threads so a slow endpoint never holds up log reading. Each provider has at most
one poll in flight, and every poll passes its ``PollGate``. Results become ``LimitsObserved``
(with a ``LiveStatus`` even when the poll failed, so the reason reaches every surface while the
last good windows stay in the store, marked stale by readers).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import structlog

from bus.messages import LimitsObserved, LiveState, LiveStatus
from services.collector.live.gate import PollGate
from services.collector.live.http import new_client
from services.collector.live.source import LiveFailure, LiveResult, LiveSource
from services.runtime.config import LimitsConfig
from services.runtime.spool import read_observations

RESEND_SECONDS = 1.0
MAX_SENDS = 6
QUIET_STATUS_SECONDS = 3600.0
"""An unchanged failure is re-published at most this often (its age still shows it was checked)."""
_status_decoder = msgspec.msgpack.Decoder(LiveStatus)
logger = structlog.get_logger().bind(process="collector")


@dataclass
class Pending:
    """An observation published but not yet seen committed."""

    observation: LimitsObserved
    sent_at: float
    sends: int = 1


class LivePoller:
    """Live polls and spooled observations for every provider, ready to publish."""

    def __init__(
        self, sources: Mapping[str, LiveSource], config: LimitsConfig, state: Path
    ) -> None:
        self.sources = dict(sources)
        self.config = config
        self.state = state
        self.gates = {p: PollGate(config) for p in self.sources}
        self.pending: dict[str, Pending] = {}
        self.counters: dict[str, int] = {}
        self._running: dict[str, tuple[Future[LiveResult], float, bool]] = {}
        self._client: httpx.Client | None = None
        """One for every provider (httpx's clients may be shared between threads): each
        client loads the CA bundle, ~16 ms and ~1 MB."""
        self._spooled: set[str] = set()
        self._last_status: dict[str, tuple[tuple[object, ...], float]] = {}

    def restore(self, conn: sqlite3.Connection | None) -> None:
        """Load each provider's committed status into its gate."""
        if conn is None:
            return
        try:
            rows = conn.execute("SELECT provider, status FROM provider_status").fetchall()
        except sqlite3.Error:
            return
        for provider, blob in rows:
            if provider in self.gates:
                try:
                    status = _status_decoder.decode(blob)
                except msgspec.DecodeError:
                    continue  # written by an incompatible otm: start with a fresh gate
                self.gates[provider].restore(status)
                self._last_status[provider] = (_status_key(status), status.checked_at)

    def request(self, provider: str | None, manual: bool, now: float | None = None) -> list[str]:
        """Start a poll of ``provider`` (every provider when None) where the gate allows it;
        return the providers actually started."""
        if not self.config.enabled:
            return []
        now = time.time() if now is None else now
        started = []
        for name in self.sources if provider is None else [provider]:
            gate = self.gates.get(name)
            if gate is None or name in self._running:
                continue
            if not gate.allows(now, manual):
                self._count("polls_refused_by_gate")
                continue
            # Block the gate at once: a burst of requests must not start polls in between.
            gate.next_allowed = now + self.config.min_interval_seconds
            self._running[name] = (self._start(name, now), now, manual)
            started.append(name)
        return started

    def _start(self, provider: str, now: float) -> Future[LiveResult]:
        """Run one poll in a daemon thread: stopping the collector never waits for a slow
        endpoint (each request ends at its own timeout anyway)."""
        future: Future[LiveResult] = Future()
        # The client is made here, on the loop's thread, so `close` never races a worker.
        client = self._client
        if client is None:
            client = self._client = new_client()
        threading.Thread(
            target=lambda: future.set_result(self._poll(provider, client, now)),
            name=f"live-{provider}",
            daemon=True,
        ).start()
        return future

    def _poll(self, provider: str, client: httpx.Client, now: float) -> LiveResult:
        try:
            return self.sources[provider].poll(client, now)
        except Exception as exc:  # a bug in a source must not take the collector down
            return LiveResult(
                failure=LiveFailure(
                    "unexpected",
                    f"reading {provider}'s live limits failed inside otm ({type(exc).__name__})",
                    "report this as an OpenTokenMonitor bug; it is retried later",
                )
            )

    def completed(self, now: float | None = None) -> list[LimitsObserved]:
        """Observations of the polls that finished since the last call."""
        out: list[LimitsObserved] = []
        for provider, (future, started, manual) in list(self._running.items()):
            if not future.done():
                continue
            del self._running[provider]
            observation = self._observe(provider, started, future.result(), manual)
            if observation is not None:
                out.append(observation)
        now = time.time() if now is None else now
        for observation in out:
            self.pending[observation.observation_id] = Pending(observation, now)
        return out

    def _observe(
        self, provider: str, started: float, result: LiveResult, manual: bool
    ) -> LimitsObserved | None:
        gate = self.gates[provider]
        failure = result.failure
        gate.record(
            started,
            None if failure is None else failure.kind,
            None if failure is None else failure.retry_after,
        )
        status = LiveStatus(
            provider=provider,
            state=_state(failure),
            checked_at=started,
            kind="" if failure is None else failure.kind,
            reason="" if failure is None else failure.reason,
            fix="" if failure is None else failure.fix,
            http_status=None if failure is None else failure.http_status,
            retry_after=None if failure is None else failure.retry_after,
            next_poll_at=gate.next_allowed,
            last_success_at=gate.last_success_at,
            consecutive_failures=gate.failures,
            auth=result.auth,
        )
        self._count(f"{provider}_live_{status.state}")
        logger.info(
            "live_poll",
            provider=provider,
            state=status.state,
            kind=status.kind,
            http_status=status.http_status,
            windows=len(result.windows),
            next_poll_in=round(gate.next_allowed - started),
        )
        steady = status.state in ("unconfigured", "unsupported")
        if steady and not manual and not self._status_changed(status):
            # The same standing condition on schedule (no sign-in here, say): the log needs no
            # new event every poll. Real failures are always logged: their back-off must survive
            # a restart.
            return None
        self._last_status[provider] = (_status_key(status), started)
        return LimitsObserved(
            observation_id=f"live:{provider}:{time.time_ns()}",
            provider=provider,
            source="live",
            observed_at=started,
            windows=result.windows,
            credits=result.credits,
            status=status,
        )

    def _status_changed(self, status: LiveStatus) -> bool:
        last = self._last_status.get(status.provider)
        if last is None or last[0] != _status_key(status):
            return True
        return status.checked_at - last[1] >= QUIET_STATUS_SECONDS

    def spooled(self, now: float | None = None) -> list[LimitsObserved]:
        """Observations short-lived commands left in the spool that were not published yet."""
        observations, problems = read_observations(self.state)
        for problem in problems:
            logger.warning("spool_unreadable", problem=problem)
        now = time.time() if now is None else now
        fresh = [o for o in observations if o.observation_id not in self._spooled]
        for observation in fresh:
            self._spooled.add(observation.observation_id)
            self.pending[observation.observation_id] = Pending(observation, now)
        return fresh

    def committed(self, observation_id: str) -> None:
        """The store logged this observation: stop re-sending it."""
        self.pending.pop(observation_id, None)

    def resends(self, now: float | None = None) -> list[LimitsObserved]:
        """Observations whose commit has not come back in time (given up after a few tries:
        a newer poll supersedes them anyway)."""
        now = time.time() if now is None else now
        out = []
        for key, item in list(self.pending.items()):
            if now - item.sent_at < RESEND_SECONDS * item.sends:
                continue
            if item.sends >= MAX_SENDS:
                del self.pending[key]
                self._count("limits_given_up")
                continue
            item.sends += 1
            item.sent_at = now
            out.append(item.observation)
        return out

    def resend_all(self) -> list[LimitsObserved]:
        """Everything in flight, now (a new store cannot have seen it)."""
        return [item.observation for item in self.pending.values()]

    @property
    def running(self) -> list[str]:
        """The providers with a poll in flight."""
        return sorted(self._running)

    @property
    def busy(self) -> bool:
        """Whether a poll is running (the loop should come back soon to collect it)."""
        return bool(self._running)

    def close(self) -> None:
        """Close the HTTP client, unless a poll is still running on it (its daemon thread
        ends at the request's timeout, or with the process)."""
        if self._client is not None and not self._running:
            self._client.close()

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1


def _state(failure: LiveFailure | None) -> LiveState:
    if failure is None:
        return "ok"
    if failure.kind == "unconfigured":
        return "unconfigured"
    if failure.kind == "unsupported":
        return "unsupported"
    return "failed"


def _status_key(status: LiveStatus) -> tuple[object, ...]:
    return (status.state, status.kind, status.reason, status.http_status)
