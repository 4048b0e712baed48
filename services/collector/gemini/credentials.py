"""Gemini CLI's Google sign-in, read (never written) from its home directory.

Gemini CLI keeps the Google OAuth tokens of "Login with Google" in
``<home>/.gemini/oauth_creds.json`` (FORMATS.md section 4.4), where ``<home>`` is
``GEMINI_CLI_HOME`` when set, else the user's home directory (as ``roots`` does). Its
``settings.json`` says which login the user chose; an API key or Vertex AI login leaves no
tokens there and has no quota endpoint.

The token values are kept out of every ``repr`` so a logged or printed object cannot leak them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from services.collector.gemini.roots import GEMINI_DIR
from services.runtime.cli_roots import expand_home

CREDS_FILE = "oauth_creds.json"
SETTINGS_FILE = "settings.json"
OAUTH_AUTH_TYPE = "oauth-personal"
"""``security.auth.selectedType`` of "Login with Google", the only login with a quota endpoint."""
MAX_FILE_BYTES = 1 << 20
"""Both files are a few hundred bytes; anything larger is not theirs."""


@dataclass(frozen=True)
class GeminiCredentials:
    """The parts of ``oauth_creds.json`` a poll needs. Secrets are excluded from ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    """Empty when the file has none (then an expired access token cannot be renewed)."""
    expires_at: float | None
    """Epoch seconds (the file says ``expiry_date`` in milliseconds); ``None`` if absent."""
    scopes: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        """Names this sign-in without revealing it: it changes when the user signs in again."""
        return token_digest(self.refresh_token or self.access_token)


def token_digest(token: str) -> str:
    """A one-way digest of a token, to recognise it again without keeping it."""
    return hashlib.sha256(token.encode()).hexdigest()


def gemini_dir(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """``<GEMINI_CLI_HOME or ~>/.gemini``: ``GEMINI_CLI_HOME`` replaces the home directory."""
    environ = os.environ if env is None else env
    home_dir = Path.home() if home is None else home
    cli_home = environ.get("GEMINI_CLI_HOME", "").strip()
    base = expand_home(cli_home, home_dir) if cli_home else home_dir
    return base / GEMINI_DIR


def read_credentials(path: Path) -> GeminiCredentials | str:
    """The sign-in in ``path``, or why it cannot be used (a sentence naming the file).

    A missing file is ``FileNotFoundError`` so callers can tell "never signed in" apart.
    """
    document = _read_json(path)
    if isinstance(document, _Unreadable):
        return document.reason
    if not isinstance(document, dict):
        return f"{path} is not a JSON object"
    access = document.get("access_token")
    if not isinstance(access, str) or not access.strip():
        return f"{path} holds no access_token (not a Google sign-in by Gemini CLI)"
    refresh = document.get("refresh_token")
    scope = document.get("scope")
    return GeminiCredentials(
        access_token=access.strip(),
        refresh_token=refresh.strip() if isinstance(refresh, str) else "",
        expires_at=_epoch_seconds(document.get("expiry_date")),
        scopes=tuple(scope.split()) if isinstance(scope, str) else (),
    )


def selected_auth_type(path: Path) -> str | None:
    """The login chosen in Gemini CLI's ``settings.json``, or ``None`` if it does not say.

    Current builds write ``security.auth.selectedType``; older ones wrote ``selectedAuthType``
    at the top level. An unreadable file says nothing: the setting is only a hint.
    """
    try:
        document = _read_json(path)
    except FileNotFoundError:
        return None
    if not isinstance(document, dict):
        return None
    security = document.get("security")
    auth = security.get("auth") if isinstance(security, dict) else None
    selected = auth.get("selectedType") if isinstance(auth, dict) else None
    if selected is None:
        selected = document.get("selectedAuthType")
    if isinstance(selected, str) and selected.strip() and len(selected) <= 64:
        return selected.strip()
    return None


@dataclass(frozen=True)
class _Unreadable:
    """Why a file gave no JSON (a sentence naming it)."""

    reason: str


def _read_json(path: Path) -> Any:
    """The JSON in ``path``, opened read-only, or ``_Unreadable`` saying why not.

    Raises ``FileNotFoundError`` for a missing file; no other error escapes.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        return _Unreadable(f"{path} cannot be read ({exc.strerror or type(exc).__name__})")
    if len(data) > MAX_FILE_BYTES:
        return _Unreadable(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return _Unreadable(f"{path} is not valid JSON")


def _epoch_seconds(value: Any) -> float | None:
    """``expiry_date`` (epoch milliseconds) in seconds; ``None`` if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value) / 1000.0
