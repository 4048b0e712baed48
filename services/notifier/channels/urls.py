"""One apprise URL as a channel: ntfy, Slack, Discord, Telegram, e-mail, a JSON webhook, ...
(any service apprise supports), for the phone or the chat.

A URL may hold credentials: a password, a token in its host or path. They never leave this
module. The channel is named by scheme and position (``ntfy#1``), never by its URL; its answers
are apprise's own warnings with every part of the URL that apprise's privacy form hides blanked
out; and while apprise works for a channel, what it logs on that thread is kept out of the
process's logs: at TRACE it prints the URL in full, at ERROR an URL it cannot parse as given,
and urllib3 below it logs request paths, where Slack and Discord keep their tokens.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bus.messages import Alert
from services.notifier.channels import Delivery

if TYPE_CHECKING:
    from apprise import NotifyBase

DEFAULT_TIMEOUT_SECONDS = 10.0
ANSWER_LIMIT = 200

HELD_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry")
"""Loggers whose records on a channel's own threads never reach the process's handlers."""

SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")
URL_PARTS = re.compile(r"[\s:/@?&=#,;]+")
SHORTEST_SECRET = 3
"""Shorter parts of a URL (a port's digits, ``x``) are left alone: blanking them everywhere would
garble the answer, and no credential is that short."""


class _Held(logging.Filter):
    """Holds back records logged on the threads registered with ``hold``, keeping apprise's
    warnings and errors so the channel can answer with them."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._threads: dict[int, list[str]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            kept = self._threads.get(record.thread) if record.thread is not None else None
        if kept is None:
            return True
        if record.name == "apprise" and record.levelno >= logging.WARNING:
            # A record that cannot be formatted says nothing we could pass on.
            with contextlib.suppress(Exception):
                kept.append(record.getMessage())
        return False

    @contextlib.contextmanager
    def hold(self) -> Iterator[list[str]]:
        """While inside, this thread's records are held; yields apprise's warnings."""
        ident = threading.get_ident()
        kept: list[str] = []
        with self._lock:
            self._threads[ident] = kept
        try:
            yield kept
        finally:
            with self._lock:
                self._threads.pop(ident, None)


_HELD = _Held()
_installed = threading.Lock()


def _install() -> None:
    """Hold apprise's (and urllib3's) records on our threads, and apprise's below WARNING
    everywhere in this process: its DEBUG and TRACE lines carry URLs and payloads."""
    with _installed:
        logging.getLogger("apprise").setLevel(logging.WARNING)
        for name in HELD_LOGGERS:
            held = logging.getLogger(name)
            if _HELD not in held.filters:
                held.addFilter(_HELD)


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case (``ntfy``), or ``url`` when it has none worth naming."""
    found = SCHEME.match(url)
    return found.group(1).lower() if found else "url"


class UrlChannel:
    """Delivers alerts to one apprise URL, entry ``index`` (from 1) of ``[alerts] urls``.

    ``timeout_seconds`` bounds one delivery, whatever the service; an URL apprise cannot use
    is reported on every delivery (retry False) rather than raised here.
    """

    def __init__(self, url: str, index: int, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS):
        _install()
        self.index = index
        self.name = f"{scheme_of(url)}#{index}"
        self.timeout_seconds = timeout_seconds
        self._plugin: NotifyBase | None = None
        self._unusable: Delivery | None = None
        self._secrets = _secrets(url, "")
        try:
            from apprise import Apprise
        except Exception as error:  # a broken install is not the URL's fault: say so
            self._unusable = Delivery(
                ok=False,
                answer=_trim(f"apprise cannot be loaded: {type(error).__name__}: {error}"),
                retry=False,
                fix="reinstall otm with its dependencies (.venv/bin/pip install .)",
            )
            return
        with _HELD.hold() as said:
            try:
                self._plugin = Apprise.instantiate(url)
            except Exception as error:
                said.append(f"{type(error).__name__}: {error}")
        if self._plugin is not None:
            self._secrets = _secrets(url, self._private())
            return
        why = f": {self._scrub(said[-1])}" if said else ""
        self._unusable = Delivery(
            ok=False,
            answer=_trim(f"not a URL apprise can use{why}"),
            retry=False,
            fix=f"check [alerts] urls entry {index} in config.toml",
        )

    @property
    def private_url(self) -> str:
        """The URL as apprise shows it with its credentials hidden (empty if unusable)."""
        return self._scrub(self._private())

    def deliver(self, alert: Alert) -> Delivery:
        """Send ``alert`` (title, body, a notify type from its severity); "sent" once accepted."""
        plugin = self._plugin
        if plugin is None:
            assert self._unusable is not None
            return self._unusable
        outcome: list[bool] = []
        said: list[str] = []

        def send() -> None:
            with _HELD.hold() as kept:
                try:
                    outcome.append(_notify(plugin, alert))
                except Exception as error:  # a plugin's bug is one failed delivery
                    kept.append(f"{type(error).__name__}: {error}")
                    outcome.append(False)
                finally:
                    said.extend(kept)

        # A thread of its own: apprise's time-outs are per request, a service may make several,
        # and a hung one must not hold up the notifier beyond ours.
        worker = threading.Thread(target=send, name=f"otm-{self.name}", daemon=True)
        worker.start()
        worker.join(self.timeout_seconds)
        if worker.is_alive():
            return Delivery(ok=False, answer=f"no answer within {self.timeout_seconds:g} s")
        if outcome and outcome[0]:
            return Delivery(ok=True, answer="sent")
        reason = self._scrub(said[-1]) if said else "apprise gave no reason"
        return Delivery(
            ok=False,
            answer=_trim(f"not sent: {reason}"),
            fix=f"check the service of [alerts] urls entry {self.index}",
        )

    def close(self) -> None:
        """Nothing to release: apprise opens a connection per notification."""

    def _private(self) -> str:
        if self._plugin is None:
            return ""
        plugin: Any = self._plugin  # apprise's url() is not annotated
        try:
            return str(plugin.url(privacy=True))
        except Exception:  # a plugin that cannot show itself is shown as nothing
            return ""

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text


def _notify(plugin: NotifyBase, alert: Alert) -> bool:
    """One notification through ``plugin``, as plain text."""
    from apprise import NotifyFormat, NotifyType

    kinds = {"info": NotifyType.INFO, "warning": NotifyType.WARNING}
    return bool(
        plugin.notify(
            body=alert.body,
            title=alert.title,
            notify_type=kinds.get(alert.severity, NotifyType.FAILURE),
            body_format=NotifyFormat.TEXT,
        )
    )


def _secrets(url: str, private: str) -> list[str]:
    """The parts of ``url`` that its privacy form ``private`` does not show, longest first.

    When apprise could not read the URL at all there is no privacy form, and everything after
    the scheme counts as secret.
    """
    shown = set(URL_PARTS.split(private)) if private else {scheme_of(url)}
    parts = {part for part in URL_PARTS.split(url) if part and part not in shown}
    rest = (url.split("://", 1)[1] if "://" in url else url).strip()
    candidates = {*parts, url.strip(), rest} if rest else set(parts)
    candidates |= {urllib.parse.unquote(part) for part in candidates}
    if not private:
        candidates.discard(scheme_of(url))
    return sorted((c for c in candidates if len(c) >= SHORTEST_SECRET), key=len, reverse=True)


def _trim(text: str) -> str:
    return text if len(text) <= ANSWER_LIMIT else text[: ANSWER_LIMIT - 1] + "…"
