"""One HTTP exchange with a provider endpoint, bounded in time, failing with a plain reason.

Nothing here ever puts a header, a token or a response body into an exception message: a
misbehaving server may echo the ``Authorization`` header back, and error text ends up in
events, logs and API answers.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

DEFAULT_TIMEOUT_SECONDS = 10.0
"""The whole exchange (connect, send, every byte of the answer) must finish within this."""
MAX_BODY_BYTES = 1 << 20
"""Usage answers are a few kB; a larger body is treated as malformed, not buffered forever."""


class HttpFailure(Exception):
    """An exchange that gave no usable JSON.

    ``kind`` is ``timeout``, ``network``, ``http`` (see ``status``) or ``malformed``;
    ``retry_after`` is the server's ``Retry-After`` in seconds when it sent one.
    """

    def __init__(
        self, kind: str, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    """One HTTP answer. The body is kept out of ``repr``: it may echo a token back, so callers
    only decode it or search it for known reason codes, never quote it."""

    host: str
    status: int
    body: bytes = field(repr=False)
    retry_after: float | None = None


def exchange(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json: Any = None,
    data: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Answer:
    """Send one request and read its whole answer, error answers included, within
    ``timeout`` seconds. A server that trickles its answer byte by byte cannot stretch the
    exchange: the deadline covers the whole body, not each read."""
    deadline = time.monotonic() + timeout
    host = httpx.URL(url).host
    try:
        with client.stream(
            method, url, headers=headers, json=json, data=data, timeout=httpx.Timeout(timeout)
        ) as response:
            body = _read_body(response, deadline, host)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return Answer(host, response.status_code, body, retry_after)
    except httpx.TimeoutException:
        raise HttpFailure("timeout", f"{host} did not answer within {timeout:g} s") from None
    except httpx.DecodingError:
        raise HttpFailure("malformed", f"{host} sent a body that cannot be decoded") from None
    except httpx.TransportError as exc:
        raise HttpFailure("network", f"cannot reach {host} ({type(exc).__name__})") from None


def json_of(answer: Answer) -> Any:
    """The answer's JSON; ``HttpFailure`` for an error status or a body that is not JSON."""
    if answer.status >= 400:
        raise HttpFailure(
            "http",
            f"{answer.host} answered HTTP {answer.status}",
            status=answer.status,
            retry_after=answer.retry_after,
        )
    try:
        return msgspec.json.decode(answer.body)
    except msgspec.DecodeError:
        raise HttpFailure(
            "malformed",
            f"{answer.host} answered HTTP {answer.status} with {len(answer.body)} bytes that "
            "are not complete JSON",
            status=answer.status,
        ) from None


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json: Any = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Any:
    """Send one request and decode its JSON answer, all within ``timeout`` seconds."""
    return json_of(exchange(client, method, url, headers=headers, json=json, timeout=timeout))


def _read_body(response: httpx.Response, deadline: float, host: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HttpFailure(
                "malformed", f"{host} sent more than {MAX_BODY_BYTES} bytes; not a usage answer"
            )
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline")
    return b"".join(chunks)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date; ``None`` if absent or odd."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def new_client() -> httpx.Client:
    """A client that never follows redirects: a redirect could carry the token elsewhere."""
    return httpx.Client(follow_redirects=False, http2=False)
