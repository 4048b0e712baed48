"""The limits report: the latest committed window per provider, with read-time countdowns."""

from __future__ import annotations

import sqlite3

from bus.messages import LimitWindow
from services.queries.reports.limits import STALE_AFTER_SECONDS, limits_report
from services.store.writer import Store
from tests.helpers import batch

NOW = 1_778_000_000.0


def window(name: str = "primary", **fields: object) -> LimitWindow:
    """A Codex window observed a minute before NOW, resetting an hour after it."""
    values: dict[str, object] = {
        "provider": "codex",
        "window": name,
        "used_percent": 12.0,
        "observed_at": NOW - 60,
        "source": "local-official",
        "resets_at": NOW + 3600,
        "window_seconds": 18_000,
    }
    values.update(fields)
    return LimitWindow(**values)  # type: ignore[arg-type]


def commit(db: sqlite3.Connection, *windows: LimitWindow, after: int = 100) -> None:
    """Commit the windows with an (empty) batch, as the collector sends them."""
    before = None if after == 100 else after - 100
    Store(db).apply([batch([], before=before, after=after, limits=windows)])


def test_countdown_is_computed_at_read_time(db: sqlite3.Connection) -> None:
    """resetsInSeconds is resets_at minus the reader's now, not a stored number."""
    commit(db, window())
    (w,) = limits_report(db, now=NOW)["limits"]
    assert 3600 == w["resetsInSeconds"]


def test_fresh_window_reports_its_use(db: sqlite3.Connection) -> None:
    """A recent observation gives its used percentage and is not stale."""
    commit(db, window())
    (w,) = limits_report(db, now=NOW)["limits"]
    assert (12.0, False) == (w["usedPercent"], w["stale"])


def test_window_past_its_reset_is_unknown_not_zero(db: sqlite3.Connection) -> None:
    """After the reset time the old percentage is withheld (None) and flagged, never guessed."""
    commit(db, window(resets_at=NOW - 1))
    (w,) = limits_report(db, now=NOW)["limits"]
    assert (None, True, True, 0) == (
        w["usedPercent"],
        w["resetSinceObserved"],
        w["stale"],
        w["resetsInSeconds"],
    )


def test_old_observation_is_stale(db: sqlite3.Connection) -> None:
    """An observation older than STALE_AFTER_SECONDS is flagged stale."""
    commit(db, window(observed_at=NOW - STALE_AFTER_SECONDS - 1, resets_at=NOW + 99_999))
    (w,) = limits_report(db, now=NOW)["limits"]
    assert w["stale"]


def test_newer_observation_replaces_the_older(db: sqlite3.Connection) -> None:
    """The projection keeps the latest observation of each window."""
    commit(db, window(used_percent=12.0, observed_at=NOW - 60))
    commit(db, window(used_percent=30.0, observed_at=NOW - 10), after=200)
    (w,) = limits_report(db, now=NOW)["limits"]
    assert 30.0 == w["usedPercent"]


def test_older_observation_read_late_does_not_win(db: sqlite3.Connection) -> None:
    """A window observed earlier but committed later (another file) leaves the newer one."""
    commit(db, window(used_percent=30.0, observed_at=NOW - 10))
    commit(db, window(used_percent=12.0, observed_at=NOW - 60), after=200)
    (w,) = limits_report(db, now=NOW)["limits"]
    assert 30.0 == w["usedPercent"]


def test_provider_filter(db: sqlite3.Connection) -> None:
    """--provider keeps only that provider's windows."""
    commit(db, window(), window("five_hour", provider="claude"))
    assert ["claude"] == [w["provider"] for w in limits_report(db, "claude", NOW)["limits"]]


def test_windows_are_ordered_by_provider_then_window(db: sqlite3.Connection) -> None:
    """The list is stable: provider, then window name."""
    commit(db, window("secondary"), window("primary"), window("five_hour", provider="claude"))
    got = [(w["provider"], w["window"]) for w in limits_report(db, now=NOW)["limits"]]
    assert [("claude", "five_hour"), ("codex", "primary"), ("codex", "secondary")] == got
