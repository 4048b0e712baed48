"""The notifier process: speak up before the wall.

In: committed events, followed durably (``evt.limits.``, ``evt.usage.``, ``evt.alert.``): each
is applied once, with its effect on the rules' memory and the record of its ``seq`` in one
transaction of the notifier's own database. Work: the rules (``windows``: thresholds, pace,
resets; ``trouble``; ``budgets``) decide alerts with deterministic keys. Out: ``obs.alert``,
re-sent until the store commits it as ``evt.alert.<provider>`` (once per key); only then do the
channels get it (desktop, apprise URLs, a command), each delivery recorded once it succeeded.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping

import zmq

from bus.messages import (
    Alert,
    AlertCommitted,
    AlertObserved,
    LimitsCommitted,
    LimitWindow,
    LiveStatus,
    Message,
    UsageCommitted,
)
from services.notifier import budgets, trouble
from services.notifier.channels import Channel, Delivery
from services.notifier.delivery import (
    Worker,
    in_quiet_hours,
    retry_after,
    snoozed_until,
    summary,
)
from services.notifier.state import (
    DELIVERED,
    EXPIRED,
    FAILED,
    HELD,
    PENDING,
    NotifierDatabase,
)
from services.notifier.windows import Rules, evaluate
from services.queries.reports.limits import stale_after, stale_reason
from services.runtime.config import BudgetConfig, BudgetLimits
from services.runtime.follower import DurableFollower, SQLiteTracking
from services.runtime.installation import Runtime
from services.runtime.runner import Batch, Node, run_service

FOLLOWS = ("evt.limits.", "evt.usage.", "evt.alert.")
RESEND_SECONDS = 2.0
"""An alert not yet committed is published again this often (PUB/SUB may drop it)."""
BUDGET_CHECK_SECONDS = 10.0
MAX_DELIVERY_AGE_SECONDS = 3600.0
"""A committed alert older than this when first seen (a notifier database lost and the log
replayed) is recorded, not delivered: nobody wants last month's warnings."""
WAIT_SECONDS = RESEND_SECONDS
"""While deliveries are held, the loop looks this often whether quiet hours or the snooze
ended (`otm alerts snooze --off` only rewrites a file)."""
MIN_WAIT_SECONDS = 0.05
IDLE_WAIT_SECONDS = 3600.0
"""With nothing pending, held or to re-send, only a message, a delivery's answer or the
heartbeat wakes the loop: an idle notifier never wakes for its own timed work."""
DEMO_DAILY_BUDGET_USD = 2.0
"""In demo mode, with no budget configured, a made-up daily budget shows what budget alerts
look like (labelled demo data, like every demo alert)."""


class NotifierService:
    """Alert rules over committed events, and delivery of committed alerts."""

    name = "notifier"

    def __init__(self, runtime: Runtime, channels: list[Channel] | None = None) -> None:
        self._step_failing = False
        self._rule_failing = False
        self.runtime = runtime
        self.config = runtime.config.alerts
        self.budget = self.config.budget
        if runtime.demo and not _any_budget(self.budget):
            self.budget = BudgetConfig(daily_usd=DEMO_DAILY_BUDGET_USD)
        self.rules = Rules(
            thresholds=tuple(sorted(self.config.thresholds)),
            estimated=self.config.estimated,
            pace=self.config.pace,
            pace_margin_seconds=self.config.pace_margin_minutes * 60,
            resets=self.config.resets,
            tz=self.config.tz,
            demo=runtime.demo,
        )
        self.stale_seconds = stale_after(runtime.config.limits.poll_seconds)
        self._channels = channels
        self._decided: list[Alert] = []
        self._next_resend = 0.0
        self._next_budget = 0.0
        self._budget_dirty = True
        self._unusable: dict[str, Delivery] = {}
        self._summaries: dict[tuple[str, str], list[str]] = {}
        """Summaries in hand, by (summary key, channel): the held deliveries they stand for."""

    def start(self, node: Node) -> Mapping[str, object]:
        """Open the notifier's database, follow committed events from its recorded position,
        start the delivery worker."""
        self.node = node
        path = self.runtime.notifier_db_path
        tracking = SQLiteTracking.open(path, "notifier")
        self.db = NotifierDatabase(tracking.conn)
        self.follower: DurableFollower = node.follow(FOLLOWS, tracking)
        channels = self._channels if self._channels is not None else self._build_channels()
        self._wake_in, self._wake_out = _wake_pair()
        node.serve(self._wake_in, self._answers_arrived)
        self.worker = Worker(channels, answered=lambda: self._wake_out.send(b"", zmq.NOBLOCK))
        return {
            "db": str(path),
            "position": tracking.position(),
            "channels": sorted(self.worker.channels),
            "thresholds": list(self.rules.thresholds),
        }

    def _build_channels(self) -> list[Channel]:
        from services.notifier.channels.build import build_channels

        url = f"http://127.0.0.1:{self.runtime.config.api_port}/"
        channels: list[Channel] = build_channels(self.config, url)
        return channels

    # -- in: committed events, each applied once -------------------------------------------

    def handle(self, batch: Batch) -> None:
        """Apply each committed event to the rules (or the deliveries), once."""
        for _topic, event in batch:
            effect = self._effect_of(event)
            if effect is None:
                continue
            try:
                self.follower.apply(event, effect)
            except sqlite3.Error as exc:
                self._rule_failed(event, exc)
                return
            if self._rule_failing:
                self.node.logger.info("rules_applied_again", seq=getattr(event, "seq", None))
                self._rule_failing = False
            self._publish(self._decided)
            self._decided = []

    def _rule_failed(self, event: Message, exc: sqlite3.Error) -> None:
        # Nothing of the failed event was kept (one transaction): it and everything after it
        # come again from the store's log, in order, until its effect can be written.
        self._decided.clear()
        self.follower.rewind()
        self.node.pulse.counters["rule_errors"] += 1
        if not self._rule_failing:
            self.node.logger.error("rule_error", seq=getattr(event, "seq", None), error=str(exc))
        self._rule_failing = True

    def _effect_of(self, event: Message) -> Callable[[sqlite3.Connection | None], None] | None:
        if isinstance(event, LimitsCommitted):
            return lambda _conn: self._on_limits(event)
        if isinstance(event, UsageCommitted):
            return lambda _conn: self._on_usage(event)
        if isinstance(event, AlertCommitted):
            return lambda _conn: self._on_alert(event)
        return None

    def _on_limits(self, event: LimitsCommitted) -> None:
        now = time.time()
        for window in event.windows:
            self._on_window(window, event.status, now)
        if event.status is not None and self.config.trouble:
            self._on_status(event.status, event.seq, now)

    def _on_usage(self, event: UsageCommitted) -> None:
        # Codex writes its official windows into its session logs: they come with the batch.
        now = time.time()
        for window in event.limits:
            self._on_window(window, None, now)
        if event.records:
            self._budget_dirty = True

    def _on_window(self, window: LimitWindow, status: LiveStatus | None, now: float) -> None:
        previous = self.db.window_state(window.provider, window.window)
        current = stale_reason(window, now, status, self.stale_seconds) is None
        state, alerts = evaluate(previous, window, current, self.rules, now)
        self.db.save_window_state(window.provider, window.window, state)
        self._decide(alerts)

    def _on_status(self, status: LiveStatus, seq: int, now: float) -> None:
        was = self.db.troubled(status.provider)
        current = now - status.checked_at <= self.stale_seconds
        troubled, alerts = trouble.evaluate(was, status, seq, current, self.runtime.demo)
        self.db.save_troubled(status.provider, troubled)
        self._decide(alerts)

    def _on_alert(self, event: AlertCommitted) -> None:
        alert = event.alert
        fresh = time.time() - alert.raised_at <= MAX_DELIVERY_AGE_SECONDS
        self.db.committed(
            alert, event.seq, sorted(self.worker.channels), PENDING if fresh else EXPIRED
        )
        self.node.pulse.counters["alerts_committed"] += 1
        self.node.logger.info("alert", key=alert.key, title=alert.title, seq=event.seq)

    def _decide(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.db.add_to_outbox(alert)
            self._decided.append(alert)
            self.node.pulse.counters["alerts_decided"] += 1

    def _publish(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.node.publish(AlertObserved(alert=alert))

    # -- work and out ---------------------------------------------------------------------

    def step(self) -> float:
        """Re-send what is not committed yet, check budgets, deliver what is due; a write that
        fails (a full disk) is logged once and tried again at the next step, never fatal."""
        try:
            wait = self._step()
        except sqlite3.Error as exc:
            self.node.pulse.counters["step_write_errors"] += 1
            if not self._step_failing:
                self.node.logger.warning(
                    "notifier_write_failed", db=str(self.runtime.notifier_db_path), error=str(exc)
                )
            self._step_failing = True
            return WAIT_SECONDS
        if self._step_failing:
            self.node.logger.info("notifier_writing_again")
        self._step_failing = False
        return wait

    def _step(self) -> float:
        now = time.time()
        if now >= self._next_resend:
            self._publish(self.db.outbox())
            self._next_resend = now + RESEND_SECONDS
        if self._budget_dirty and now >= self._next_budget:
            self._check_budgets(now)
            self._next_budget = now + BUDGET_CHECK_SECONDS
        self._record_answers(now)
        snoozed = snoozed_until(self.runtime.state) is not None
        quiet = in_quiet_hours(self.config.quiet_hours, now, self.config.tz)
        self._deliver_due(now, snoozed, quiet)
        if not snoozed:
            self._release_held(now, quiet)
        return self._next_wait(now)

    def _next_wait(self, now: float) -> float:
        """Seconds until the next timed work is due: a re-send while the outbox holds alerts,
        the budget check after new usage, the next retry, a look while deliveries are held."""
        due: list[float] = []
        if self.db.has_outbox():
            due.append(self._next_resend)
        if self._budget_dirty:
            due.append(self._next_budget)
        channels = sorted(self.worker.channels)
        # A delivery in hand stays pending until its answer, which wakes the loop itself.
        tries = [t for k, c, t in self.db.pending_tries(channels) if (k, c) not in self.worker.busy]
        due.extend(tries)
        if self._summaries or self.db.has_held():
            due.append(now + WAIT_SECONDS)
        # A floor, so a row that somehow stays due can never make the loop spin.
        return max(MIN_WAIT_SECONDS, min(due, default=now + IDLE_WAIT_SECONDS) - now)

    def _check_budgets(self, now: float) -> None:
        scopes = {
            scope: limits for scope, limits in self.budget.scopes().items() if _limited(limits)
        }
        self._budget_dirty = False
        if not scopes or not self.runtime.db_path.exists():
            return
        from services.queries.reports.timezones import local_timezone_name
        from services.store.database import connect_reader

        tz = self.config.tz or local_timezone_name()
        announced = self.db.budget_announced()
        bands = tuple(sorted(self.config.budget_thresholds))
        conn = connect_reader(str(self.runtime.db_path))
        try:
            alerts = [
                alert
                for scope, limits in scopes.items()
                for alert in budgets.evaluate(
                    budgets.spend(conn, scope, tz, now),
                    limits,
                    bands,
                    announced,
                    now,
                    self.runtime.demo,
                )
            ]
        except sqlite3.Error as exc:
            self.node.logger.warning("budget_check_failed", error=str(exc))
            self._budget_dirty = True
            return
        finally:
            conn.close()
        with self.db.transaction():  # the alerts and the bands they announce, together
            self._decide(alerts)
            self.db.save_budget_announced(announced)
        self._publish(self._decided)
        self._decided = []

    def _answers_arrived(self, socket: zmq.Socket[bytes]) -> None:
        while socket.poll(0):
            socket.recv()
        self._record_answers(time.time())

    def _record_answers(self, now: float) -> None:
        counters = self.node.pulse.counters
        for answer in self.worker.answers():
            key, channel, delivery = answer.key, answer.channel, answer.delivery
            if (key, channel) in self._summaries:
                self._summary_answered(key, channel, delivery, now)
                continue
            if delivery.ok:
                self.db.record(key, channel, DELIVERED, delivery.answer, delivered_at=now)
                counters["deliveries_ok"] += 1
                continue
            counters["deliveries_failed"] += 1
            self.node.pulse.detail[f"channel_{channel}"] = _problem(delivery)
            if not delivery.retry:
                self._give_up(key, channel, delivery)
                continue
            attempts = self._attempts(key, channel) + 1
            self.db.record(
                key, channel, PENDING, delivery.answer, delivery.fix, now + retry_after(attempts)
            )
            self.node.logger.warning(
                "delivery_failed", channel=channel, key=key, answer=delivery.answer
            )

    def _give_up(self, key: str, channel: str, delivery: Delivery) -> None:
        if channel not in self._unusable:
            # Said once: e.g. no desktop session on this machine. The other channels go on.
            self.node.logger.warning(
                "channel_unusable", channel=channel, answer=delivery.answer, fix=delivery.fix
            )
        self._unusable[channel] = delivery
        self.db.record(key, channel, FAILED, delivery.answer, delivery.fix)

    def _attempts(self, key: str, channel: str) -> int:
        row = self.db.conn.execute(
            "SELECT attempts FROM deliveries WHERE key = ? AND channel = ?", (key, channel)
        ).fetchone()
        return int(row[0]) if row else 0

    def _deliver_due(self, now: float, snoozed: bool, quiet: bool) -> None:
        for due in self.db.due(now, sorted(self.worker.channels)):
            unusable = self._unusable.get(due.channel)
            if unusable is not None:
                self.db.record(
                    due.key, due.channel, FAILED, unusable.answer, unusable.fix, attempted=False
                )
            elif snoozed or (quiet and due.channel == "desktop"):
                self.db.record(
                    due.key, due.channel, HELD, "held (quiet hours or snooze)", attempted=False
                )
            else:
                self.worker.submit(due.key, due.channel, due.alert)

    def _release_held(self, now: float, quiet: bool) -> None:
        for channel in sorted(self.worker.channels):
            in_hand = any(c == channel for _key, c in self._summaries)
            if in_hand or (quiet and channel == "desktop"):
                continue
            held = self.db.held(channel)
            if len(held) == 1:
                self.db.release_held(channel)
            elif held:
                note = summary([h.alert for h in held], now, self.runtime.demo)
                self._summaries[(note.key, channel)] = [h.key for h in held]
                self.worker.submit(note.key, channel, note)

    def _summary_answered(self, key: str, channel: str, delivery: Delivery, now: float) -> None:
        held = self._summaries.pop((key, channel))
        if not delivery.ok:
            return  # still held: the next step tries another summary
        for held_key in held:
            self.db.record(
                held_key, channel, DELIVERED, f"in a summary: {delivery.answer}", delivered_at=now
            )

    def stop(self) -> Mapping[str, object]:
        """Stop the delivery worker; what it had in hand stays pending for the next start."""
        self.worker.close(wait=0.5)
        self._wake_in.close(0)
        self._wake_out.close(0)
        return {"position": self.follower.position, "outbox": len(self.db.outbox())}


def _wake_pair() -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """An in-process socket pair: the delivery worker's thread sends, the loop wakes."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    address = f"inproc://notifier-answers-{id(context)}-{time.monotonic_ns()}"
    receiver: zmq.Socket[bytes] = context.socket(zmq.PAIR)
    receiver.bind(address)
    sender: zmq.Socket[bytes] = context.socket(zmq.PAIR)
    sender.connect(address)
    return receiver, sender


def _limited(limits: BudgetLimits) -> bool:
    return any(getattr(limits, field) is not None for field in limits.__struct_fields__)


def _any_budget(budget: BudgetConfig) -> bool:
    return any(_limited(limits) for limits in budget.scopes().values())


def _problem(delivery: Delivery) -> str:
    return f"{delivery.answer} (fix: {delivery.fix})" if delivery.fix else delivery.answer


def run(runtime: Runtime) -> None:
    """Follow committed events and speak up until SIGTERM."""
    run_service(NotifierService(runtime), runtime)
