"""The notifier's own database: what its rules remember, the alerts waiting for their commit,
and each channel's delivery of each committed alert.

It lives beside the store's database (``notifier.db``, ``notifier-demo.db`` in demo mode), in
the same file as the follower's tracking record, so an event's effect on the rules' memory and
the record that the event was applied commit in one transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from bus.messages import Alert
from services.notifier.windows import WindowState

SCHEMA = """
CREATE TABLE IF NOT EXISTS window_state (
    provider TEXT NOT NULL,
    window TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (provider, window)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS provider_trouble (
    provider TEXT PRIMARY KEY,
    troubled INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget_announced (
    prefix TEXT PRIMARY KEY,
    band REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    alert BLOB NOT NULL,
    decided_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT NOT NULL,
    channel TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    fix TEXT NOT NULL DEFAULT '',
    delivered_at REAL,
    PRIMARY KEY (key, channel)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_try);
CREATE TABLE IF NOT EXISTS committed_alerts (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    alert BLOB NOT NULL
) WITHOUT ROWID;
"""

PENDING, HELD, DELIVERED, FAILED, EXPIRED = "pending", "held", "delivered", "failed", "expired"
"""Delivery states: waiting (or retrying), held by quiet hours or a snooze, done, given up
(the channel cannot work here), or too old when first seen (a replay after a lost database)."""

_encoder = msgspec.msgpack.Encoder()
_alert_decoder = msgspec.msgpack.Decoder(Alert)
_window_decoder = msgspec.msgpack.Decoder(WindowState)


@dataclass(frozen=True)
class DueDelivery:
    """One channel's delivery of one committed alert that is due now."""

    key: str
    channel: str
    attempts: int
    alert: Alert


class NotifierDatabase:
    """Reads and writes the notifier's tables on one connection (the tracking's)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction (the connection autocommits otherwise)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- rules' memory ---------------------------------------------------------------------

    def window_state(self, provider: str, window: str) -> WindowState | None:
        """The rules' memory of one window."""
        row = self.conn.execute(
            "SELECT state FROM window_state WHERE provider = ? AND window = ?", (provider, window)
        ).fetchone()
        return None if row is None else _window_decoder.decode(row[0])

    def save_window_state(self, provider: str, window: str, state: WindowState) -> None:
        """Remember one window's state."""
        self.conn.execute(
            "INSERT INTO window_state (provider, window, state) VALUES (?, ?, ?) "
            "ON CONFLICT (provider, window) DO UPDATE SET state = excluded.state",
            (provider, window, _encoder.encode(state)),
        )

    def troubled(self, provider: str) -> bool:
        """Whether the trouble rule last found this provider troubled."""
        row = self.conn.execute(
            "SELECT troubled FROM provider_trouble WHERE provider = ?", (provider,)
        ).fetchone()
        return bool(row and row[0])

    def save_troubled(self, provider: str, troubled: bool) -> None:
        """Remember the provider's trouble state."""
        self.conn.execute(
            "INSERT INTO provider_trouble (provider, troubled) VALUES (?, ?) "
            "ON CONFLICT (provider) DO UPDATE SET troubled = excluded.troubled",
            (provider, int(troubled)),
        )

    def budget_announced(self) -> dict[str, float]:
        """The highest band announced per budget period."""
        return {p: b for p, b in self.conn.execute("SELECT prefix, band FROM budget_announced")}

    def save_budget_announced(self, announced: dict[str, float]) -> None:
        """Remember the bands announced per budget period (the caller owns the transaction)."""
        self.conn.executemany(
            "INSERT INTO budget_announced (prefix, band) VALUES (?, ?) "
            "ON CONFLICT (prefix) DO UPDATE SET band = max(band, excluded.band)",
            announced.items(),
        )

    # -- outbox: decided, not yet committed --------------------------------------------------

    def add_to_outbox(self, alert: Alert) -> None:
        """Keep a decided alert until its commit comes back (it is re-sent until then)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO outbox (key, alert, decided_at) VALUES (?, ?, ?)",
            (alert.key, _encoder.encode(alert), alert.raised_at),
        )

    def outbox(self) -> list[Alert]:
        """Every alert still waiting for its commit, oldest first."""
        rows = self.conn.execute("SELECT alert FROM outbox ORDER BY decided_at").fetchall()
        return [_alert_decoder.decode(row[0]) for row in rows]

    def committed(self, alert: Alert, seq: int, channels: list[str], state: str) -> None:
        """The alert came back committed: out of the outbox, one delivery per channel."""
        self.conn.execute("DELETE FROM outbox WHERE key = ?", (alert.key,))
        self.conn.executemany(
            "INSERT OR IGNORE INTO deliveries (key, channel, seq, state, next_try) "
            "VALUES (?, ?, ?, ?, 0)",
            [(alert.key, channel, seq, state) for channel in channels],
        )
        self.conn.execute(
            "INSERT OR IGNORE INTO committed_alerts (key, seq, alert) VALUES (?, ?, ?)",
            (alert.key, seq, _encoder.encode(alert)),
        )

    # -- deliveries --------------------------------------------------------------------------

    def due(self, now: float, channels: list[str]) -> list[DueDelivery]:
        """Pending deliveries whose time has come, oldest alert first."""
        marks = ",".join("?" * len(channels)) or "''"
        return self._deliveries(
            f"d.state = ? AND d.next_try <= ? AND d.channel IN ({marks})",
            (PENDING, now, *channels),
        )

    def has_outbox(self) -> bool:
        """Whether any decided alert still waits for its commit."""
        return self.conn.execute("SELECT 1 FROM outbox LIMIT 1").fetchone() is not None

    def has_held(self) -> bool:
        """Whether any delivery, of any channel, is held by quiet hours or a snooze."""
        row = self.conn.execute("SELECT 1 FROM deliveries WHERE state = ? LIMIT 1", (HELD,))
        return row.fetchone() is not None

    def pending_tries(self, channels: list[str]) -> list[tuple[str, str, float]]:
        """(key, channel, next try) of every pending delivery of ``channels``."""
        marks = ",".join("?" * len(channels)) or "''"
        return self.conn.execute(
            f"SELECT key, channel, next_try FROM deliveries WHERE state = ? "
            f"AND channel IN ({marks})",
            (PENDING, *channels),
        ).fetchall()

    def held(self, channel: str) -> list[DueDelivery]:
        """Deliveries of ``channel`` held by quiet hours or a snooze."""
        return self._deliveries("d.state = ? AND d.channel = ?", (HELD, channel))

    def _deliveries(self, where: str, params: tuple[object, ...]) -> list[DueDelivery]:
        rows = self.conn.execute(
            "SELECT d.key, d.channel, d.attempts, a.alert FROM deliveries d "
            f"JOIN committed_alerts a ON a.key = d.key WHERE {where} ORDER BY d.seq",
            params,
        ).fetchall()
        return [DueDelivery(k, c, n, _alert_decoder.decode(a)) for k, c, n, a in rows]

    def record(
        self,
        key: str,
        channel: str,
        state: str,
        answer: str,
        fix: str = "",
        next_try: float = 0.0,
        delivered_at: float | None = None,
        attempted: bool = True,
    ) -> None:
        """Record one delivery's outcome (after the channel answered)."""
        self.conn.execute(
            "UPDATE deliveries SET state = ?, answer = ?, fix = ?, next_try = ?, "
            "delivered_at = ?, attempts = attempts + ? WHERE key = ? AND channel = ?",
            (state, answer, fix, next_try, delivered_at, int(attempted), key, channel),
        )

    def release_held(self, channel: str) -> None:
        """Deliveries held for ``channel`` become pending again (each is delivered alone)."""
        self.conn.execute(
            "UPDATE deliveries SET state = ?, next_try = 0 WHERE state = ? AND channel = ?",
            (PENDING, HELD, channel),
        )
