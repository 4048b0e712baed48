"""Limits observations in the store: idempotent by id, newest wins, failures keep numbers."""

from __future__ import annotations

import sqlite3

import msgspec

from bus.messages import LimitsObserved, LimitWindow, LiveStatus
from services.store.writer import Store

_window = msgspec.msgpack.Decoder(LimitWindow)
_status = msgspec.msgpack.Decoder(LiveStatus)


def observed(
    observation_id: str, at: float, used: float | None = 40.0, state: str = "ok"
) -> LimitsObserved:
    """A live Claude observation at ``at``: one five-hour window unless ``used`` is None."""
    windows = (
        ()
        if used is None
        else (
            LimitWindow(
                provider="claude",
                window="five_hour",
                used_percent=used,
                observed_at=at,
                source="live",
            ),
        )
    )
    status = LiveStatus(provider="claude", state=state, checked_at=at)  # type: ignore[arg-type]
    return LimitsObserved(
        observation_id=observation_id,
        provider="claude",
        source="live",
        observed_at=at,
        windows=windows,
        status=status,
    )


def five_hour(db: sqlite3.Connection) -> float:
    """The committed used percent of Claude's five-hour window."""
    (blob,) = db.execute(
        "SELECT observation FROM limits WHERE provider = 'claude' AND window_name = 'five_hour'"
    ).fetchone()
    return _window.decode(blob).used_percent


def status_state(db: sqlite3.Connection) -> str:
    """The committed live state of Claude."""
    (blob,) = db.execute("SELECT status FROM provider_status WHERE provider = 'claude'").fetchone()
    return _status.decode(blob).state


def test_a_resent_observation_is_acknowledged_not_logged_twice(db: sqlite3.Connection) -> None:
    """The same observation id applied twice gives one event and one acknowledgement."""
    store = Store(db)
    first, _, _ = store.apply([observed("o1", 100.0)])
    again, acks, _ = store.apply([observed("o1", 100.0)])
    assert ([first[0].seq], []) == (acks, again)


def test_a_newer_observation_replaces_the_window(db: sqlite3.Connection) -> None:
    """The newest reading of a window is the one kept."""
    store = Store(db)
    store.apply([observed("o1", 100.0, used=40.0), observed("o2", 200.0, used=55.0)])
    assert 55.0 == five_hour(db)


def test_an_older_observation_arriving_late_does_not_win(db: sqlite3.Connection) -> None:
    """An observation older than the committed one is logged but changes no projection."""
    store = Store(db)
    store.apply([observed("o2", 200.0, used=55.0)])
    committed, _, _ = store.apply([observed("o1", 100.0, used=40.0, state="failed")])
    assert (1, 55.0, "ok") == (len(committed), five_hour(db), status_state(db))


def test_a_failed_poll_keeps_the_last_good_numbers(db: sqlite3.Connection) -> None:
    """A failed poll updates the status and leaves the last windows in place."""
    store = Store(db)
    store.apply([observed("o1", 100.0, used=40.0), observed("o2", 200.0, None, "failed")])
    assert (40.0, "failed") == (five_hour(db), status_state(db))
