"""The desktop channel against a real notification server on a private D-Bus session bus."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bus.messages import Alert, Severity
from services.notifier.channels.desktop import NO_SERVICE, NO_SESSION, DesktopChannel
from tests.helpers import alert as shared_alert

if TYPE_CHECKING:
    from tests.notification_server import NotificationServer

# The freedesktop protocol over D-Bus is Linux's; dbus-fast is installed there only.
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="desktop pop-ups over D-Bus are Linux's"
)

DASHBOARD = "http://127.0.0.1:8787/"


def alert(severity: Severity = "warning", **fields: Any) -> Alert:
    """The shared threshold alert, at ``severity``."""
    return shared_alert(severity=severity, **fields)


class Opened:
    """An opener that records the URLs it was asked to open instead of starting a browser."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.event = threading.Event()

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        self.event.set()
        return True


@pytest.fixture
def opened() -> Opened:
    """The injected opener."""
    return Opened()


@pytest.fixture
def channel(opened: Opened) -> Iterator[DesktopChannel]:
    """A desktop channel whose click opens the dashboard through ``opened``."""
    desktop = DesktopChannel(DASHBOARD, opener=opened, timeout_seconds=5.0)
    yield desktop
    desktop.close()


@pytest.mark.e2e
def test_a_warning_shows_up_as_opentokenmonitor_with_normal_urgency(
    notification_server: NotificationServer, channel: DesktopChannel
) -> None:
    """A warning reaches the notification server with our app name, title, body, urgency 1."""
    delivery = channel.deliver(alert("warning"))

    assert True is delivery.ok, delivery
    assert "shown" == delivery.answer
    [shown] = notification_server.wait_for(1)
    assert "OpenTokenMonitor" == shown.app_name
    assert "Claude 5-hour window at 91 %" == shown.summary
    assert "Past the 90 % line; resets in 1h (at 14:00)." == shown.body
    assert 1 == shown.urgency
    assert "default" in shown.actions[::2]


@pytest.mark.e2e
def test_critical_and_info_map_to_critical_and_low_urgency(
    notification_server: NotificationServer, channel: DesktopChannel
) -> None:
    """Critical alerts are urgency 2 (critical), info alerts urgency 0 (low)."""
    assert True is channel.deliver(alert("critical", title="Claude 5-hour window at 96 %")).ok
    assert True is channel.deliver(alert("info", title="Claude 5-hour window reset")).ok

    first, second = notification_server.wait_for(2)
    assert (2, "Claude 5-hour window at 96 %") == (first.urgency, first.summary)
    assert (0, "Claude 5-hour window reset") == (second.urgency, second.summary)


@pytest.mark.e2e
def test_a_click_on_the_popup_opens_the_dashboard(
    notification_server: NotificationServer, channel: DesktopChannel, opened: Opened
) -> None:
    """ActionInvoked for the default action calls the opener with the dashboard's URL."""
    assert True is channel.deliver(alert()).ok
    [shown] = notification_server.wait_for(1)

    notification_server.click(shown.id)

    assert True is opened.event.wait(5.0)
    assert [DASHBOARD] == opened.urls


@pytest.mark.e2e
def test_one_channel_shows_many_alerts_over_one_connection(
    notification_server: NotificationServer, channel: DesktopChannel
) -> None:
    """Five alerts in a row are five notifications, each answered "shown"."""
    answers = [channel.deliver(alert(title=f"alert {n}")).answer for n in range(5)]

    assert ["shown"] * 5 == answers
    assert [f"alert {n}" for n in range(5)] == [n.summary for n in notification_server.wait_for(5)]


@pytest.mark.e2e
def test_a_notification_service_that_hangs_is_cut_off_at_the_time_out(
    notification_server: NotificationServer, opened: Opened
) -> None:
    """Notify unanswered past a 1 s time-out: ok False, retry True, in time; then it recovers."""
    desktop = DesktopChannel(DASHBOARD, opener=opened, timeout_seconds=1.0)
    try:
        notification_server.notify_delay = 30.0
        started = time.monotonic()
        hung = desktop.deliver(alert(title="hung"))
        elapsed = time.monotonic() - started
        notification_server.notify_delay = 0.0
        after = desktop.deliver(alert(title="after"))
    finally:
        desktop.close()

    assert (False, True) == (hung.ok, hung.retry)
    assert "the desktop's notification service did not answer within 1 s" == hung.answer
    assert elapsed < 3.0
    assert (True, "shown") == (after.ok, after.answer)
    assert "after" == notification_server.wait_for(1)[-1].summary


def test_no_session_bus_is_reported_once_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without DBUS_SESSION_BUS_ADDRESS (or DISPLAY) the channel says so at once, retry False."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    desktop = DesktopChannel(DASHBOARD, opener=Opened())
    try:
        started = time.monotonic()
        delivery = desktop.deliver(alert())
        elapsed = time.monotonic() - started
    finally:
        desktop.close()

    assert NO_SESSION == delivery
    assert False is delivery.retry
    assert elapsed < 3.0


def test_a_dead_session_bus_socket_is_no_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A session bus address whose socket nobody listens on is "no desktop session", quietly."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'gone'}")
    desktop = DesktopChannel(DASHBOARD, opener=Opened())
    try:
        started = time.monotonic()
        first = desktop.deliver(alert())
        second = desktop.deliver(alert())
        elapsed = time.monotonic() - started
    finally:
        desktop.close()

    assert (NO_SESSION, NO_SESSION) == (first, second)
    assert elapsed < 3.0
    assert [] == [r.getMessage() for r in caplog.records if r.name.startswith("desktop_notifier")]


@pytest.mark.e2e
def test_a_session_bus_without_a_notification_service_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session bus nobody serves notifications on (SSH into a desktop-less box): retry False."""
    from tests.notification_server import PrivateSessionBus

    bus = PrivateSessionBus()
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        desktop = DesktopChannel(DASHBOARD, opener=Opened())
        try:
            started = time.monotonic()
            delivery = desktop.deliver(alert())
            elapsed = time.monotonic() - started
        finally:
            desktop.close()
    finally:
        bus.stop()

    assert NO_SERVICE == delivery
    assert False is delivery.retry
    assert elapsed < 3.0


@pytest.mark.e2e
def test_a_notification_server_that_appears_later_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """After "no notification service", the next delivery connects afresh and is shown."""
    from tests.notification_server import NotificationServer, PrivateSessionBus

    bus = PrivateSessionBus()
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        desktop = DesktopChannel(DASHBOARD, opener=Opened())
        try:
            before = desktop.deliver(alert())
            server = NotificationServer(bus.address)
            try:
                after = desktop.deliver(alert())
                notified = server.wait_for(1)
            finally:
                server.stop()
        finally:
            desktop.close()
    finally:
        bus.stop()

    assert (False, True) == (before.ok, after.ok)
    assert ["Claude 5-hour window at 91 %"] == [n.summary for n in notified]
