"""Codex's plan limits, asked of the endpoint the Codex CLI itself asks (FORMATS.md 3.5).

``GET https://chatgpt.com/backend-api/wham/usage`` with the ChatGPT sign-in from ``auth.json``
answers (every field optional)::

    {"plan_type":"pro",
     "rate_limit":{"primary_window":{"used_percent":15,"reset_at":1735401600,
                                     "limit_window_seconds":18000},
                   "secondary_window":{...}},
     "credits":{"has_credits":true,"unlimited":false,"balance":"150.0"},
     "additional_rate_limits":[{"limit_name":"GPT-5.3-Codex-Spark","metered_feature":"…",
                                "rate_limit":{...same windows...}}]}

``primary_window``/``secondary_window`` become the windows ``primary``/``secondary``, named
by ``limit_window_seconds`` when it is 5 hours or a week (weekly-only plans put the weekly
window first in the logs, FORMATS.md 9; assumed here too), by position otherwise: the names the
session-log adapter gives the same numbers (``limits.window_name``), so both sources update
one window. Additional limits become ``<limit_name>:primary`` and ``<limit_name>:secondary``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec

from bus.messages import AuthInfo, CreditBalance, LimitWindow
from services.collector.codex.auth import (
    CodexCredentials,
    CredentialsRead,
    codex_home,
    environment,
    read_credentials,
)
from services.collector.codex.limits import window_name
from services.collector.codex.records import PROVIDER
from services.collector.live.http import HttpFailure, request_json
from services.collector.live.source import Inspection, LiveFailure, LiveResult, failure_from_http
from services.runtime.config import Config, is_safe_endpoint

DEFAULT_USAGE_URL: Final = "https://chatgpt.com/backend-api/wham/usage"
USER_AGENT: Final = "codex-cli (opentokenmonitor)"
SIGN_IN_FIX: Final = "sign in to Codex again: run `codex login`"
LIVE: Final = "live"
WINDOWS: Final = (("primary_window", "primary"), ("secondary_window", "secondary"))
ANSWER_FIELDS: Final = ("rate_limit", "credits", "additional_rate_limits")
EXTRA_CREDITS: Final = ("individual_limit", "spend_control")
MAX_TEXT: Final = 80
"""Text from the answer (plan, limit names) is shown to people; a long string is cut."""
REDACTED: Final = "[redacted]"
CHATGPT_HOSTS: Final = ("https://chatgpt.com", "https://chat.openai.com")


@dataclass(frozen=True)
class UsageUrl:
    """The endpoint to ask, the setting it came from, and lines for ``otm doctor``."""

    url: str
    setting: str
    found: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Prepared:
    """Everything a poll needs before touching the network."""

    inspection: Inspection
    credentials: CodexCredentials | None
    url: str
    secrets: frozenset[str] = field(repr=False)


class CodexLiveSource:
    """The Codex CLI's ChatGPT plan limits (``wham/usage``), read with its own sign-in.

    Credentials and ``config.toml`` are read afresh on every call: Codex renews its sign-in
    (about every eight days) and this source never does, nor writes any of its files.
    """

    provider: str = PROVIDER

    def __init__(
        self, config: Config, env: Mapping[str, str] | None = None, home: Path | None = None
    ) -> None:
        self._config = config
        self._env = env
        self._home = home

    def inspect(self, now: float) -> Inspection:
        """Read the sign-in and the endpoint setting (no network); say whether a poll can work."""
        return self._prepare(now).inspection

    def poll(self, client: httpx.Client, now: float) -> LiveResult:
        """Ask the usage endpoint once; every failure comes back as ``LiveResult.failure``."""
        prepared = self._prepare(now)
        inspection, credentials = prepared.inspection, prepared.credentials
        if inspection.failure is not None or credentials is None:
            return LiveResult(auth=inspection.auth, failure=inspection.failure)
        try:
            body = request_json(
                client,
                "GET",
                prepared.url,
                headers=_headers(credentials),
                timeout=self._config.limits.timeout_seconds,
            )
        except HttpFailure as exc:
            failure = failure_from_http(exc, sign_in=SIGN_IN_FIX)
            return LiveResult(auth=inspection.auth, failure=failure)
        host = httpx.URL(prepared.url).host
        return parse_usage(body, now, host, inspection.auth, prepared.secrets)

    def _prepare(self, now: float) -> _Prepared:
        home = codex_home(environment(self._env), Path.home() if self._home is None else self._home)
        read = read_credentials(home.path, now)
        usage = usage_url(self._config.codex.usage_url, home.path)
        found = (f"Codex home: {home.path} ({home.how})", *read.found, *usage.found)
        failure = read.failure or _unsafe(usage)
        inspection = Inspection(auth=read.auth, failure=failure, found=found)
        credentials = read.credentials if failure is None else None
        return _Prepared(inspection, credentials, usage.url, _all_secrets(read))


def codex_live_source(
    config: Config, env: Mapping[str, str] | None = None, home: Path | None = None
) -> CodexLiveSource:
    """The Codex live source for ``config``; ``env`` and ``home`` stand in for the process's
    environment and home directory (tests)."""
    return CodexLiveSource(config, env, home)


def usage_url(configured: str, codex_dir: Path) -> UsageUrl:
    """``[codex] usage_url`` if set; else the one Codex derives from ``chatgpt_base_url`` in its
    ``config.toml``; else chatgpt.com's. The file is read only, and ignored if unusable."""
    if configured.strip():
        url = configured.strip()
        return UsageUrl(url, "[codex] usage_url", (f"usage URL: {url} (from [codex] usage_url)",))
    path = codex_dir / "config.toml"
    base, note = _chatgpt_base_url(path)
    if base is None:
        return UsageUrl(DEFAULT_USAGE_URL, "", (note, f"usage URL: {DEFAULT_USAGE_URL}"))
    url = url_from_base(base)
    setting = f"chatgpt_base_url in {path}"
    return UsageUrl(url, setting, (note, f"usage URL: {url} (from {setting})"))


def url_from_base(base: str) -> str:
    """Codex's own rule: a ``/backend-api`` base serves ``/wham/usage``, any other base
    ``/api/codex/usage``; a bare chatgpt.com base gets ``/backend-api`` added, as Codex does."""
    base = base.strip().rstrip("/")
    if base.startswith(CHATGPT_HOSTS) and "/backend-api" not in base:
        base += "/backend-api"
    if "/backend-api" in base:
        return f"{base}/wham/usage"
    return f"{base}/api/codex/usage"


def _chatgpt_base_url(path: Path) -> tuple[str | None, str]:
    """The top-level ``chatgpt_base_url`` of Codex's ``config.toml``, and a line saying what
    was found."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return None, f"{path}: not found; the default endpoint is used"
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None, f"{path}: unreadable or not valid TOML; ignored, the default endpoint is used"
    value = document.get("chatgpt_base_url")
    if value is None:
        return None, f"{path}: no chatgpt_base_url; the default endpoint is used"
    if type(value) is not str or not value.strip():
        return None, f"{path}: chatgpt_base_url is not a URL; ignored"
    return value, f"{path}: chatgpt_base_url is set"


def _unsafe(usage: UsageUrl) -> LiveFailure | None:
    """Refuse to send the token unencrypted or to an odd address."""
    if is_safe_endpoint(usage.url):
        return None
    return LiveFailure(
        "unconfigured",
        f"{usage.setting} gives the usage URL {usage.url!r}, which would send your Codex "
        "sign-in unencrypted or to an odd address",
        f"set {usage.setting} to an https:// URL (http:// only to 127.0.0.1 or localhost)",
    )


def _headers(credentials: CodexCredentials) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {credentials.access_token}",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    if credentials.account_id:
        headers["ChatGPT-Account-Id"] = credentials.account_id
    return headers


def _all_secrets(read: CredentialsRead) -> frozenset[str]:
    """Every secret from the file, plus the account id (personal, so never shown either)."""
    extra = () if read.credentials is None else (read.credentials.account_id,)
    return read.secrets | {s for s in extra if s}


def parse_usage(
    body: Any, now: float, host: str, auth: AuthInfo | None, secrets: frozenset[str] = frozenset()
) -> LiveResult:
    """Turn the endpoint's answer into windows and credits. Unreadable parts are skipped and
    noted; an answer with none of the expected fields is ``unexpected``. Any text that echoes
    one of ``secrets`` is redacted."""
    if type(body) is not dict:
        reason = f"{host} answered with JSON that is not an object"
        failure = LiveFailure("malformed", reason, "nothing to do: it is retried later")
        return LiveResult(auth=auth, failure=failure)
    if not any(name in body for name in ANSWER_FIELDS):
        reason = (
            f"{host} answered without any of {', '.join(ANSWER_FIELDS)}; "
            "the endpoint may have changed"
        )
        fix = "check for an OpenTokenMonitor update; it is retried later"
        return LiveResult(auth=auth, failure=LiveFailure("unexpected", reason, fix))
    reader = _Reader(now, secrets)
    plan = reader.text(body.get("plan_type"))
    detail = f"plan {plan}" if plan else ""
    windows = reader.windows(body.get("rate_limit"), "rate_limit", "", detail)
    windows += reader.additional(body.get("additional_rate_limits"))
    credits = reader.credits(body)
    if plan and auth is not None:
        auth = msgspec.structs.replace(auth, plan=plan)
    return LiveResult(
        windows=tuple(windows), credits=tuple(credits), auth=auth, notes=tuple(reader.notes)
    )


class _Reader:
    """Reads the parts of one answer, collecting a note for each part it has to skip.

    Notes name the field, never its value: the value could be anything a server sent.
    """

    def __init__(self, now: float, secrets: frozenset[str]) -> None:
        self.now = now
        self.secrets = secrets
        self.notes: list[str] = []

    def text(self, value: object, limit: int = MAX_TEXT) -> str:
        """A string from the answer fit to show: cut to ``limit``, redacted if it echoes a
        secret."""
        if type(value) is not str:
            return ""
        if any(secret in value for secret in self.secrets):
            return REDACTED
        return value.strip()[:limit]

    def windows(self, value: object, where: str, prefix: str, detail: str) -> list[LimitWindow]:
        """The primary and secondary windows of one ``rate_limit`` object."""
        if value is None:
            return []
        if type(value) is not dict:
            self.notes.append(f"{where} is not an object; skipped")
            return []
        windows = []
        for field_name, name in WINDOWS:
            window = self.window(value.get(field_name), f"{where}.{field_name}", detail)
            if window is not None:
                seconds = window.window_seconds
                named = window_name(name, None if seconds is None else seconds / 60)
                windows.append(msgspec.structs.replace(window, window=prefix + named))
        return windows

    def window(self, value: object, where: str, detail: str) -> LimitWindow | None:
        """One window; ``None`` (noted) if it has no numeric ``used_percent``."""
        if value is None:
            return None
        if type(value) is not dict:
            self.notes.append(f"{where} is not an object; skipped")
            return None
        used = _number(value.get("used_percent"))
        if used is None:
            self.notes.append(f"{where}.used_percent is missing or not a number; window skipped")
            return None
        seconds = self.optional_number(value, "limit_window_seconds", where)
        return LimitWindow(
            provider=PROVIDER,
            window="",
            used_percent=used,
            observed_at=self.now,
            source=LIVE,
            resets_at=self.resets_at(value, where),
            window_seconds=None if seconds is None else round(seconds),
            detail=detail,
        )

    def resets_at(self, window: dict[str, Any], where: str) -> float | None:
        """``reset_at`` (epoch seconds, milliseconds or ISO text), else now plus
        ``reset_after_seconds``."""
        value = window.get("reset_at")
        if value is not None:
            when = _epoch(value)
            if when is not None:
                return when
            self.notes.append(f"{where}.reset_at is not a time; reset time unknown")
        after = self.optional_number(window, "reset_after_seconds", where)
        return None if after is None else self.now + after

    def optional_number(self, value: dict[str, Any], key: str, where: str) -> float | None:
        """A number that may be absent; a present non-number is noted."""
        raw = value.get(key)
        number = _number(raw)
        if raw is not None and number is None:
            self.notes.append(f"{where}.{key} is not a number; ignored")
        return number

    def additional(self, value: object) -> list[LimitWindow]:
        """Windows of ``additional_rate_limits`` (per-model or per-feature limits)."""
        if value is None:
            return []
        if type(value) is not list:
            self.notes.append("additional_rate_limits is not a list; skipped")
            return []
        windows: list[LimitWindow] = []
        for i, item in enumerate(value):
            where = f"additional_rate_limits[{i}]"
            if type(item) is not dict:
                self.notes.append(f"{where} is not an object; skipped")
                continue
            name = self.text(item.get("limit_name")) or f"additional-{i}"
            detail = self.text(item.get("metered_feature"))
            windows += self.windows(
                item.get("rate_limit"), f"{where}.rate_limit", f"{name}:", detail
            )
        return windows

    def credits(self, body: dict[str, Any]) -> list[CreditBalance]:
        """``credits`` and the optional ``individual_limit``/``spend_control`` amounts."""
        balances = []
        credits = body.get("credits")
        if type(credits) is dict:
            balances.append(self.credit_balance(credits))
        elif credits is not None:
            self.notes.append("credits is not an object; skipped")
        for name in EXTRA_CREDITS:
            extra = self.used_limit(name, body.get(name))
            if extra is not None:
                balances.append(extra)
        return balances

    def credit_balance(self, credits: dict[str, Any]) -> CreditBalance:
        """Prepaid credits; the balance stays the decimal text the server sent."""
        has_credits = credits.get("has_credits")
        unlimited = credits.get("unlimited")
        return CreditBalance(
            provider=PROVIDER,
            name="credits",
            balance=self.amount(credits.get("balance"), "credits.balance"),
            unlimited=unlimited if type(unlimited) is bool else False,
            enabled=has_credits if type(has_credits) is bool else True,
        )

    def amount(self, value: object, where: str) -> str | None:
        """Money as decimal text: a string as sent, a number as written (150.5 -> "150.5")."""
        if value is None:
            return None
        if type(value) is int or (type(value) is float and math.isfinite(value)):
            return str(value)
        if type(value) is str and value.strip() and len(value) <= 40:
            text = self.text(value, 40)
            if text != REDACTED:
                return value
        self.notes.append(f"{where} is not an amount; ignored")
        return None

    def used_limit(self, name: str, value: object) -> CreditBalance | None:
        """A ``{used, limit}`` spend object, if it carries both as numbers; else ignored."""
        if type(value) is not dict:
            return None
        used, limit = _number(value.get("used")), _number(value.get("limit"))
        if used is None or limit is None:
            return None
        currency = self.text(value.get("currency"), 8)
        return CreditBalance(
            provider=PROVIDER,
            name=name,
            used=str(value["used"]),
            limit=str(value["limit"]),
            currency="" if currency == REDACTED else currency,
            used_percent=used / limit * 100 if limit > 0 else None,
        )


def _number(value: object) -> float | None:
    """An int or a finite float (never a bool) as float, else ``None``."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return float(value)
    return None


def _epoch(value: object) -> float | None:
    """Epoch seconds from seconds, milliseconds, a numeric string or an ISO time (naive = UTC)."""
    number = _number(value)
    if number is None and type(value) is str:
        try:
            number = float(value)
        except ValueError:
            return _iso(value)
    if number is None or not math.isfinite(number) or number <= 0:
        return None
    # Seconds until the year 5138; anything larger is milliseconds.
    return number / 1000 if number > 1e11 else number


def _iso(value: str) -> float | None:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
