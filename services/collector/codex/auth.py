"""The Codex CLI's ChatGPT sign-in, read from ``<codex home>/auth.json`` (FORMATS.md 3.5).

::

    {"OPENAI_API_KEY":null,
     "tokens":{"id_token":"eyJ…","access_token":"eyJ…","refresh_token":"…","account_id":"…"},
     "last_refresh":"2025-12-28T12:34:56Z"}

The file belongs to Codex, which renews the tokens itself: it is only ever opened for reading,
and never refreshed from here. The tokens and the account id stay inside ``CodexCredentials``
(hidden from ``repr``); what leaves this module for people is the file's path, the plan and the
expiry.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

from bus.messages import AuthInfo
from services.collector.live.source import LiveFailure, utc_text
from services.runtime.cli_roots import codex_home_of, expand_home, split_env_list

AUTH_FILE: Final = "auth.json"
MAX_AUTH_BYTES: Final = 1 << 20
"""auth.json is a few kB; anything far larger is not a sign-in file."""
OPENAI_AUTH_CLAIM: Final = "https://api.openai.com/auth"
"""OpenAI nests its ChatGPT claims (account id, plan) under this key of the JWT payload."""
LOGIN_FIX: Final = "sign in to Codex (`codex login`)"
CHATGPT_LOGIN_FIX: Final = "sign in with ChatGPT (`codex login`)"
EXPIRED_FIX: Final = "run `codex` (it renews its sign-in) or `codex login`"


@dataclass(frozen=True)
class CodexHome:
    """The Codex home whose sign-in is used, and a line saying how it was chosen."""

    path: Path
    how: str


@dataclass(frozen=True)
class CodexCredentials:
    """A usable ChatGPT sign-in. The token and the account id never show in ``repr``."""

    path: Path
    access_token: str = field(repr=False)
    account_id: str | None = field(repr=False)
    expires_at: float | None
    plan: str


@dataclass(frozen=True)
class CredentialsRead:
    """What reading ``auth.json`` gave: credentials, or a failure; always the lines for people.

    ``secrets`` holds every token and key found in the file, so that text taken from a server's
    answer can be checked for an echo of them before it is shown anywhere.
    """

    auth: AuthInfo | None
    credentials: CodexCredentials | None = None
    failure: LiveFailure | None = None
    found: tuple[str, ...] = ()
    secrets: frozenset[str] = field(default=frozenset(), repr=False)


def codex_home(env: Mapping[str, str], home: Path) -> CodexHome:
    """The first ``CODEX_HOME`` entry (a comma list here) that holds ``auth.json``, else its
    first entry, else ``~/.codex``. An entry naming a ``sessions`` directory means its home."""
    entries = [
        codex_home_of(expand_home(e, home)) for e in split_env_list(env.get("CODEX_HOME", ""))
    ]
    if not entries:
        return CodexHome(home / ".codex", "the default, CODEX_HOME is not set")
    for position, entry in enumerate(entries, 1):
        if (entry / AUTH_FILE).is_file():
            if len(entries) == 1:
                return CodexHome(entry, "from CODEX_HOME")
            return CodexHome(
                entry, f"entry {position} of {len(entries)} in CODEX_HOME, the first with auth.json"
            )
    return CodexHome(entries[0], "the first entry of CODEX_HOME; none holds auth.json")


def read_credentials(codex_dir: Path, now: float) -> CredentialsRead:
    """Read ``<codex_dir>/auth.json`` (read-only) and say whether it holds a live ChatGPT
    sign-in. Never raises for anything the file holds."""
    path = codex_dir / AUTH_FILE
    document = _load(path)
    if isinstance(document, CredentialsRead):
        return document
    secrets = _secrets(document)
    tokens = document.get("tokens")
    tokens = tokens if type(tokens) is dict else {}
    access = tokens.get("access_token")
    if not _usable_token(access):
        return _no_access_token(path, document, secrets)
    assert isinstance(access, str)
    return _signed_in(path, access, tokens, now, secrets)


def jwt_claims(token: object) -> dict[str, Any]:
    """The payload of a JWT, decoded without checking its signature; ``{}`` for anything that
    is not a JWT with a JSON object payload (garbage, bad padding, non-ASCII, ...)."""
    if type(token) is not str or token.count(".") < 2:
        return {}
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return {}
    return claims if type(claims) is dict else {}


def claim(claims: dict[str, Any], name: str) -> str:
    """A string claim at the top of the payload or under OpenAI's auth claim, else ``""``."""
    for scope in (claims, claims.get(OPENAI_AUTH_CLAIM)):
        if type(scope) is dict:
            value = scope.get(name)
            if type(value) is str and value:
                return value
    return ""


def _load(path: Path) -> dict[str, Any] | CredentialsRead:
    """The decoded file, or the failure that explains why there is none."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_AUTH_BYTES + 1)
    except FileNotFoundError:
        return _unconfigured(
            f"no Codex sign-in found: {path} does not exist", LOGIN_FIX, f"{path}: not found"
        )
    except OSError as exc:
        reason = f"cannot read {path} ({exc.strerror or type(exc).__name__})"
        return _unconfigured(
            reason, f"check that you can read {path}, or {LOGIN_FIX}", f"{path}: unreadable"
        )
    if len(raw) > MAX_AUTH_BYTES:
        return _unconfigured(f"{path} is too large to be a Codex sign-in file", LOGIN_FIX, "")
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return _unconfigured(f"{path} is not valid JSON", f"{LOGIN_FIX}, which rewrites it", "")
    if type(document) is not dict:
        return _unconfigured(f"{path} is not a JSON object", f"{LOGIN_FIX}, which rewrites it", "")
    return document


def _unconfigured(reason: str, fix: str, found: str) -> CredentialsRead:
    return CredentialsRead(
        auth=None, failure=LiveFailure("unconfigured", reason, fix), found=(found or reason,)
    )


def _no_access_token(
    path: Path, document: dict[str, Any], secrets: frozenset[str]
) -> CredentialsRead:
    """An API-key login, or a file without a usable ChatGPT token."""
    if _usable_token(document.get("OPENAI_API_KEY")):
        return CredentialsRead(
            auth=AuthInfo(source=str(path), kind="api-key"),
            failure=LiveFailure(
                "unconfigured",
                "Codex is signed in with an API key, which has no ChatGPT plan limits to read",
                "sign in with ChatGPT (`codex login`) to see plan limits; "
                "usage from the logs is still counted",
            ),
            found=(f"{path}: API-key sign-in (no ChatGPT plan limits)",),
            secrets=secrets,
        )
    reason = f"{path} holds no ChatGPT sign-in (no usable tokens.access_token)"
    return CredentialsRead(
        auth=None,
        failure=LiveFailure("unconfigured", reason, CHATGPT_LOGIN_FIX),
        found=(f"{path}: no ChatGPT access token",),
        secrets=secrets,
    )


def _signed_in(
    path: Path, access: str, tokens: dict[str, Any], now: float, secrets: frozenset[str]
) -> CredentialsRead:
    """A ChatGPT sign-in: its expiry, plan and account id from the file and the JWT claims."""
    access_claims = jwt_claims(access)
    id_claims = jwt_claims(tokens.get("id_token"))
    expires_at = _expiry(access_claims)
    plan = claim(access_claims, "chatgpt_plan_type") or claim(id_claims, "chatgpt_plan_type")
    account_id = _account_id(tokens, access_claims, id_claims)
    auth = AuthInfo(source=str(path), kind="oauth", expires_at=expires_at, plan=plan)
    found = (_describe(path, expires_at, plan, account_id),)
    if expires_at is not None and expires_at <= now:
        failure = LiveFailure(
            "auth", f"the Codex sign-in in {path} expired at {utc_text(expires_at)}", EXPIRED_FIX
        )
        return CredentialsRead(auth=auth, failure=failure, found=found, secrets=secrets)
    credentials = CodexCredentials(path, access, account_id, expires_at, plan)
    return CredentialsRead(auth=auth, credentials=credentials, found=found, secrets=secrets)


def _describe(path: Path, expires_at: float | None, plan: str, account_id: str | None) -> str:
    """One ``otm doctor`` line; never the account id itself."""
    parts = [f"{path}: ChatGPT sign-in"]
    if plan:
        parts.append(f"plan {plan}")
    parts.append(
        "expiry unknown" if expires_at is None else f"token expires {utc_text(expires_at)}"
    )
    parts.append("account id known" if account_id else "account id unknown")
    return ", ".join(parts)


def _account_id(
    tokens: dict[str, Any], access_claims: dict[str, Any], id_claims: dict[str, Any]
) -> str | None:
    """``tokens.account_id``, else the ``chatgpt_account_id`` claim of either token."""
    for candidate in (
        tokens.get("account_id"),
        claim(access_claims, "chatgpt_account_id"),
        claim(id_claims, "chatgpt_account_id"),
    ):
        if _usable_token(candidate):
            assert isinstance(candidate, str)
            return candidate
    return None


def _expiry(claims: dict[str, Any]) -> float | None:
    """The ``exp`` claim in epoch seconds, if it is a plausible one."""
    exp = claims.get("exp")
    if (type(exp) is int or type(exp) is float) and 0 < exp < 1e11:
        return float(exp)
    return None


def _usable_token(value: object) -> bool:
    """A non-empty string that can go into an HTTP header as it is (visible ASCII only)."""
    return type(value) is str and bool(value) and all("!" <= c <= "~" for c in value)


def _secrets(document: dict[str, Any]) -> frozenset[str]:
    """Every token and key in the file: text that must never be shown."""
    tokens = document.get("tokens")
    values: list[object] = [document.get("OPENAI_API_KEY")]
    if type(tokens) is dict:
        values += [tokens.get(k) for k in ("access_token", "refresh_token", "id_token")]
    # Short strings could match ordinary words in an answer; real tokens are far longer.
    return frozenset(v for v in values if type(v) is str and len(v) >= 8)


def environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    """``env``, or the process environment read at call time."""
    return os.environ if env is None else env
