"""What the schema's per-field ranges cannot say: orders between settings, time zones, quiet
hours, URLs, the alert command and folder lists. Each check raises ``ConfigError`` with the
file, the key and the fix.

URLs and the command may hold credentials, so no message repeats them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path

from services.runtime.api_host import is_address_or_name, is_good_token, is_loopback
from services.runtime.config_errors import ConfigError, number, setting_name, toml_value
from services.runtime.config_schema import (
    MACHINE_NAME_CHARS,
    AlertsConfig,
    ApiConfig,
    BusConfig,
    Config,
    LimitsConfig,
)

_APPRISE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
"""``scheme://anything``: apprise's own parser decides the rest when the alert is sent."""


def check_config(path: Path, config: Config) -> None:
    """Every check on a config that already has the schema's types and ranges."""
    checks: tuple[Callable[[Config], str | None], ...] = (
        _endpoints,
        lambda c: _api(c.api),
        lambda c: _limits(c.limits),
        _roots,
        lambda c: _bands(c.alerts),
        lambda c: _time_zone(c.alerts.tz),
        lambda c: _quiet_hours(c.alerts.quiet_hours),
        lambda c: _urls(c.alerts.urls),
        lambda c: _command(c.alerts),
        lambda c: _bus(c.bus),
        lambda c: _machine_name(c.machine.name),
    )
    for check in checks:
        problem = check(config)
        if problem is not None:
            raise ConfigError(f"{path}: {problem}")


def _machine_name(name: str) -> str | None:
    """A name is shown in tables and chosen with ``--machine``: printable, one line, short."""
    where = setting_name(["machine", "name"])
    if name and not name.strip():
        return f"{where} = {toml_value(name)} is blank: give a name, or remove the setting"
    if len(name) > MACHINE_NAME_CHARS:
        return f"{where} is {len(name)} characters long: use at most {MACHINE_NAME_CHARS}"
    if any(not ch.isprintable() for ch in name) or "," in name:
        return (
            f"{where} = {toml_value(name)} holds a control character or a comma: use letters, "
            "digits, spaces and punctuation other than commas"
        )
    return None


def _endpoints(config: Config) -> str | None:
    """Endpoints receive tokens: only https, or plain http to this machine (test servers)."""
    for keys, url in (
        (["claude", "usage_url"], config.claude.usage_url),
        (["codex", "usage_url"], config.codex.usage_url),
        (["gemini", "code_assist_endpoint"], config.gemini.code_assist_endpoint),
    ):
        if url and not is_safe_endpoint(url):
            return (
                f"{setting_name(keys)} = {toml_value(url)} would send your sign-in token "
                "unencrypted or to an odd address; use an https:// URL (http:// only to "
                "127.0.0.1 or localhost)"
            )
    return None


NEW_TOKEN_HINT = (
    "`otm api token --new` makes one (or "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)


def _api(api: ApiConfig) -> str | None:
    """The address, the names and the token's form; the token is never repeated."""
    if not is_address_or_name(api.host):
        return (
            f"[api] host = {toml_value(api.host)} is not an address or a host name: use "
            '"127.0.0.1" (this machine only), an address of this machine, or "0.0.0.0"'
        )
    for entry, name in enumerate(api.allowed_hosts, start=1):
        if not is_address_or_name(name):
            return (
                f"{setting_name(['api', 'allowed_hosts'], entry)} = {toml_value(name)} is not "
                'a host name or an address: write a name as a browser shows it, e.g. "devbox.lan"'
            )
    if api.token and not is_good_token(api.token):
        return (
            "[api] token is too short or holds characters other than letters, digits and "
            f"-._~: use at least 32 of them; {NEW_TOKEN_HINT}"
        )
    return None


def check_exposure(path: Path, config: Config) -> None:
    """``ConfigError`` when the api would listen beyond this machine without a token (checked
    once ``OTM_API_HOST`` and ``OTM_API_TOKEN`` are applied)."""
    api = config.api
    if is_loopback(api.host) or api.token:
        return
    raise ConfigError(
        f"{path}: [api] host = {toml_value(api.host)} (or OTM_API_HOST) serves other machines, "
        f"so it needs [api] token: {NEW_TOKEN_HINT}; put it in this file under [api] as "
        'token = "<token>" (or set host = "127.0.0.1")'
    )


def _bus(bus: BusConfig) -> str | None:
    """A machine is a hub (``listen``) or an agent (``connect`` with the hub's key), not both."""
    from bus.curve import valid_key
    from bus.endpoints import split_tcp

    if bus.listen and bus.connect:
        return (
            "[bus] listen and [bus] connect are both set: a hub sets listen, an agent sets "
            "connect and hub_key; remove the one this machine is not"
        )
    for key, url, example in (
        ("listen", bus.listen, "tcp://0.0.0.0:5750"),
        ("connect", bus.connect, "tcp://hub.example:5750"),
    ):
        if not url:
            continue
        try:
            split_tcp(url)
        except ValueError as exc:
            return f"[bus] {key} = {toml_value(url)}: {exc}; write it as {toml_value(example)}"
    if bus.connect and not bus.hub_key:
        return (
            "[bus] connect is set but [bus] hub_key is not: run `otm keys init` on the hub "
            'and set hub_key = "<the public key it printed>"'
        )
    if bus.hub_key and not valid_key(bus.hub_key):
        return (
            "[bus] hub_key is not a public key (40 z85 characters): copy the key "
            "`otm keys init` (or `otm keys list`) printed on the hub"
        )
    if bus.hub_key and not bus.connect:
        return '[bus] hub_key is set but [bus] connect is not: add connect = "tcp://HUB:5750"'
    return None


def _limits(limits: LimitsConfig) -> str | None:
    """The floor between two polls is the smallest of the three cadences."""
    floor = limits.min_interval_seconds
    for key, value in (
        ("poll_seconds", limits.poll_seconds),
        ("max_backoff_seconds", limits.max_backoff_seconds),
    ):
        if value < floor:
            return (
                f"[limits] {key} = {number(value)} is below min_interval_seconds = "
                f"{number(floor)}: make it at least {number(floor)}, or lower "
                "min_interval_seconds"
            )
    return None


def _roots(config: Config) -> str | None:
    """An empty entry would mean the current folder, whatever it is at the time."""
    for provider, roots in (
        ("claude", config.claude.roots),
        ("codex", config.codex.roots),
        ("gemini", config.gemini.roots),
    ):
        for entry, root in enumerate(roots, start=1):
            where = setting_name([provider, "roots"], entry)
            if not root.strip():
                return f'{where} is empty: write a folder, e.g. "~/.{provider}", or remove it'
            if "\0" in root:
                return f"{where} holds a NUL character: write the folder's path"
    return None


def _bands(alerts: AlertsConfig) -> str | None:
    """Each band fires once: a repeated or unordered list is a mistake in the file."""
    for key, bands, example in (
        ("thresholds", alerts.thresholds, "[75, 90, 95]"),
        ("budget_thresholds", alerts.budget_thresholds, "[80, 100]"),
    ):
        if any(low >= high for low, high in pairwise(bands)):
            return (
                f"[alerts] {key} = {toml_value(list(bands))} is not in increasing order: "
                f"list each percentage once, lowest first, e.g. {example}"
            )
    return None


def _time_zone(name: str) -> str | None:
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only when set: ~3 ms

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return (
            f"[alerts] tz = {toml_value(name)} is not a time zone: use an IANA name such as "
            '"UTC" or "Europe/Berlin", or "" for this machine\'s'
        )
    return None


def _quiet_hours(text: str) -> str | None:
    if not text:
        return None
    span = parse_quiet_hours(text)
    if span is None or span[0] == span[1]:
        return (
            f"[alerts] quiet_hours = {toml_value(text)} is not a span of the day: write it as "
            '"22:00-07:00" (local time, start-end, 24-hour clock), or "" for none'
        )
    return None


def _urls(urls: Sequence[str]) -> str | None:
    for entry, url in enumerate(urls, start=1):
        if not _APPRISE_URL.match(url):
            return (
                f"{setting_name(['alerts', 'urls'], entry)} is not a URL: write one "
                'scheme://... URL per entry, without spaces, e.g. "ntfys://ntfy.sh/my-topic" '
                "(apprise's wiki lists the services)"
            )
    return None


def _command(alerts: AlertsConfig) -> str | None:
    try:
        shlex.split(alerts.command)
    except ValueError as error:  # unbalanced quotes
        return f"[alerts] command cannot be split into words ({error}): fix its quoting"
    return None


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """``"22:00-07:00"`` as (start, end) minutes after midnight; None if malformed."""
    start, dash, end = text.strip().partition("-")
    if not dash:
        return None
    minutes = [_minutes(part) for part in (start, end)]
    if minutes[0] is None or minutes[1] is None:
        return None
    return minutes[0], minutes[1]


def _minutes(clock: str) -> int | None:
    hours, colon, mins = clock.strip().partition(":")
    if not (colon and hours.isdigit() and mins.isdigit() and len(mins) == 2):
        return None
    value = int(hours) * 60 + int(mins)
    return value if int(hours) < 24 and int(mins) < 60 else None


def is_safe_endpoint(url: str) -> bool:
    """True for https URLs and for http URLs to the loopback interface."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
