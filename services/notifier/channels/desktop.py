"""Desktop pop-ups through desktop-notifier: freedesktop notifications over D-Bus on Linux,
WinRT toasts on Windows, the Notification Center on macOS (from an app bundle only).

desktop-notifier is asyncio, and on Linux it keeps a connection to the D-Bus session bus whose
signals carry a click on the pop-up back to us, so the channel owns one private event loop in
a daemon thread for its whole life; ``deliver`` submits to it and waits a bounded time.

desktop-notifier never raises when a pop-up cannot be shown: it logs a warning with the
exception and carries on. The channel reads that record, from its own loop's thread only, to
tell "there is no desktop here", which trying again cannot fix, from a passing failure, and
keeps it out of the process's logs: the notifier says once what the channel answered, where
desktop-notifier would print a traceback for every alert.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import webbrowser
from collections.abc import Callable
from typing import Any

from desktop_notifier import DesktopNotifier, Urgency

from bus.messages import Alert
from services.notifier.channels import Delivery

APP_NAME = "OpenTokenMonitor"
DEFAULT_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 2.0
ANSWER_LIMIT = 200

NO_DESKTOP_FIX = "run otm on the machine you sit at, or use [alerts] urls for your phone"
NO_SESSION = Delivery(
    ok=False,
    answer="no desktop session here (no D-Bus session bus): desktop pop-ups are off",
    retry=False,
    fix=NO_DESKTOP_FIX,
)
NO_SERVICE = Delivery(
    ok=False,
    answer="no notification service on the D-Bus session bus: desktop pop-ups are off",
    retry=False,
    fix=NO_DESKTOP_FIX,
)
UNSUPPORTED = Delivery(
    ok=False,
    answer="desktop pop-ups are not supported here (on macOS only from an app bundle)",
    retry=False,
    fix="use [alerts] urls for your phone or chat",
)

URGENCY = {"info": Urgency.Low, "warning": Urgency.Normal, "critical": Urgency.Critical}

LIBRARY_LOGGERS = (
    "desktop_notifier.main",
    "desktop_notifier.backends.base",
    "desktop_notifier.backends.dbus",
    "desktop_notifier.backends.macos",
    "desktop_notifier.backends.winrt",
)
"""Where desktop-notifier logs (a logger's filter sees only records logged on that logger)."""

NO_SERVICE_ERRORS = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
)


class _Warnings(logging.Filter):
    """Takes desktop-notifier's warnings logged on one thread (the channel's loop)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread: int | None = None
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.thread is None or record.thread != self.thread:
            return True
        if record.levelno < logging.WARNING:
            return True
        self.records.append(record)
        return False


class DesktopChannel:
    """Alerts as desktop pop-ups from "OpenTokenMonitor"; a click opens ``dashboard_url``.

    ``opener`` opens the dashboard (``webbrowser.open``; tests pass their own), and
    ``timeout_seconds`` bounds one delivery. Urgency follows the alert's severity: critical is
    critical, warning normal, info low.
    """

    name = "desktop"

    def __init__(
        self,
        dashboard_url: str = "",
        *,
        opener: Callable[[str], object] = webbrowser.open,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.dashboard_url = dashboard_url
        self.timeout_seconds = timeout_seconds
        self._opener = opener
        # One delivery at a time: the warnings taken from the loop's thread belong to it.
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._notifier: DesktopNotifier | None = None
        self._supported: bool | None = None
        self._warnings = _Warnings()

    def deliver(self, alert: Alert) -> Delivery:
        """Show ``alert`` as a pop-up; "shown" once the desktop's notification service took it."""
        with self._lock:
            try:
                return self._deliver(alert)
            except Exception as error:  # never raise: the notifier goes on with other channels
                return Delivery(
                    ok=False, answer=_trim(f"not shown: {type(error).__name__}: {error}")
                )

    def close(self) -> None:
        """Leave the session bus and end the loop's thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            # Closing goes on whatever happens: the loop's end cancels what is left.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._drop(), loop).result(STOP_TIMEOUT_SECONDS)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT_SECONDS)
            for name in LIBRARY_LOGGERS:
                logging.getLogger(name).removeFilter(self._warnings)
            self._loop = self._thread = None
            self._warnings.thread = None

    # -- inside ---------------------------------------------------------------------------

    def _deliver(self, alert: Alert) -> Delivery:
        if self._supported is None:
            self._supported = _platform_supported()
        if not self._supported:
            return UNSUPPORTED
        loop = self._start()
        self._warnings.records.clear()
        future = asyncio.run_coroutine_threadsafe(self._show(alert), loop)
        try:
            shown = future.result(self.timeout_seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            asyncio.run_coroutine_threadsafe(self._drop(), loop)
            return Delivery(
                ok=False,
                answer=(
                    "the desktop's notification service did not answer within "
                    f"{self.timeout_seconds:g} s"
                ),
                fix="check that the desktop's notification service is running",
            )
        warnings = list(self._warnings.records)
        if shown and not warnings:
            return Delivery(ok=True, answer="shown")
        # A failed connection is dropped, so the next alert connects afresh (desktop-notifier
        # keeps its first one forever, dead after the session bus restarts).
        asyncio.run_coroutine_threadsafe(self._drop(), loop).result(STOP_TIMEOUT_SECONDS)
        return _failure(warnings)

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None:
            return self._loop
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_run, args=(loop,), name="otm-desktop", daemon=True)
        thread.start()
        self._warnings.thread = thread.ident
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).addFilter(self._warnings)
        self._loop, self._thread = loop, thread
        return loop

    async def _show(self, alert: Alert) -> bool:
        if self._notifier is None:
            # No icon: desktop-notifier's default is the Python logo, which is not ours.
            self._notifier = DesktopNotifier(app_name=APP_NAME, app_icon=None)
        shown = False

        def dispatched() -> None:
            # desktop-notifier calls this only once the notification service accepted it.
            nonlocal shown
            shown = True

        await self._notifier.send(
            title=alert.title,
            message=alert.body,
            urgency=URGENCY.get(alert.severity, Urgency.Normal),
            on_dispatched=dispatched,
            on_clicked=self._clicked if self.dashboard_url else None,
        )
        return shown

    def _clicked(self) -> None:
        # Called on the loop's thread; a browser can take seconds to start, and the loop
        # carries every other pop-up's signals meanwhile.
        threading.Thread(target=self._open, name="otm-desktop-open", daemon=True).start()

    def _open(self) -> None:
        # No browser here: the click does nothing, as on platforms without clicks.
        with contextlib.suppress(Exception):
            self._opener(self.dashboard_url)

    async def _drop(self) -> None:
        notifier, self._notifier = self._notifier, None
        # DesktopNotifier has no close; its D-Bus backend holds the connection as ``bus``.
        bus: Any = getattr(getattr(notifier, "_backend", None), "bus", None)
        if bus is None:
            return
        try:
            bus.disconnect()
            await asyncio.wait_for(bus.wait_for_disconnect(), STOP_TIMEOUT_SECONDS)
        except Exception:
            pass  # already gone


def _run(loop: asyncio.AbstractEventLoop) -> None:
    """The loop's thread: run until stopped, then finish what is left and close the loop."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _platform_supported() -> bool:
    """Whether desktop-notifier has a real backend here (else it silently shows nothing)."""
    from desktop_notifier.backends.dummy import DummyNotificationCenter
    from desktop_notifier.main import get_backend_class

    return get_backend_class() is not DummyNotificationCenter


def _failure(warnings: list[logging.LogRecord]) -> Delivery:
    """What desktop-notifier's warnings say about a pop-up that was not shown."""
    error = next(
        (r.exc_info[1] for r in warnings if r.exc_info and r.exc_info[1] is not None), None
    )
    if error is None:
        said = warnings[-1].getMessage() if warnings else "desktop-notifier did not show it"
        # Without an exception desktop-notifier refused before sending (a notification
        # service it cannot talk to): the same next time.
        return Delivery(ok=False, answer=_trim(f"not shown: {said}"), retry=False)
    if _no_session(error):
        return NO_SESSION
    if _no_service(error):
        return NO_SERVICE
    return Delivery(
        ok=False,
        answer=_trim(f"not shown: {type(error).__name__}: {error}"),
        fix="check that the desktop's notification service is running",
    )


def _no_session(error: BaseException) -> bool:
    """No session bus to talk to: none named, a dead socket, or one that refuses us."""
    if isinstance(error, OSError | EOFError):
        return True
    try:
        from dbus_fast.errors import AuthError, InvalidAddressError
    except ImportError:  # not Linux: there is no session bus to miss
        return False
    return isinstance(error, AuthError | InvalidAddressError)


def _no_service(error: BaseException) -> bool:
    """A session bus with nobody owning ``org.freedesktop.Notifications`` on it."""
    try:
        from dbus_fast.errors import DBusError
    except ImportError:
        return False
    if not isinstance(error, DBusError):
        return False
    kind = str(error.type)
    return kind in NO_SERVICE_ERRORS or kind.startswith("org.freedesktop.DBus.Error.Spawn.")


def _trim(text: str) -> str:
    return text if len(text) <= ANSWER_LIMIT else text[: ANSWER_LIMIT - 1] + "…"
