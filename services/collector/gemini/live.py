"""Gemini CLI's live source: Code Assist quota for the Google sign-in Gemini CLI keeps.

A poll reads ``oauth_creds.json`` afresh, gets a usable access token from ``signin`` (renewing it
in memory when stale), then asks ``quota`` for the project and its per-model buckets. This module
only composes the two and says, without the network, whether a poll can work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import httpx

from services.collector.gemini.credentials import (
    CREDS_FILE,
    OAUTH_AUTH_TYPE,
    SETTINGS_FILE,
    GeminiCredentials,
    gemini_dir,
    read_credentials,
    selected_auth_type,
)
from services.collector.gemini.quota import (
    DEFAULT_API_VERSION,
    DEFAULT_ENDPOINT,
    PROVIDER,
    VERSION_ENV,
    CodeAssist,
    Unsupported,
)
from services.collector.gemini.signin import TOKEN_URL, SignIn
from services.collector.live.http import DEFAULT_TIMEOUT_SECONDS
from services.collector.live.source import Inspection, LiveFailure, LiveResult
from services.runtime.config import Config

ENDPOINT_SETTING = "[gemini] code_assist_endpoint"
ENDPOINT_ENV = "CODE_ASSIST_ENDPOINT"
PROJECT_ENVS = ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT_ID")
"""Gemini CLI reads both, in this order."""

NO_SIGN_IN_FIX = (
    "sign in to Gemini CLI with Google (run `gemini` and choose Login with Google); "
    "an API key or Vertex AI login has no quota endpoint"
)


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
        self.signin = SignIn(creds_path, token_url=token_url, timeout=timeout)
        self.code_assist = CodeAssist(
            endpoint,
            endpoint_setting=endpoint_setting,
            api_version=api_version,
            project=project,
            timeout=timeout,
        )
        self.creds_path = creds_path
        self.settings_path = settings_path or creds_path.parent / SETTINGS_FILE

    def inspect(self, now: float) -> Inspection:
        """Read the sign-in (no network) and say whether a poll can work."""
        return self._examine(now)[0]

    def poll(self, client: httpx.Client, now: float) -> LiveResult:
        """Renew the token if needed, find the project, read its quota; never raises."""
        inspection, creds = self._examine(now)
        if inspection.failure is not None or creds is None:
            return LiveResult(auth=inspection.auth, failure=inspection.failure)
        signin = self.signin
        session = signin.session_for(creds)
        token = signin.token(creds, session, now)
        if token is None:
            failure = signin.renew(client, creds, session, now)
            if failure is not None:
                return LiveResult(auth=signin.auth(creds, session, now), failure=failure)
            token = session.access_token
        setup = self.code_assist.load(client, token)
        if isinstance(setup, Unsupported):
            # Remembered, so this account is not asked again until its sign-in changes.
            failure = session.mark_unsupported(setup.label, setup.status)
            return LiveResult(auth=signin.auth(creds, session, now), failure=failure)
        if isinstance(setup, LiveFailure):
            session.note_refusal(setup.http_status, token)
            return LiveResult(auth=signin.auth(creds, session, now), failure=setup)
        session.plan = setup.plan
        auth = signin.auth(creds, session, now)
        result = self.code_assist.quota(client, token, setup.project, auth, now)
        if result.failure is not None:
            session.note_refusal(result.failure.http_status, token)
        return result

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
        session = self.signin.session_for(creds)
        auth = self.signin.auth(creds, session, now)
        failure: LiveFailure | None = self.code_assist.problem or session.unsupported
        if failure is None:
            line, failure = self.signin.token_state(creds, session, now)
            found.append(line)
        elif failure is session.unsupported:
            found.append(
                f"{self.creds_path}: a Google sign-in that Google no longer serves quota for; "
                "not asked again until the sign-in changes"
            )
        else:
            found.append(f"{self.creds_path}: a Google sign-in")
        return Inspection(auth, failure, tuple(found)), (creds if failure is None else None)


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
