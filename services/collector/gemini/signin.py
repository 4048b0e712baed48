"""Gemini CLI's Google sign-in, kept usable: its one-hour access token renewed in memory.

Gemini's access tokens last an hour and Gemini CLI renews the one in ``oauth_creds.json`` only
while it runs, so an expired token is the normal case. It is renewed here with the refresh token
and Gemini CLI's installed-app OAuth client, the way Gemini CLI itself does; the new access token
is kept only in memory (a ``Session``), never written anywhere.

A ``Session`` is what was learned about one sign-in: the renewed token, the token the endpoint
refused, the plan, and whether Google still serves the account at all. Google stopped serving
Gemini CLI OAuth for individual, AI Pro and Ultra accounts on 2026-06-18. Such an account is
reported ``unsupported`` once and not asked again until its sign-in changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bus.messages import AuthInfo
from services.collector.gemini.credentials import GeminiCredentials, token_digest
from services.collector.live.http import DEFAULT_TIMEOUT_SECONDS, HttpFailure, exchange, json_of
from services.collector.live.source import LiveFailure, failure_from_http, utc_text
from services.runtime.config import is_safe_endpoint

TOKEN_URL = "https://oauth2.googleapis.com/token"
# Gemini CLI's installed-app OAuth client, as published in google-gemini/gemini-cli
# (packages/core/src/code_assist/oauth2.ts). Google's installed-app flow embeds the secret in
# the application; "in this context, the client secret is obviously not treated as a secret".
# The refresh token was issued to this client, so only this client can renew it.
OAUTH_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
OAUTH_CLIENT_SECRET = "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"
USER_AGENT = "GeminiCLI/opentokenmonitor"
"""Sent to Google with the token renewal and with every Code Assist request."""
EXPIRY_MARGIN_SECONDS = 60.0
"""A token this close to its expiry is renewed first, so it cannot lapse mid-poll."""
DEFAULT_TOKEN_SECONDS = 3600.0
"""Google's access tokens last an hour when the token answer does not say."""

SIGN_IN = "sign in to Gemini CLI again: run `gemini` and choose Login with Google"
RUN_ONCE_FIX = "run `gemini` once, then `otm refresh`"
UNSUPPORTED_FIX = (
    "nothing to fix here: usage from the local logs is still counted; quota is not checked "
    "again until the sign-in changes"
)
UPDATE_FIX = "check for an OpenTokenMonitor update; it is retried later"

# The token endpoint's refusal is searched for this and nothing else: an error body may echo
# the request, refresh token included, so no part of it is ever quoted.
_INVALID_GRANT = b"invalid_grant"


@dataclass
class Session:
    """What was learned about one sign-in; dropped when the sign-in changes."""

    fingerprint: str = field(repr=False)
    access_token: str = field(default="", repr=False)
    """An access token renewed here (memory only), or empty."""
    expires_at: float | None = None
    rejected: str = field(default="", repr=False)
    """Digest of the access token the endpoint last refused, so it is not sent again."""
    plan: str = ""
    unsupported: LiveFailure | None = None

    def note_refusal(self, status: int | None, token: str) -> None:
        """After the endpoint answered 401 to ``token``, it is dead whatever its expiry says:
        renew it next time."""
        if status != 401:
            return
        self.rejected = token_digest(token)
        if token == self.access_token:
            self.access_token = ""
            self.expires_at = None

    def mark_unsupported(self, label: str, status: int) -> LiveFailure:
        """Remember that Google no longer serves this account (``label`` names the reason
        code), so later polls do not ask again; the failure to report."""
        failure = LiveFailure(
            "unsupported",
            f"Google no longer serves Gemini CLI quota for this account type ({label})",
            UNSUPPORTED_FIX,
            status,
        )
        self.unsupported = failure
        return failure


@dataclass
class SignIn:
    """The sign-in in ``creds_path``, renewed at ``token_url`` when its access token is stale.

    ``creds_path`` is only named (in messages and the ``AuthInfo``); the caller reads it.
    """

    creds_path: Path
    token_url: str = TOKEN_URL
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    _session: Session | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not safe_for_token(self.token_url):
            raise ValueError("token_url must be https (or http to 127.0.0.1 or localhost)")

    def session_for(self, creds: GeminiCredentials) -> Session:
        """The memory for this sign-in, started afresh when the sign-in changed."""
        if self._session is None or self._session.fingerprint != creds.fingerprint:
            self._session = Session(creds.fingerprint)
        return self._session

    def token_state(
        self, creds: GeminiCredentials, session: Session, now: float
    ) -> tuple[str, LiveFailure | None]:
        """A line for ``otm doctor`` on the access token, and the failure if it is unusable."""
        path = self.creds_path
        if _file_token_usable(creds, session, now):
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

    def token(self, creds: GeminiCredentials, session: Session, now: float) -> str | None:
        """The access token to send, or ``None`` when it must be renewed first.

        The file's token wins while fresh: Gemini CLI may have renewed it since.
        """
        if _file_token_usable(creds, session, now):
            return creds.access_token
        if session.access_token and _fresh(session.expires_at, now):
            return session.access_token
        return None

    def auth(self, creds: GeminiCredentials, session: Session, now: float) -> AuthInfo:
        """The auth in use: the renewed token's expiry once the file's token is stale."""
        expires_at = creds.expires_at
        if not _file_token_usable(creds, session, now) and session.access_token:
            expires_at = session.expires_at
        return AuthInfo(
            source=str(self.creds_path),
            kind="oauth",
            expires_at=expires_at,
            plan=session.plan,
            scopes=creds.scopes,
        )

    def renew(
        self, client: httpx.Client, creds: GeminiCredentials, session: Session, now: float
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
        # Capped at a week, so an absurd expires_in cannot keep a token "fresh" indefinitely.
        session.expires_at = now + min(float(lifetime), 7 * 86400.0)
        return None


def safe_for_token(url: str) -> bool:
    """Whether a sign-in token may be sent to ``url``: https, or http to this machine, and a
    URL httpx can use."""
    try:
        httpx.URL(url)
        return is_safe_endpoint(url)
    except (httpx.InvalidURL, ValueError):
        return False


def _file_token_usable(creds: GeminiCredentials, session: Session, now: float) -> bool:
    """Whether the file's own access token is fresh and was not refused."""
    if token_digest(creds.access_token) == session.rejected:
        return False
    return _fresh(creds.expires_at, now)


def _fresh(expires_at: float | None, now: float) -> bool:
    """Whether a token with this expiry is still good for a poll (unknown expiry: try it)."""
    return expires_at is None or expires_at > now + EXPIRY_MARGIN_SECONDS
