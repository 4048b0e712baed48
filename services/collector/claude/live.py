"""Claude Code's live limits: the subscription usage endpoint (FORMATS.md 2.8).

One ``GET <usage_url>`` with the sign-in Claude Code keeps (see ``credentials``) answers::

    {"five_hour":{"utilization":37.0,"resets_at":"2026-05-16T14:00:00.123456+00:00"},
     "seven_day":{...}, "seven_day_opus":null, ...,
     "extra_usage":{"is_enabled":true,"monthly_limit":5000,"used_credits":1234.5,
                    "utilization":24.7,"currency":"USD"},
     "limits":[{"kind":"weekly_scoped","group":"weekly","percent":12.0,"resets_at":...,
                "is_active":true,"scope":{"model":{"id":"...","display_name":"..."}}}]}

Every object with a ``utilization`` becomes a window named by its key, so a new
``seven_day_*`` window shows up without a code change. Text taken from the answer is only
used when it looks like a name, and never when it contains the token: a misbehaving server
may echo the ``Authorization`` header anywhere.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx

from bus.messages import AuthInfo, CreditBalance, LimitWindow
from services.collector.claude.credentials import (
    SECURITY_COMMAND,
    SIGN_IN_FIX,
    ClaudeCredentials,
    find_credentials,
)
from services.collector.live.http import HttpFailure, request_json
from services.collector.live.source import Inspection, LiveFailure, LiveResult, failure_from_http
from services.runtime.config import Config, is_safe_endpoint

PROVIDER: Final = "claude"
SOURCE: Final = "live"
USER_AGENT: Final = "claude-code/2.0.0 (opentokenmonitor)"
"""The endpoint expects a Claude Code user agent; the suffix says who is really asking."""
ANTHROPIC_BETA: Final = "oauth-2025-04-20"
FIVE_HOUR_SECONDS: Final = 5 * 3600
WEEK_SECONDS: Final = 7 * 24 * 3600
KNOWN_WINDOWS: Final = (
    "five_hour",
    "seven_day",
    "seven_day_opus",
    "seven_day_sonnet",
    "seven_day_oauth_apps",
    "seven_day_routines",
    "seven_day_cowork",
)
EXTRA_USAGE: Final = "extra_usage"
LIMITS: Final = "limits"
FORBIDDEN_FIX: Final = (
    "sign in to Claude Code again with /login (run `claude`, then /login) with a Claude "
    "subscription account; a token from `claude setup-token` cannot read usage"
)
RETRY_LATER: Final = "nothing to do: it is retried later"
UPDATE_FIX: Final = "check for an OpenTokenMonitor update; it is retried later"

_KEY = re.compile(r"[a-z0-9_]{1,64}")
"""A top-level window key worth naming a window (and quoting in a note)."""
_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,80}")
_DISPLAY = re.compile(r"[\w .:()/+\-]{1,80}")
_AMOUNT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
"""A money amount sent as a string: plain decimal digits only."""
_CREDENTIAL_PREFIX: Final = "sk-ant-"


class ClaudeLiveSource:
    """Claude Code's usage endpoint, asked with the sign-in Claude Code keeps."""

    provider: str = PROVIDER

    def __init__(
        self,
        config: Config,
        *,
        env: Mapping[str, str],
        home: Path,
        platform: str,
        security_command: Sequence[str] = SECURITY_COMMAND,
    ) -> None:
        self.config = config
        self.env = env
        self.home = home
        self.platform = platform
        self.security_command = tuple(security_command)

    def inspect(self, now: float) -> Inspection:
        """Read the sign-in (no network) and say whether a poll can work."""
        return self._check(now)[0]

    def poll(self, client: httpx.Client, now: float) -> LiveResult:
        """Ask the usage endpoint once; every failure comes back as a ``LiveFailure``."""
        inspection, credentials = self._check(now)
        if inspection.failure is not None or credentials is None:
            return LiveResult(auth=inspection.auth, failure=inspection.failure)
        url = self.config.claude.usage_url
        try:
            answer = request_json(
                client,
                "GET",
                url,
                headers=usage_headers(credentials.access_token),
                timeout=self.config.limits.timeout_seconds,
            )
        except HttpFailure as exc:
            failure = failure_from_http(exc, sign_in=SIGN_IN_FIX, forbidden=FORBIDDEN_FIX)
            return LiveResult(auth=inspection.auth, failure=failure)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # request_json maps the errors a server can cause; this is a URL httpx refuses.
            failure = LiveFailure(
                "network",
                f"cannot ask {_host(url)} ({type(exc).__name__})",
                "check [claude] usage_url in the config file",
            )
            return LiveResult(auth=inspection.auth, failure=failure)
        result = read_usage(answer, now, _host(url), secret=credentials.access_token)
        return replace(result, auth=inspection.auth)

    def _check(self, now: float) -> tuple[Inspection, ClaudeCredentials | None]:
        """The inspection and, when it passed, the credentials a poll sends (read once)."""
        lookup = find_credentials(
            self.env,
            self.home,
            self.platform,
            keychain=self.config.claude.keychain,
            security_command=self.security_command,
        )
        credentials = lookup.credentials
        if credentials is None:
            auth = None if lookup.source is None else _no_auth(lookup.source)
            return Inspection(auth=auth, failure=lookup.failure, found=lookup.found), None
        auth = credentials.auth_info()
        failure = credentials.problem(now) or _url_problem(self.config.claude.usage_url)
        inspection = Inspection(auth=auth, failure=failure, found=lookup.found)
        return inspection, None if failure else credentials


def claude_live_source(
    config: Config,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    platform: str | None = None,
) -> ClaudeLiveSource:
    """The Claude source for this machine (tests pass their own env, home and platform)."""
    return ClaudeLiveSource(
        config,
        env=os.environ if env is None else env,
        home=Path.home() if home is None else home,
        platform=sys.platform if platform is None else platform,
    )


def usage_headers(token: str) -> dict[str, str]:
    """The headers the usage endpoint needs, exactly as Claude Code sends them."""
    return {
        "Authorization": f"Bearer {token}",
        "anthropic-beta": ANTHROPIC_BETA,
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def read_usage(answer: Any, now: float, host: str, secret: str = "") -> LiveResult:
    """Turn a decoded usage answer into windows and credits (``auth`` left unset).

    ``secret`` is the token that was sent: text from the answer containing it is dropped.
    """
    if type(answer) is not dict:
        return LiveResult(
            failure=LiveFailure(
                "malformed",
                f"{host} answered with a JSON {_json_type(answer)} instead of an object",
                UPDATE_FIX,
            )
        )
    reader = _UsageReader(now=now, secret=secret)
    for key, value in answer.items():
        reader.read(key, value)
    if not reader.recognised:
        return LiveResult(
            failure=LiveFailure(
                "unexpected",
                f"{host} answered without any usage field (five_hour, seven_day, extra_usage, "
                "limits); the endpoint may have changed",
                UPDATE_FIX,
            )
        )
    return LiveResult(
        windows=tuple(reader.windows), credits=tuple(reader.credits), notes=tuple(reader.notes)
    )


@dataclass
class _UsageReader:
    """Collects what one answer holds; a present-but-unreadable field becomes a note."""

    now: float
    secret: str
    windows: list[LimitWindow] = field(default_factory=list)
    credits: list[CreditBalance] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recognised: bool = False

    def read(self, key: object, value: object) -> None:
        """Read one top-level field; unknown ones that are not window-shaped are ignored."""
        if key == EXTRA_USAGE:
            self.recognised = True
            self._extra_usage(value)
        elif key == LIMITS:
            self.recognised = True
            self._limits(value)
        elif key in KNOWN_WINDOWS:
            self.recognised = True
            self._window(str(key), value)
        elif type(value) is dict and "utilization" in value:
            self.recognised = True
            if type(key) is str and _KEY.fullmatch(key) and self._clean(key):
                self._window(key, value)
            else:
                self.notes.append("a window with an unusual name was skipped")

    def _window(self, key: str, value: object) -> None:
        if value is None:
            return  # the account has no such window
        if type(value) is not dict:
            self.notes.append(f"{key} is a {_json_type(value)}, not an object; skipped")
            return
        used = value.get("utilization")
        if used is None:
            return  # no figure for this window yet
        percent = _number(used)
        if percent is None:
            self.notes.append(f"{key}.utilization is a {_json_type(used)}, not a number; skipped")
            return
        self._add_window(key, percent, value.get("resets_at"), _window_seconds(key), "", key)

    def _limits(self, value: object) -> None:
        if value is None:
            return
        if type(value) is not list:
            self.notes.append(f"limits is a {_json_type(value)}, not a list; skipped")
            return
        for index, item in enumerate(value):
            self._limit(f"limits[{index}]", item)

    def _limit(self, where: str, item: object) -> None:
        if type(item) is not dict:
            self.notes.append(f"{where} is a {_json_type(item)}, not an object; skipped")
            return
        raw = item.get("percent")
        if raw is None:
            return
        percent = _number(raw)
        if percent is None:
            self.notes.append(f"{where}.percent is a {_json_type(raw)}, not a number; skipped")
            return
        scope = item.get("scope")
        model = scope.get("model") if type(scope) is dict else None
        model = model if type(model) is dict else {}
        name, seconds = self._limit_name(where, item, model)
        detail = self._display(model.get("display_name")) or ""
        if item.get("is_active") is False:
            detail = f"{detail} (not active)" if detail else "not active"
        self._add_window(name, percent, item.get("resets_at"), seconds, detail, where)

    def _limit_name(
        self, where: str, item: dict[str, Any], model: dict[str, Any]
    ) -> tuple[str, int | None]:
        """``kind:model id``, else ``kind:group``, and the window's length when known."""
        raw = {"kind": item.get("kind"), "group": item.get("group"), "model id": model.get("id")}
        names = {key: self._name(value) for key, value in raw.items()}
        odd = [key for key, value in raw.items() if value is not None and names[key] is None]
        if odd:
            self.notes.append(f"{where}: {', '.join(odd)} not a plain name; left out")
        kind = names["kind"] or "limit"
        suffix = names["model id"] or names["group"]
        name = f"{kind}:{suffix}" if suffix else kind
        return name, _window_seconds(names["group"] or kind)

    def _add_window(
        self,
        name: str,
        percent: float,
        raw_reset: object,
        window_seconds: int | None,
        detail: str,
        where: str,
    ) -> None:
        if any(window.window == name for window in self.windows):
            self.notes.append(f"{where} repeats the window {name}; skipped")
            return
        resets_at = _timestamp(raw_reset)
        if resets_at is None and raw_reset is not None:
            self.notes.append(f"{where}.resets_at is not a date; its reset time is unknown")
        self.windows.append(
            LimitWindow(
                provider=PROVIDER,
                window=name,
                used_percent=percent,
                observed_at=self.now,
                source=SOURCE,
                resets_at=resets_at,
                window_seconds=window_seconds,
                detail=detail,
            )
        )

    def _extra_usage(self, value: object) -> None:
        if value is None:
            return
        if type(value) is not dict:
            self.notes.append(f"extra_usage is a {_json_type(value)}, not an object; skipped")
            return
        enabled = value.get("is_enabled")
        if enabled is not None and type(enabled) is not bool:
            self.notes.append("extra_usage.is_enabled is not true or false; taken as enabled")
        percent_raw = value.get("utilization")
        percent = _number(percent_raw)
        if percent is None and percent_raw is not None:
            self.notes.append("extra_usage.utilization is not a number; skipped")
        currency_raw = value.get("currency")
        currency = self._name(currency_raw)
        if currency is None and currency_raw is not None:
            self.notes.append("extra_usage.currency is not a currency code; skipped")
        self.credits.append(
            CreditBalance(
                provider=PROVIDER,
                name=EXTRA_USAGE,
                used=self._money(value, "used_credits"),
                limit=self._money(value, "monthly_limit"),
                currency=currency or "",
                used_percent=percent,
                enabled=enabled is not False,
            )
        )

    def _money(self, value: dict[str, Any], key: str) -> str | None:
        raw = value.get(key)
        amount = _decimal_text(raw)
        if amount is None and raw is not None:
            self.notes.append(f"extra_usage.{key} is not an amount; skipped")
        return amount

    def _clean(self, text: str) -> bool:
        """False for text that is or holds a credential (an echoed token)."""
        if self.secret and self.secret in text:
            return False
        return _CREDENTIAL_PREFIX not in text

    def _name(self, value: object) -> str | None:
        if type(value) is not str or not _NAME.fullmatch(value) or not self._clean(value):
            return None
        return value

    def _display(self, value: object) -> str | None:
        if type(value) is not str:
            return None
        text = value.strip()
        if not _DISPLAY.fullmatch(text) or not self._clean(text):
            return None
        return text


def _window_seconds(name: str) -> int | None:
    """Known window lengths: five_hour, and every weekly (``seven_day*``) window."""
    if name == "five_hour":
        return FIVE_HOUR_SECONDS
    if name.startswith("seven_day") or name.startswith("weekly"):
        return WEEK_SECONDS
    return None


def _number(value: object) -> float | None:
    """A JSON number (not a boolean) as a float."""
    if type(value) in (int, float):
        assert isinstance(value, int | float)
        return float(value)
    return None


def _decimal_text(value: object) -> str | None:
    """Money as a plain decimal string: a JSON number's shortest digits, or a numeric string."""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        # repr() gives the shortest digits that read back as the same float, i.e. the JSON
        # text for any amount written with at most 17 significant digits.
        return format(Decimal(repr(value)), "f")
    if type(value) is str:
        text = value.strip()
        return text if _AMOUNT.fullmatch(text) else None
    return None


def _timestamp(value: object) -> float | None:
    """``resets_at`` as epoch seconds: an ISO 8601 string (naive means UTC) or epoch s/ms."""
    if type(value) in (int, float):
        assert isinstance(value, int | float)
        return value / 1000 if value > 1e11 else float(value)
    if type(value) is not str:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for notes that never quote the value."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) in (int, float):
        return "number"
    if type(value) is str:
        return "string"
    if type(value) is list:
        return "list"
    if type(value) is dict:
        return "object"
    return type(value).__name__


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return "the usage endpoint"


def _url_problem(url: str) -> LiveFailure | None:
    """The token only goes over https, or plain http to this machine."""
    if is_safe_endpoint(url):
        return None
    return LiveFailure(
        "unconfigured",
        f"[claude] usage_url = {url!r} would send your sign-in token unencrypted or to an odd "
        "address",
        "set [claude] usage_url to an https:// URL (http:// only to 127.0.0.1 or localhost), "
        "or remove it to use Anthropic's",
    )


def _no_auth(source: str) -> AuthInfo:
    """Where an unusable sign-in was found, with no claims about it."""
    return AuthInfo(source=source, kind="none")
