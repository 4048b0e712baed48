"""build_channels: what [alerts] asks for, in order, named without secrets."""

from __future__ import annotations

from services.notifier.channels.build import build_channels
from services.notifier.channels.command import CommandChannel
from services.notifier.channels.desktop import DesktopChannel
from services.runtime.config import AlertsConfig


def test_every_channel_in_order_desktop_urls_command() -> None:
    """Desktop first, then one channel per URL by scheme and position, then the command."""
    config = AlertsConfig(
        desktop=True,
        urls=["ntfys://tk_secret@ntfy.sh/otm-topic", "json://127.0.0.1:9/hook", "bogus"],
        command="notify-me --now",
        command_timeout_seconds=3.0,
    )

    channels = build_channels(config, "http://127.0.0.1:8787/")
    try:
        assert ["desktop", "ntfys#1", "json#2", "url#3", "command"] == [c.name for c in channels]
        desktop, command = channels[0], channels[-1]
        assert isinstance(desktop, DesktopChannel)
        assert "http://127.0.0.1:8787/" == desktop.dashboard_url
        assert isinstance(command, CommandChannel)
        assert (["notify-me", "--now"], 3.0) == (command.argv, command.timeout_seconds)
    finally:
        for channel in channels:
            channel.close()


def test_nothing_asked_for_is_no_channel() -> None:
    """desktop off, no URLs and a blank command give no channel at all."""
    assert [] == build_channels(AlertsConfig(desktop=False, command="  "), "")
