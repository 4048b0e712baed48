"""Gemini Code Assist's quota: the two requests that ask for it and the reading of their answers.

``loadCodeAssist`` says which Google Cloud project and tier the sign-in belongs to, then
``retrieveUserQuota`` lists that project's per-model request buckets (FORMATS.md section 4.4).
Each model's scarcest bucket becomes one daily ``LimitWindow``, named by its model id.

The access token comes from ``signin``; here it is only sent. Server text is shown only when it
has the shape of an id, a tier name or a number: anything else the server says is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bus.messages import AuthInfo, LimitWindow
from services.collector.gemini.signin import SIGN_IN, UPDATE_FIX, USER_AGENT, safe_for_token
from services.collector.live.http import (
    DEFAULT_TIMEOUT_SECONDS,
    Answer,
    HttpFailure,
    exchange,
    json_of,
    request_json,
)
from services.collector.live.source import LiveFailure, LiveResult, failure_from_http

PROVIDER = "gemini"
DEFAULT_ENDPOINT = "https://cloudcode-pa.googleapis.com"
DEFAULT_API_VERSION = "v1internal"
VERSION_ENV = "CODE_ASSIST_API_VERSION"
WINDOW_SECONDS = 86400
"""Code Assist quotas are daily."""

FORBIDDEN_FIX = (
    "check that GOOGLE_CLOUD_PROJECT names a project this Google account may use with Gemini "
    "Code Assist, or sign in to Gemini CLI again: run `gemini`"
)
PROJECT_FIX = (
    "set GOOGLE_CLOUD_PROJECT to the Google Cloud project Gemini CLI uses with this account "
    "(as when running `gemini`), or run `gemini` once to finish its setup"
)

# Error answers are searched for these and nothing else: an error body may echo the request,
# token included, so no part of it is ever quoted.
_UNSUPPORTED_MARKERS = (
    (b"unsupported_client", "UNSUPPORTED_CLIENT"),
    (b"ineligibletier", "IneligibleTier"),
)
_SETUP_FIELDS = (
    "currentTier",
    "paidTier",
    "cloudaicompanionProject",
    "allowedTiers",
    "ineligibleTiers",
)
_VALIDATION_REQUIRED = "VALIDATION_REQUIRED"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
"""What a model id, tier id or reason code looks like; anything else is not shown."""
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()+/-]{0,79}")
"""A tier's display name (``Gemini Code Assist Standard``)."""
_AMOUNT = re.compile(r"\d{1,18}")
_VERSION = re.compile(r"[A-Za-z0-9._-]{1,32}")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class Setup:
    """What ``loadCodeAssist`` said: the project to ask about and the plan."""

    project: str
    plan: str


@dataclass(frozen=True)
class Unsupported:
    """``loadCodeAssist`` said Google no longer serves this account: ``label`` names the reason
    code (never the server's message), ``status`` the HTTP status it came with."""

    label: str
    status: int


@dataclass(frozen=True)
class _Tier:
    """A tier (``currentTier``, ``paidTier``) or an ineligible one, with only safe text kept."""

    id: str = ""
    name: str = ""
    reason: str = ""


class CodeAssist:
    """The Code Assist endpoint at ``endpoint`` and ``api_version``.

    ``endpoint_setting`` names where the endpoint came from (a setting or a variable), for
    messages; ``project`` is ``GOOGLE_CLOUD_PROJECT`` when set. ``problem`` says why the
    endpoint must not be used, or is ``None``; nothing is sent while it is set.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        endpoint_setting: str = "the default Code Assist endpoint",
        api_version: str = DEFAULT_API_VERSION,
        project: str = "",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        base = endpoint.strip().rstrip("/")
        self.load_url = f"{base}/{api_version}:loadCodeAssist"
        self.quota_url = f"{base}/{api_version}:retrieveUserQuota"
        self.project = project.strip()
        self.timeout = timeout
        self.problem = _endpoint_problem(base, endpoint_setting, api_version)

    def load(self, client: httpx.Client, token: str) -> Setup | Unsupported | LiveFailure:
        """Ask ``loadCodeAssist`` for the project and tier, or say why there is none."""
        metadata: dict[str, str] = {
            "ideType": "IDE_UNSPECIFIED",
            "platform": "PLATFORM_UNSPECIFIED",
            "pluginType": "GEMINI",
        }
        body: dict[str, Any] = {"metadata": metadata}
        if self.project:
            body["cloudaicompanionProject"] = self.project
            metadata["duetProject"] = self.project
        try:
            answer = exchange(
                client,
                "POST",
                self.load_url,
                headers=_headers(token),
                json=body,
                timeout=self.timeout,
            )
            marker = _unsupported_marker(answer) if answer.status >= 400 else None
            document = None if marker else json_of(answer)
        except HttpFailure as exc:
            return failure_from_http(exc, sign_in=SIGN_IN, forbidden=FORBIDDEN_FIX)
        if marker:
            return Unsupported(marker, answer.status)
        return self._setup_of(document, answer)

    def quota(
        self, client: httpx.Client, token: str, project: str, auth: AuthInfo, now: float
    ) -> LiveResult:
        """Ask ``retrieveUserQuota`` about ``project``: one window per model, with ``auth``."""
        try:
            answer = request_json(
                client,
                "POST",
                self.quota_url,
                headers=_headers(token),
                json={"project": project},
                timeout=self.timeout,
            )
        except HttpFailure as exc:
            return LiveResult(auth=auth, failure=failure_from_http(exc, sign_in=SIGN_IN))
        return _quota_result(answer, httpx.URL(self.quota_url).host, auth, now)

    def _setup_of(self, document: Any, answer: Answer) -> Setup | Unsupported | LiveFailure:
        """Read a ``loadCodeAssist`` answer into the project to ask about."""
        if not isinstance(document, dict) or not any(key in document for key in _SETUP_FIELDS):
            return LiveFailure(
                "unexpected",
                f"{answer.host} answered loadCodeAssist without a tier or project; "
                "the endpoint may have changed",
                UPDATE_FIX,
                answer.status,
            )
        current = _tier(document.get("currentTier"))
        paid = _tier(document.get("paidTier"))
        ineligible = _ineligible(document.get("ineligibleTiers"))
        project = _project_id(document.get("cloudaicompanionProject")) or self.project
        if ineligible and (current is None or not project):
            if any(tier.reason == _VALIDATION_REQUIRED for tier in ineligible):
                return LiveFailure(
                    "auth",
                    "Google asks to verify the Gemini CLI account before serving it",
                    "run `gemini` and complete the account verification it shows, "
                    "then `otm refresh`",
                    answer.status,
                )
            return Unsupported(_tier_label(ineligible[0]), answer.status)
        if not project:
            return LiveFailure(
                "unconfigured",
                "Gemini Code Assist named no Google Cloud project for this sign-in and "
                "GOOGLE_CLOUD_PROJECT is not set",
                PROJECT_FIX,
                answer.status,
            )
        plan = (paid.name or paid.id) if paid else ""
        return Setup(project, plan or (current.id if current else ""))


# -- the quota answer -----------------------------------------------------------------------------


def _quota_result(document: Any, host: str, auth: AuthInfo, now: float) -> LiveResult:
    """One window per model from a ``retrieveUserQuota`` answer; the scarcest bucket wins."""
    buckets = document.get("buckets") if isinstance(document, dict) else None
    if not isinstance(buckets, list):
        failure = LiveFailure(
            "unexpected",
            f"{host} answered retrieveUserQuota without quota buckets; "
            "the endpoint may have changed",
            UPDATE_FIX,
        )
        return LiveResult(auth=auth, failure=failure)
    notes: list[str] = []
    scarcest: dict[str, tuple[float, dict[str, Any]]] = {}
    for number, bucket in enumerate(buckets, 1):
        read = _bucket(number, bucket, notes)
        if read is None:
            continue
        model, fraction = read
        if model not in scarcest or fraction < scarcest[model][0]:
            scarcest[model] = (fraction, bucket)
    if not buckets:
        notes.append("retrieveUserQuota listed no quota buckets for this project")
    windows = tuple(
        _window(model, fraction, bucket, now, notes)
        for model, (fraction, bucket) in scarcest.items()
    )
    return LiveResult(windows=windows, auth=auth, notes=tuple(notes))


def _bucket(number: int, bucket: Any, notes: list[str]) -> tuple[str, float] | None:
    """A bucket's model and remaining fraction, or ``None`` (and a note) if unreadable."""
    if not isinstance(bucket, dict):
        notes.append(f"quota bucket {number} is not an object; skipped")
        return None
    model = _safe(_NAME, bucket.get("modelId"))
    if not model:
        notes.append(f"quota bucket {number} has no readable modelId; skipped")
        return None
    if "remainingFraction" not in bucket and bucket.get("remainingAmount") in (None, "0", 0):
        # Protobuf's JSON leaves zero values out: a used-up bucket has no fraction at all.
        return model, 0.0
    fraction = bucket.get("remainingFraction")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        notes.append(f"quota bucket {number} ({model}) has no numeric remainingFraction; skipped")
        return None
    if not 0.0 <= fraction <= 1.0:
        notes.append(f"quota bucket {number} ({model}) has remainingFraction outside 0-1; skipped")
        return None
    return model, float(fraction)


def _window(
    model: str, fraction: float, bucket: dict[str, Any], now: float, notes: list[str]
) -> LimitWindow:
    """The window of one model from its scarcest bucket."""
    reset = bucket.get("resetTime")
    resets_at = _iso_seconds(reset)
    if reset is not None and resets_at is None:
        notes.append(f"quota bucket for {model} has an unreadable resetTime; shown without one")
    return LimitWindow(
        provider=PROVIDER,
        window=model,
        used_percent=round((1.0 - fraction) * 100.0, 2),
        observed_at=now,
        source="live",
        resets_at=resets_at,
        window_seconds=WINDOW_SECONDS,
        detail=_detail(bucket),
    )


def _detail(bucket: dict[str, Any]) -> str:
    """``REQUESTS: 870 left`` from the bucket's token type and remaining amount."""
    kind = _safe(_NAME, bucket.get("tokenType"))
    amount = bucket.get("remainingAmount")
    if isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0:
        amount = str(amount)
    left = f"{amount} left" if isinstance(amount, str) and _AMOUNT.fullmatch(amount) else ""
    if kind and left:
        return f"{kind}: {left}"
    return kind or left


# -- loadCodeAssist fields ------------------------------------------------------------------------


def _tier(value: Any) -> _Tier | None:
    """A ``currentTier`` / ``paidTier`` object, or ``None`` if absent or unreadable."""
    if not isinstance(value, dict):
        return None
    return _Tier(id=_safe(_NAME, value.get("id")), name=_safe(_LABEL, value.get("name")))


def _ineligible(value: Any) -> list[_Tier]:
    """The ``ineligibleTiers`` entries, each with its tier and reason code."""
    if not isinstance(value, list):
        return []
    return [
        _Tier(
            id=_safe(_NAME, entry.get("tierId")),
            name=_safe(_LABEL, entry.get("tierName")),
            reason=_safe(_NAME, entry.get("reasonCode")),
        )
        for entry in value
        if isinstance(entry, dict)
    ]


def _tier_label(tier: _Tier) -> str:
    """``free-tier: INELIGIBLE_ACCOUNT`` for a message; reason messages are never shown."""
    parts = [part for part in (tier.id or tier.name, tier.reason) if part]
    return ": ".join(parts) or "IneligibleTier"


def _project_id(value: Any) -> str:
    """``cloudaicompanionProject``: a project id, or an object holding one under ``id``."""
    if isinstance(value, dict):
        value = value.get("id")
    return value.strip() if isinstance(value, str) else ""


def _unsupported_marker(answer: Answer) -> str | None:
    """The known reason code an error answer mentions, if any (the body itself is not kept)."""
    body = answer.body.lower()
    return next((label for marker, label in _UNSUPPORTED_MARKERS if marker in body), None)


def _endpoint_problem(base: str, setting: str, version: str) -> LiveFailure | None:
    """Why the configured endpoint must not be used, or ``None``."""
    if not safe_for_token(base):
        return LiveFailure(
            "unconfigured",
            f"{setting} = {base!r} would send your sign-in token unencrypted or to an odd address",
            f"set {setting} to an https:// URL (http:// only to 127.0.0.1 or localhost), "
            "or leave it empty for Google's",
        )
    if not _VERSION.fullmatch(version):
        return LiveFailure(
            "unconfigured",
            f"{VERSION_ENV} is not an API version such as {DEFAULT_API_VERSION}",
            f"unset {VERSION_ENV} or set it to an API version such as {DEFAULT_API_VERSION}",
        )
    return None


# -- small helpers --------------------------------------------------------------------------------


def _headers(token: str) -> dict[str, str]:
    """Code Assist request headers."""
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def _safe(pattern: re.Pattern[str], value: Any) -> str:
    """``value`` when it is a string of the expected shape, else empty: server text that could
    carry anything is never shown."""
    if isinstance(value, str) and pattern.fullmatch(value.strip()):
        return value.strip()
    return ""


def _iso_seconds(value: Any) -> float | None:
    """An RFC 3339 time (Google sends up to nanoseconds) as epoch seconds, or ``None``."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _LONG_FRACTION.sub(r"\1", value.strip())
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
