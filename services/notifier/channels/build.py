"""The channels ``[alerts]`` asks for, in a stable order: desktop, each URL, the command."""

from __future__ import annotations

from services.notifier.channels import Channel
from services.runtime.config import AlertsConfig


def build_channels(config: AlertsConfig, dashboard_url: str) -> list[Channel]:
    """The desktop channel if ``desktop`` is on (a click opens ``dashboard_url``), one channel
    per entry of ``urls`` (named ``<scheme>#<position from 1>``), and the ``command`` if set.

    Building never fails on a bad entry: that channel answers every delivery with what is wrong.
    """
    # Imported here: desktop-notifier and apprise take ~150 ms to import, which commands that
    # only read this module's name (and the CLI) should not pay.
    from services.notifier.channels.command import CommandChannel
    from services.notifier.channels.desktop import DesktopChannel
    from services.notifier.channels.urls import UrlChannel

    channels: list[Channel] = []
    if config.desktop:
        channels.append(DesktopChannel(dashboard_url))
    for index, url in enumerate(config.urls, start=1):
        channels.append(UrlChannel(url, index))
    if config.command.strip():
        channels.append(
            CommandChannel(config.command, timeout_seconds=config.command_timeout_seconds)
        )
    return channels
