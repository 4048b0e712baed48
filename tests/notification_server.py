"""A private D-Bus session bus with a notification server on it that records what it is told.

``PrivateSessionBus`` starts ``dbus-daemon`` with a configuration of its own: a session bus
listening on a socket in a fresh temporary directory, with no service activation, so nothing on
this machine (a real notification daemon, a desktop) can answer in the server's place.
``NotificationServer`` connects to it with dbus-fast, owns ``org.freedesktop.Notifications`` and
implements the freedesktop notification protocol (``Notify``, ``GetCapabilities``,
``GetServerInformation``, ``CloseNotification``, and the ``ActionInvoked`` and
``NotificationClosed`` signals) in a background thread with its own asyncio loop, recording
every ``Notify`` call. ``click(notification_id)`` emits ``ActionInvoked`` for the default action,
as a person clicking the pop-up would.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from dbus_fast import Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
START_TIMEOUT_SECONDS = 10.0

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
"""No ``<servicedir>``: a name nobody owns is an immediate ``ServiceUnknown``, never activated."""


@dataclass(frozen=True)
class Notified:
    """One ``Notify`` call as the server received it."""

    id: int
    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    """The hints' plain values (``urgency`` is 0 low, 1 normal, 2 critical)."""
    expire_timeout: int

    @property
    def urgency(self) -> int | None:
        """The ``urgency`` hint, if the client sent one."""
        value = self.hints.get("urgency")
        return None if value is None else int(value)


class PrivateSessionBus:
    """``dbus-daemon`` on a socket of its own; ``address`` is its ``DBUS_SESSION_BUS_ADDRESS``."""

    def __init__(self) -> None:
        # A short directory of its own: a unix socket path must fit in ~100 bytes, which a
        # pytest tmp_path does not always.
        self.directory = Path(tempfile.mkdtemp(prefix="otm-dbus-"))
        self.socket = self.directory / "bus"
        config = self.directory / "session.conf"
        config.write_text(CONFIG.format(socket=self.socket))
        self.process = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--print-address", "--nofork"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        # --print-address writes the address once the socket is listening.
        self.address = self.process.stdout.readline().strip()
        if not self.address:
            self.stop()
            raise RuntimeError("dbus-daemon did not print its address")

    def stop(self) -> None:
        """End the daemon and remove its directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class _Notifications(ServiceInterface):
    """``org.freedesktop.Notifications``, recording every ``Notify``."""

    def __init__(self, server: NotificationServer) -> None:
        super().__init__(BUS_NAME)
        self._server = server
        self._next_id = 0

    @dbus_method()
    async def Notify(
        self,
        app_name: DBusStr,
        replaces_id: DBusUInt32,
        app_icon: DBusStr,
        summary: DBusStr,
        body: DBusStr,
        actions: Annotated[list[str], DBusSignature("as")],
        hints: Annotated[dict[str, Variant], DBusSignature("a{sv}")],
        expire_timeout: Annotated[int, DBusSignature("i")],
    ) -> DBusUInt32:
        if self._server.notify_delay:
            await asyncio.sleep(self._server.notify_delay)
        self._next_id += 1
        self._server._record(
            Notified(
                id=self._next_id,
                app_name=app_name,
                replaces_id=replaces_id,
                app_icon=app_icon,
                summary=summary,
                body=body,
                actions=list(actions),
                hints={name: value.value for name, value in hints.items()},
                expire_timeout=expire_timeout,
            )
        )
        return self._next_id

    @dbus_method()
    def GetCapabilities(self) -> Annotated[list[str], DBusSignature("as")]:
        return ["actions", "body"]

    @dbus_method()
    def GetServerInformation(
        self,
    ) -> Annotated[tuple[str, str, str, str], DBusSignature("ssss")]:
        return ("otm-test-notifications", "OpenTokenMonitor tests", "1.0", "1.2")

    # No return annotation: dbus-fast reads "None" (postponed annotations) as a signature.
    @dbus_method()
    def CloseNotification(self, notification_id: DBusUInt32):
        self.NotificationClosed(notification_id, 3)

    @dbus_signal()
    def ActionInvoked(
        self, notification_id: int, action_key: str
    ) -> Annotated[tuple[int, str], DBusSignature("us")]:
        return (notification_id, action_key)

    @dbus_signal()
    def NotificationClosed(
        self, notification_id: int, reason: int
    ) -> Annotated[tuple[int, int], DBusSignature("uu")]:
        return (notification_id, reason)


class NotificationServer:
    """A notification server on ``address``, in a thread with its own asyncio loop."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.notifications: list[Notified] = []
        self.notify_delay = 0.0
        """Seconds ``Notify`` takes to answer (a notification service that hangs)."""
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=_run, args=(self._loop,), name="notification-server", daemon=True
        )
        self._thread.start()
        self._bus: MessageBus | None = None
        self._interface: _Notifications | None = None
        self._run(self._start()).result(START_TIMEOUT_SECONDS)

    def _run(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _start(self) -> None:
        self._bus = await MessageBus(bus_address=self.address).connect()
        self._interface = _Notifications(self)
        self._bus.export(OBJECT_PATH, self._interface)
        await self._bus.request_name(BUS_NAME)

    def _record(self, notified: Notified) -> None:
        with self._changed:
            self.notifications.append(notified)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Notified]:
        """Block until at least ``count`` notifications arrived (or ``timeout``); all of them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.notifications) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.notifications)

    def click(self, notification_id: int, action_key: str = "default") -> None:
        """Emit ``ActionInvoked`` for ``notification_id``, as a click on the pop-up does."""

        async def emit() -> None:
            assert self._interface is not None
            self._interface.ActionInvoked(notification_id, action_key)

        self._run(emit()).result(START_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """Leave the bus and end the loop's thread."""

        async def leave() -> None:
            if self._bus is not None:
                self._bus.disconnect()

        try:
            self._run(leave()).result(START_TIMEOUT_SECONDS)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_SECONDS)


def _run(loop: asyncio.AbstractEventLoop) -> None:
    """The server's thread: run until stopped, then cancel what is left (a ``Notify`` still
    waiting out its delay) and close the loop."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
