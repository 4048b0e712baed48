"""Gemini CLI's live quota: the per-model request buckets of Gemini Code Assist.

A poll asks ``loadCodeAssist`` which Google Cloud project and tier the sign-in belongs to, then
``retrieveUserQuota`` for that project's buckets (FORMATS.md section 4.4). One window per model,
named by its model id.

Gemini's access tokens last an hour and Gemini CLI renews the one in ``oauth_creds.json`` only
while it runs, so an expired token is the normal case. It is renewed here with the refresh token
and Gemini CLI's installed-app OAuth client, the way Gemini CLI itself does; the new access token
is kept only in this object's memory, never written anywhere.

Google stopped serving Gemini CLI OAuth for individual, AI Pro and Ultra accounts on
2026-06-18. Such an account is reported ``unsupported`` once and not asked again until its
sign-in changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bus.messages import AuthInfo, LimitWindow
from services.collector.gemini.credentials import (
    CREDS_FILE,
    OAUTH_AUTH_TYPE,
    SETTINGS_FILE,
    GeminiCredentials,
    gemini_dir,
    read_credentials,
    selected_auth_type,
    token_digest,
)
from services.collector.live.http import (
    DEFAULT_TIMEOUT_SECONDS,
    Answer,
    HttpFailure,
    exchange,
    json_of,
    request_json,
)
from services.collector.live.source import (
    Inspection,
    LiveFailure,
    LiveResult,
    failure_from_http,
    utc_text,
)
from services.runtime.config import Config, is_safe_endpoint

PROVIDER = "gemini"
DEFAULT_ENDPOINT = "https://cloudcode-pa.googleapis.com"
DEFAULT_API_VERSION = "v1internal"
TOKEN_URL = "https://oauth2.googleapis.com/token"
# Gemini CLI's installed-app OAuth client, as published in google-gemini/gemini-cli
# (packages/core/src/code_assist/oauth2.ts). Google's installed-app flow embeds the secret in
# the application; "in this context, the client secret is obviously not treated as a secret".
# The refresh token was issued to this client, so only this client can renew it.
OAUTH_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
OAUTH_CLIENT_SECRET = "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"
USER_AGENT = "GeminiCLI/opentokenmonitor"
WINDOW_SECONDS = 86400
"""Code Assist quotas are daily."""
EXPIRY_MARGIN_SECONDS = 60.0
"""A token this close to its expiry is renewed first, so it cannot lapse mid-poll."""
DEFAULT_TOKEN_SECONDS = 3600.0
"""Google's access tokens last an hour when the token answer does not say."""

ENDPOINT_SETTING = "[gemini] code_assist_endpoint"
ENDPOINT_ENV = "CODE_ASSIST_ENDPOINT"
VERSION_ENV = "CODE_ASSIST_API_VERSION"
PROJECT_ENVS = ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT_ID")
"""Gemini CLI reads both, in this order."""

SIGN_IN = "sign in to Gemini CLI again: run `gemini` and choose Login with Google"
NO_SIGN_IN_FIX = (
    "sign in to Gemini CLI with Google (run `gemini` and choose Login with Google); "
    "an API key or Vertex AI login has no quota endpoint"
)
RUN_ONCE_FIX = "run `gemini` once, then `otm refresh`"
UNSUPPORTED_FIX = (
    "nothing to fix here: usage from the local logs is still counted; quota is not checked "
    "again until the sign-in changes"
)
FORBIDDEN_FIX = (
    "check that GOOGLE_CLOUD_PROJECT names a project this Google account may use with Gemini "
    "Code Assist, or sign in to Gemini CLI again: run `gemini`"
)
PROJECT_FIX = (
    "set GOOGLE_CLOUD_PROJECT to the Google Cloud project Gemini CLI uses with this account "
    "(as when running `gemini`), or run `gemini` once to finish its setup"
)
RETRY_FIX = "nothing to do: it is retried later"
UPDATE_FIX = "check for an OpenTokenMonitor update; it is retried later"

# Error answers are searched for these and nothing else: an error body may echo the request,
# token included, so no part of it is ever quoted.
_UNSUPPORTED_MARKERS = (
    (b"unsupported_client", "UNSUPPORTED_CLIENT"),
    (b"ineligibletier", "IneligibleTier"),
)
_INVALID_GRANT = b"invalid_grant"
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


@dataclass
class _Session:
    """What this source learned about one sign-in; dropped when the sign-in changes."""

    fingerprint: str = field(repr=False)
    access_token: str = field(default="", repr=False)
    """An access token renewed here (memory only), or empty."""
    expires_at: float | None = None
    rejected: str = field(default="", repr=False)
    """Digest of the access token the endpoint last refused, so it is not sent again."""
    plan: str = ""
    unsupported: LiveFailure | None = None


@dataclass(frozen=True)
class _Setup:
    """What ``loadCodeAssist`` said: the project to ask about and the plan."""

    project: str
    plan: str


@dataclass(frozen=True)
class _Tier:
    """A tier (``currentTier``, ``paidTier``) or an ineligible one, with only safe text kept."""

    id: str = ""
    name: str = ""
    reason: str = ""


class GeminiLiveSource:
    """Gemini Code Assist quota for the Google sign-in of Gemini CLI (a ``LiveSource``).

    ``creds_path`` is read afresh on every poll and never written. ``endpoint`` is the Code
    Assist base URL, which ``endpoint_setting`` names in messages (a setting or a variable);
    ``project`` is ``GOOGLE_CLOUD_PROJECT`` when set. ``token_url`` is where access tokens are
    renewed (tests point it at a local server).
    """

    provider = PROVIDER

    def __init__(
        self,
        creds_path: Path,
        *,
        settings_path: Path | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        endpoint_setting: str = "the default Code Assist endpoint",
        api_version: str = DEFAULT_API_VERSION,
        project: str = "",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        token_url: str = TOKEN_URL,
    ) -> None:
        if not _usable_url(token_url):
            raise ValueError("token_url must be https (or http to 127.0.0.1 or localhost)")
        self.creds_path = creds_path
        self.settings_path = settings_path or creds_path.parent / SETTINGS_FILE
        base = endpoint.strip().rstrip("/")
        self.load_url = f"{base}/{api_version}:loadCodeAssist"
        self.quota_url = f"{base}/{api_version}:retrieveUserQuota"
        self.project = project.strip()
        self.timeout = timeout
        self.token_url = token_url
        self._setup_problem = _endpoint_problem(base, endpoint_setting, api_version)
        self._session: _Session | None = None

    def inspect(self, now: float) -> Inspection:
        """Read the sign-in (no network) and say whether a poll can work."""
        return self._examine(now)[0]

    def poll(self, client: httpx.Client, now: float) -> LiveResult:
        """Renew the token if needed, find the project, read its quota; never raises."""
        inspection, creds = self._examine(now)
        if inspection.failure is not None or creds is None:
            return LiveResult(auth=inspection.auth, failure=inspection.failure)
        session = self._session_for(creds)
        token = self._token(creds, session, now)
        if token is None:
            failure = self._renew(client, creds, session, now)
            if failure is not None:
                return LiveResult(auth=self._auth(creds, session, now), failure=failure)
            token = session.access_token
        setup = self._load(client, token, session)
        if isinstance(setup, LiveFailure):
            return LiveResult(auth=self._auth(creds, session, now), failure=setup)
        session.plan = setup.plan
        auth = self._auth(creds, session, now)
        try:
            answer = request_json(
                client,
                "POST",
                self.quota_url,
                headers=_headers(token),
                json={"project": setup.project},
                timeout=self.timeout,
            )
        except HttpFailure as exc:
            self._note_refusal(exc.status, token, session)
            return LiveResult(auth=auth, failure=failure_from_http(exc, sign_in=SIGN_IN))
        return _quota_result(answer, httpx.URL(self.quota_url).host, auth, now)

    # -- credentials --------------------------------------------------------------------------

    def _examine(self, now: float) -> tuple[Inspection, GeminiCredentials | None]:
        """The inspection, and the credentials when a poll may go ahead."""
        found: list[str] = []
        selected = selected_auth_type(self.settings_path)
        not_oauth = selected is not None and selected != OAUTH_AUTH_TYPE
        if selected is not None:
            found.append(f"{self.settings_path}: Gemini CLI login is {selected}")
        try:
            creds = read_credentials(self.creds_path)
        except FileNotFoundError:
            found.append(f"{self.creds_path}: not found")
            reason = f"no Gemini CLI Google sign-in at {self.creds_path}"
            if not_oauth:
                reason += f" (Gemini CLI is set to log in with {selected}, which has no quota)"
            missing = LiveFailure("unconfigured", reason, NO_SIGN_IN_FIX)
            return Inspection(None, missing, tuple(found)), None
        if isinstance(creds, str):
            found.append(creds)
            unreadable = LiveFailure("unconfigured", creds, NO_SIGN_IN_FIX)
            return Inspection(None, unreadable, tuple(found)), None
        if not_oauth:
            found.append(
                f"{self.creds_path}: a Google sign-in, but Gemini CLI now logs in with "
                f"{selected}, so this quota may not be the one in use"
            )
        session = self._session_for(creds)
        auth = self._auth(creds, session, now)
        failure: LiveFailure | None = self._setup_problem or session.unsupported
        if failure is None:
            line, failure = self._token_state(creds, session, now)
            found.append(line)
        elif failure is session.unsupported:
            found.append(
                f"{self.creds_path}: a Google sign-in that Google no longer serves quota for; "
                "not asked again until the sign-in changes"
            )
        else:
            found.append(f"{self.creds_path}: a Google sign-in")
        return Inspection(auth, failure, tuple(found)), (creds if failure is None else None)

    def _token_state(
        self, creds: GeminiCredentials, session: _Session, now: float
    ) -> tuple[str, LiveFailure | None]:
        """A line for ``otm doctor`` on the access token, and the failure if it is unusable."""
        path = self.creds_path
        if self._file_token_usable(creds, session, now):
            until = (
                "" if creds.expires_at is None else f", valid until {utc_text(creds.expires_at)}"
            )
            return f"{path}: Google sign-in{until}", None
        if session.access_token and _fresh(session.expires_at, now):
            until = "" if session.expires_at is None else f" until {utc_text(session.expires_at)}"
            return f"{path}: Google sign-in, access token renewed in memory{until}", None
        if creds.refresh_token:
            return f"{path}: Google sign-in, access token renewed in memory when polled", None
        if token_digest(creds.access_token) == session.rejected:
            reason = f"the Gemini CLI sign-in token in {path} was refused and cannot be renewed"
        else:
            expired = "" if creds.expires_at is None else f" at {utc_text(creds.expires_at)}"
            reason = (
                f"the Gemini CLI sign-in token in {path} expired{expired}; "
                "Gemini CLI renews it while it runs"
            )
        return f"{path}: {reason}", LiveFailure("auth", reason, RUN_ONCE_FIX)

    def _file_token_usable(self, creds: GeminiCredentials, session: _Session, now: float) -> bool:
        """Whether the file's own access token is fresh and was not refused."""
        if token_digest(creds.access_token) == session.rejected:
            return False
        return _fresh(creds.expires_at, now)

    def _token(self, creds: GeminiCredentials, session: _Session, now: float) -> str | None:
        """The access token to send, or ``None`` when it must be renewed first.

        The file's token wins while fresh: Gemini CLI may have renewed it since.
        """
        if self._file_token_usable(creds, session, now):
            return creds.access_token
        if session.access_token and _fresh(session.expires_at, now):
            return session.access_token
        return None

    def _session_for(self, creds: GeminiCredentials) -> _Session:
        """The memory for this sign-in, started afresh when the sign-in changed."""
        if self._session is None or self._session.fingerprint != creds.fingerprint:
            self._session = _Session(creds.fingerprint)
        return self._session

    def _auth(self, creds: GeminiCredentials, session: _Session, now: float) -> AuthInfo:
        """The auth in use: the renewed token's expiry once the file's token is stale."""
        expires_at = creds.expires_at
        if not self._file_token_usable(creds, session, now) and session.access_token:
            expires_at = session.expires_at
        return AuthInfo(
            source=str(self.creds_path),
            kind="oauth",
            expires_at=expires_at,
            plan=session.plan,
            scopes=creds.scopes,
        )

    def _renew(
        self, client: httpx.Client, creds: GeminiCredentials, session: _Session, now: float
    ) -> LiveFailure | None:
        """Get a new access token into ``session`` (memory only), or say why not."""
        path = self.creds_path
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token,
            "client_id": OAUTH_CLIENT_ID,
            "client_secret": OAUTH_CLIENT_SECRET,
        }
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        try:
            answer = exchange(
                client, "POST", self.token_url, headers=headers, data=form, timeout=self.timeout
            )
            if answer.status in (400, 401) and _INVALID_GRANT in answer.body:
                return LiveFailure(
                    "auth",
                    f"the Gemini CLI sign-in in {path} was revoked or expired",
                    "run `gemini` and sign in again",
                    answer.status,
                )
            if 400 <= answer.status < 500 and answer.status != 429:
                return LiveFailure(
                    "auth",
                    f"{answer.host} refused to renew the Gemini CLI sign-in in {path} "
                    f"(HTTP {answer.status})",
                    f"{RUN_ONCE_FIX}; if it persists, {UPDATE_FIX}",
                    answer.status,
                )
            document = json_of(answer)
        except HttpFailure as exc:
            return failure_from_http(exc, sign_in=SIGN_IN)
        token = document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token.strip():
            return LiveFailure(
                "unexpected",
                f"{answer.host} renewed the sign-in without an access token; "
                "the endpoint may have changed",
                UPDATE_FIX,
                answer.status,
            )
        lifetime = document.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_SECONDS
        session.access_token = token.strip()
        session.expires_at = now + min(float(lifetime), 7 * 86400.0)
        return None

    def _note_refusal(self, status: int | None, token: str, session: _Session) -> None:
        """After a 401 the token is dead whatever its expiry says: renew it next time."""
        if status != 401:
            return
        session.rejected = token_digest(token)
        if token == session.access_token:
            session.access_token = ""
            session.expires_at = None

    # -- loadCodeAssist -----------------------------------------------------------------------

    def _load(self, client: httpx.Client, token: str, session: _Session) -> _Setup | LiveFailure:
        """Ask ``loadCodeAssist`` for the project and tier; an account Google no longer serves
        is remembered so it is not asked again until the sign-in changes."""
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
            self._note_refusal(exc.status, token, session)
            return failure_from_http(exc, sign_in=SIGN_IN, forbidden=FORBIDDEN_FIX)
        if marker:
            return self._unsupported(session, marker, answer.status)
        return self._setup_of(document, answer, session)

    def _setup_of(self, document: Any, answer: Answer, session: _Session) -> _Setup | LiveFailure:
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
            return self._unsupported(session, _tier_label(ineligible[0]), answer.status)
        if not project:
            return LiveFailure(
                "unconfigured",
                "Gemini Code Assist named no Google Cloud project for this sign-in and "
                "GOOGLE_CLOUD_PROJECT is not set",
                PROJECT_FIX,
                answer.status,
            )
        plan = (paid.name or paid.id) if paid else ""
        return _Setup(project, plan or (current.id if current else ""))

    def _unsupported(self, session: _Session, label: str, status: int) -> LiveFailure:
        """The account Google no longer serves; kept so later polls do not ask again."""
        failure = LiveFailure(
            "unsupported",
            f"Google no longer serves Gemini CLI quota for this account type ({label})",
            UNSUPPORTED_FIX,
            status,
        )
        session.unsupported = failure
        return failure


def gemini_live_source(
    config: Config,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    *,
    token_url: str = TOKEN_URL,
) -> GeminiLiveSource:
    """The Gemini source for this machine: ``<GEMINI_CLI_HOME or ~>/.gemini/oauth_creds.json``.

    The endpoint is ``[gemini] code_assist_endpoint``, else ``CODE_ASSIST_ENDPOINT``, else
    Google's; the API version ``CODE_ASSIST_API_VERSION``, else ``v1internal``.
    """
    environ = os.environ if env is None else env
    directory = gemini_dir(environ, home)
    endpoint, setting = DEFAULT_ENDPOINT, "the default Code Assist endpoint"
    if config.gemini.code_assist_endpoint.strip():
        endpoint, setting = config.gemini.code_assist_endpoint, ENDPOINT_SETTING
    elif environ.get(ENDPOINT_ENV, "").strip():
        endpoint, setting = environ[ENDPOINT_ENV], ENDPOINT_ENV
    project = next(
        (environ.get(n, "").strip() for n in PROJECT_ENVS if environ.get(n, "").strip()), ""
    )
    return GeminiLiveSource(
        directory / CREDS_FILE,
        settings_path=directory / SETTINGS_FILE,
        endpoint=endpoint,
        endpoint_setting=setting,
        api_version=environ.get(VERSION_ENV, "").strip() or DEFAULT_API_VERSION,
        project=project,
        timeout=config.limits.timeout_seconds,
        token_url=token_url,
    )


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
    if not _usable_url(base):
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


def _usable_url(url: str) -> bool:
    """Safe to send a token to (https, or http to this machine) and a URL httpx can use."""
    try:
        httpx.URL(url)
        return is_safe_endpoint(url)
    except (httpx.InvalidURL, ValueError):
        return False


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


def _fresh(expires_at: float | None, now: float) -> bool:
    """Whether a token with this expiry is still good for a poll (unknown expiry: try it)."""
    return expires_at is None or expires_at > now + EXPIRY_MARGIN_SECONDS


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
