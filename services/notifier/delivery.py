"""Handing committed alerts to the channels, off the notifier's loop.

Channels block (an HTTP request, a program of the user's), so one worker thread calls them one
delivery at a time and hands the answers back; the loop records each answer in the notifier's
database only after the channel answered. A crash between a delivery and its record can repeat
that one delivery; an alert is never lost. Failures are retried with growing pauses.

Quiet hours hold desktop pop-ups and a snooze holds every channel; when they end, each channel
gets one summary of what was held instead of a burst.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bus.messages import Alert
from services.notifier.channels import Channel, Delivery
from services.runtime.config import parse_quiet_hours

RETRY_SECONDS = (5.0, 30.0, 120.0, 600.0, 3600.0)
"""Pauses before the 2nd, 3rd, ... attempt; the last one repeats."""
SNOOZE_FILE = "alerts-snooze"


def retry_after(attempts: int) -> float:
    """The pause after the ``attempts``-th failed attempt."""
    return RETRY_SECONDS[min(attempts, len(RETRY_SECONDS)) - 1]


@dataclass(frozen=True)
class Answer:
    """A channel's answer for one delivery."""

    key: str
    channel: str
    delivery: Delivery


class Worker:
    """One thread that calls channels; ``submit`` and ``answers`` are for the loop's thread."""

    def __init__(self, channels: list[Channel], answered: Callable[[], None] | None = None) -> None:
        self.channels = {channel.name: channel for channel in channels}
        self._answered = answered
        """Called in the worker's thread after each answer, to wake the loop that records it:
        the shorter that wait, the smaller the window in which a crash repeats a delivery."""
        self._todo: queue.Queue[tuple[str, str, Alert] | None] = queue.Queue()
        self._done: queue.Queue[Answer] = queue.Queue()
        self.busy: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="deliveries", daemon=True)
        self._thread.start()

    def submit(self, key: str, channel: str, alert: Alert) -> None:
        """Queue one delivery (ignored while the same one is still in hand)."""
        if (key, channel) in self.busy:
            return
        self.busy.add((key, channel))
        self._todo.put((key, channel, alert))

    def answers(self) -> list[Answer]:
        """The answers that came back since the last call."""
        out: list[Answer] = []
        while True:
            try:
                answer = self._done.get_nowait()
            except queue.Empty:
                return out
            self.busy.discard((answer.key, answer.channel))
            out.append(answer)

    def close(self, wait: float = 1.0) -> None:
        """Stop the thread (a delivery in hand is abandoned: it stays pending) and the channels."""
        self._todo.put(None)
        self._thread.join(timeout=wait)
        if self._thread.is_alive():
            return  # a channel still blocks: the process is exiting anyway (SIGTERM within 2 s)
        for channel in self.channels.values():
            channel.close()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            key, name, alert = item
            try:
                delivery = self.channels[name].deliver(alert)
            except Exception as exc:  # a channel must not raise; if it does, retry later
                delivery = Delivery(ok=False, answer=f"{type(exc).__name__} in the channel")
            self._done.put(Answer(key, name, delivery))
            if self._answered is not None:
                self._answered()


def in_quiet_hours(quiet_hours: str, now: float, tz: str = "") -> bool:
    """Whether local time ``now`` is inside ``"22:00-07:00"`` (spanning midnight or not)."""
    span = parse_quiet_hours(quiet_hours) if quiet_hours else None
    if span is None:
        return False
    from zoneinfo import ZoneInfo

    moment = datetime.fromtimestamp(now, ZoneInfo(tz) if tz else None)
    minute = moment.hour * 60 + moment.minute
    start, end = span
    return start <= minute < end if start <= end else minute >= start or minute < end


def snoozed_until(state: Path) -> float | None:
    """The end of ``otm alerts snooze``, if one is set and not over."""
    try:
        until = float(json.loads((state / SNOOZE_FILE).read_text())["until"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return until if until > time.time() else None


def snooze(state: Path, seconds: float | None) -> float | None:
    """Hold every channel for ``seconds`` (None: lift the snooze); the end, if any."""
    path = state / SNOOZE_FILE
    if seconds is None:
        path.unlink(missing_ok=True)
        return None
    until = time.time() + seconds
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"until": until}))
    temporary.replace(path)
    return until


def parse_duration(text: str) -> float | None:
    """``30m``, ``2h``, ``1d``, ``90s`` (or a bare number of minutes) in seconds; None if not."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "m")
    try:
        value = float(number)
    except ValueError:
        return None
    return value * units[unit] if 0 < value * units[unit] <= 30 * 86_400 else None


def summary(held: list[Alert], now: float, demo: bool) -> Alert:
    """One alert standing for those held by quiet hours or a snooze."""
    titles = [alert.title for alert in held[:5]]
    more = f" and {len(held) - 5} more" if len(held) > 5 else ""
    critical = any(a.severity == "critical" for a in held)
    return Alert(
        key=f"summary:{held[0].key}:{len(held)}",
        rule="summary",
        provider="all",
        title=f"{len(held)} alert{'s' if len(held) != 1 else ''} while notifications were held",
        body="; ".join(titles) + more,
        severity="critical" if critical else "warning",
        raised_at=now,
        demo=demo,
    )
