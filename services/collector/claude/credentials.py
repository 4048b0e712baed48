"""Claude Code's subscription sign-in: where it is kept and what it allows (FORMATS.md 2.8).

The places, in order: ``$CLAUDE_SECURESTORAGE_CONFIG_DIR/.credentials.json``, each entry of
``$CLAUDE_CONFIG_DIR`` (a comma list) plus ``/.credentials.json``, ``~/.claude/.credentials.json``;
the first file that exists wins. On macOS, when none exists, the keychain item
``Claude Code-credentials`` is asked through ``security``.

Files are only ever opened for reading: Claude Code owns them and rotates the refresh token, so
a second writer would sign the user out. The access token stays in ``ClaudeCredentials`` (kept
out of its ``repr``) and never reaches a message, a log line or an exception.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

from bus.messages import AuthInfo
from services.collector.live.source import LiveFailure, utc_text
from services.runtime.cli_roots import expand_home, split_env_list, unique

CREDENTIALS_FILE: Final = ".credentials.json"
KEYCHAIN_ITEM: Final = "Claude Code-credentials"
KEYCHAIN_SOURCE: Final = f"macOS keychain item '{KEYCHAIN_ITEM}'"
KEYCHAIN_TIMEOUT_SECONDS: Final = 5.0
SECURITY_COMMAND: Final = ("security",)
"""The macOS keychain tool; ``find-generic-password -s <item> -w`` is appended."""
KEYCHAIN_NOT_FOUND: Final = 44
"""``security``'s exit code for "no such item" (errSecItemNotFound)."""
REQUIRED_SCOPE: Final = "user:profile"
MAX_FILE_BYTES: Final = 1 << 20
"""A sign-in file is a few hundred bytes; anything this large is not one."""

SIGN_IN_FIX: Final = (
    "sign in to Claude Code (run `claude` and use /login); live limits need a Claude "
    "subscription sign-in, an API key has none"
)
SIGN_IN_AGAIN_FIX: Final = (
    "sign in to Claude Code again: run `claude` (it renews the sign-in) or use /login"
)
SCOPE_FIX: Final = (
    "sign in to Claude Code again with /login (run `claude`, then /login) so the sign-in "
    f"includes the {REQUIRED_SCOPE} scope; a token from `claude setup-token` cannot read usage"
)


@dataclass(frozen=True)
class ClaudeCredentials:
    """One usable-looking ``claudeAiOauth`` sign-in and where it came from."""

    source: str
    access_token: str = field(repr=False)
    expires_at: float | None = None
    scopes: tuple[str, ...] | None = None
    """``None`` when the sign-in does not list its scopes (then they are not checked)."""
    subscription_type: str = ""
    rate_limit_tier: str = ""

    def auth_info(self) -> AuthInfo:
        """What ``otm doctor`` and the status may show: never the token."""
        plan = self.subscription_type
        if self.rate_limit_tier:
            plan = f"{plan} ({self.rate_limit_tier})" if plan else self.rate_limit_tier
        return AuthInfo(
            source=self.source,
            kind="oauth",
            expires_at=self.expires_at,
            plan=plan,
            scopes=self.scopes or (),
        )

    def problem(self, now: float) -> LiveFailure | None:
        """Why the endpoint would certainly refuse this sign-in, or ``None``.

        An expired token is not refreshed here: Claude Code owns the refresh and the refresh
        token rotates, so refreshing behind its back would sign the user out.
        """
        if self.expires_at is not None and self.expires_at <= now:
            when = utc_text(self.expires_at, seconds=True)
            return LiveFailure(
                "auth",
                f"the Claude Code sign-in in {self.source} expired at {when}",
                SIGN_IN_AGAIN_FIX,
            )
        if self.scopes is not None and REQUIRED_SCOPE not in self.scopes:
            has = ", ".join(self.scopes) or "none"
            return LiveFailure(
                "auth",
                f"the Claude Code sign-in in {self.source} lacks the {REQUIRED_SCOPE} scope "
                f"that reading usage needs (it has: {has})",
                SCOPE_FIX,
            )
        return None


@dataclass(frozen=True)
class CredentialLookup:
    """The outcome of looking for the sign-in: credentials, or why there are none usable.

    ``source`` names the file or keychain item that was used (or was unusable); ``found`` has
    one human line per place looked at.
    """

    credentials: ClaudeCredentials | None
    failure: LiveFailure | None
    found: tuple[str, ...]
    source: str | None = None


def credential_paths(env: Mapping[str, str], home: Path) -> list[Path]:
    """The sign-in files Claude Code may use, in the order they are tried."""
    paths: list[Path] = []
    secure = env.get("CLAUDE_SECURESTORAGE_CONFIG_DIR", "").strip()
    if secure:
        paths.append(expand_home(secure, home) / CREDENTIALS_FILE)
    for entry in split_env_list(env.get("CLAUDE_CONFIG_DIR", "")):
        paths.append(expand_home(entry, home) / CREDENTIALS_FILE)
    paths.append(home / ".claude" / CREDENTIALS_FILE)
    return unique(paths)


def find_credentials(
    env: Mapping[str, str],
    home: Path,
    platform: str,
    *,
    keychain: bool = True,
    security_command: Sequence[str] = SECURITY_COMMAND,
) -> CredentialLookup:
    """Look in every place in order and read the first sign-in that exists."""
    found: list[str] = []
    for path in credential_paths(env, home):
        raw, problem = _read_file(path)
        if raw is None and problem is None:
            found.append(f"{path}: missing")
            continue
        if raw is None:
            found.append(f"{path}: unreadable: {problem}")
            failure = LiveFailure(
                "unconfigured",
                f"cannot read the Claude Code sign-in file {path} ({problem})",
                f"make {path} readable by this user, or {SIGN_IN_FIX}",
            )
            return CredentialLookup(None, failure, tuple(found), str(path))
        found.append(f"{path}: found")
        return _parsed(raw, str(path), found)
    if platform == "darwin":
        if not keychain:
            found.append(f"{KEYCHAIN_SOURCE}: not checked ([claude] keychain = false)")
        else:
            lookup = _from_keychain(security_command, found)
            if lookup is not None:
                return lookup
    places = "; ".join(found)
    failure = LiveFailure(
        "unconfigured", f"no Claude Code sign-in found (looked at: {places})", SIGN_IN_FIX
    )
    return CredentialLookup(None, failure, tuple(found))


def _read_file(path: Path) -> tuple[bytes | None, str | None]:
    """``(bytes, None)``, ``(None, None)`` when missing, or ``(None, why)`` when unreadable."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except IsADirectoryError:
        return None, "it is a directory"
    except PermissionError:
        return None, "permission denied"
    except OSError as exc:
        return None, exc.strerror or type(exc).__name__
    if len(raw) > MAX_FILE_BYTES:
        return None, f"larger than {MAX_FILE_BYTES} bytes"
    return raw, None


def _from_keychain(command: Sequence[str], found: list[str]) -> CredentialLookup | None:
    """The keychain item's sign-in; ``None`` when there is no item (or no ``security``).

    The command's output is the secret itself: it is never logged nor put in a message.
    """
    argv = [*command, "find-generic-password", "-s", KEYCHAIN_ITEM, "-w"]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=KEYCHAIN_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        found.append(f"{KEYCHAIN_SOURCE}: not checked (the `security` command was not found)")
        return None
    except subprocess.TimeoutExpired:
        why = f"`security` did not answer within {KEYCHAIN_TIMEOUT_SECONDS:g} s"
        return _keychain_unreadable(why, found)
    except OSError as exc:
        return _keychain_unreadable(f"cannot run `security` ({type(exc).__name__})", found)
    if done.returncode == KEYCHAIN_NOT_FOUND:
        found.append(f"{KEYCHAIN_SOURCE}: missing")
        return None
    if done.returncode != 0:
        return _keychain_unreadable(f"`security` exited with code {done.returncode}", found)
    found.append(f"{KEYCHAIN_SOURCE}: found")
    return _parsed(_unhex(done.stdout.strip()), KEYCHAIN_SOURCE, found)


def _keychain_unreadable(why: str, found: list[str]) -> CredentialLookup:
    found.append(f"{KEYCHAIN_SOURCE}: unreadable: {why}")
    failure = LiveFailure(
        "unconfigured",
        f"cannot read the {KEYCHAIN_SOURCE} ({why})",
        "unlock the login keychain (or allow access when macOS asks), then it is retried; "
        f"or {SIGN_IN_FIX}",
    )
    return CredentialLookup(None, failure, tuple(found), KEYCHAIN_SOURCE)


def _unhex(raw: bytes) -> bytes:
    """``security -w`` prints a value holding non-ASCII bytes as hex; undo that."""
    if raw[:1] == b"{":
        return raw
    try:
        return bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return raw


def _parsed(raw: bytes, source: str, found: list[str]) -> CredentialLookup:
    """Read one sign-in document; a bad one names its source and does not fall through."""
    try:
        document: Any = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return _unusable(source, found, f"{source} is not valid JSON")
    oauth = document.get("claudeAiOauth") if type(document) is dict else None
    token = oauth.get("accessToken") if type(oauth) is dict else None
    if type(token) is not str or not token.strip():
        only_mcp = type(document) is dict and "mcpOAuth" in document and oauth is None
        what = "only MCP server sign-ins" if only_mcp else "no claudeAiOauth.accessToken"
        return _unusable(source, found, f"{source} holds no Claude subscription sign-in ({what})")
    assert type(oauth) is dict  # for mypy: a token was found inside it
    if not _sendable(token.strip()):
        return _unusable(source, found, f"{source} holds an access token that is not plain text")
    credentials = ClaudeCredentials(
        source=source,
        access_token=token.strip(),
        expires_at=_expires_at(oauth.get("expiresAt")),
        scopes=_scopes(oauth.get("scopes")),
        subscription_type=_label(oauth.get("subscriptionType")),
        rate_limit_tier=_label(oauth.get("rateLimitTier")),
    )
    return CredentialLookup(credentials, None, tuple(found), source)


def _unusable(source: str, found: list[str], reason: str) -> CredentialLookup:
    failure = LiveFailure("unconfigured", reason, SIGN_IN_FIX)
    return CredentialLookup(None, failure, tuple(found), source)


def _sendable(token: str) -> bool:
    """A token that fits in an HTTP header; anything else would fail inside the client."""
    return token.isascii() and token.isprintable() and " " not in token


def _expires_at(value: object) -> float | None:
    """``expiresAt`` is epoch milliseconds; anything else means "unknown"."""
    if type(value) not in (int, float):
        return None
    assert isinstance(value, int | float)
    return value / 1000


def _scopes(value: object) -> tuple[str, ...] | None:
    """The granted scopes: a list (or a space-separated string); ``None`` if not said."""
    if type(value) is str:
        return tuple(value.split())
    if type(value) is list:
        return tuple(item for item in value if type(item) is str)
    return None


def _label(value: object) -> str:
    """A short plan name, or ``""``; a long or odd value is not shown."""
    if type(value) is not str:
        return ""
    text = value.strip()
    return text if len(text) <= 64 and text.isprintable() else ""
