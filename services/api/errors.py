"""The api's one error shape, ``{"error": "<one sentence: what is wrong and the fix>"}``, with
the HTTP status saying which kind of error it is.

Every refusal uses it: the guard's 401/403 (``services.api.guard``), Litestar's own 404, 405
and parameter errors, the routes' 400/404/503 (``ApiError``), a damaged database's 503 and any
bug's 500. The handlers below are Litestar ``exception_handlers`` for the whole app, and
``error_responses`` documents the same shape for each route in the OpenAPI document (in place of
Litestar's ``{"status_code", "detail", "extra"}`` schema, which the api never sends).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.openapi import ResponseSpec
from litestar.types import ExceptionHandlersMap

from services.store.trouble import DAMAGED, classify, describe

RETRY_AFTER_SECONDS = 2
INTERNAL = "internal error: see the api's log (otm up --verbose, or its log file)"


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error answer of the api."""

    error: str
    """What is wrong and, where there is one, the fix; never a secret or a traceback."""


def error_body(message: str) -> bytes:
    """The JSON bytes of an error answer (for the guard, which answers below Litestar)."""
    return msgspec.json.encode(ErrorBody(message))


class ApiError(Exception):
    """A request that cannot be answered; the message is sent as ``{"error": ...}``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def _answer(
    status: int, message: str, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    return Response(ErrorBody(message), status_code=status, headers=headers or {})


def error_response(request: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorBody]:
    """Render an ``ApiError``, telling clients when to retry a 503."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.status_code == 503 else {}
    return _answer(exc.status_code, str(exc), headers)


def http_error_response(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Litestar's own answers (unknown route, wrong method, bad parameter) in the one shape,
    each saying what to do; a 405 keeps its ``Allow`` header."""
    if exc.status_code >= 500:
        return internal_error_response(request, exc)
    headers = dict(exc.headers or {})
    return _answer(exc.status_code, _litestar_message(request, exc, headers), headers)


def _litestar_message(
    request: Request[Any, Any, Any], exc: HTTPException, headers: dict[str, str]
) -> str:
    path = request.scope.get("path", "")
    if isinstance(exc, ValidationException):
        # Litestar's own text repeats the whole URL, query string (a ?token=) and all.
        return f"bad request to {path}: {_describe_extra(exc.extra)}"
    if isinstance(exc, MethodNotAllowedException):
        return f"{request.method} is not allowed on {path}: use {headers.get('allow', 'GET')}"
    if isinstance(exc, NotFoundException) and exc.detail == HTTPStatus.NOT_FOUND.phrase:
        return f"no route {path}: the routes are listed at /schema"
    return str(exc.detail)


def _describe_extra(extra: Any) -> str:
    """``key: message`` for each of Litestar's validation findings, else the value as text."""
    if not extra:
        return "the request does not match the API (see /schema)"
    if isinstance(extra, list) and all(isinstance(e, dict) for e in extra):
        return "; ".join(f"{e.get('key', '?')}: {e.get('message', '')}".rstrip(": ") for e in extra)
    return str(extra)


def internal_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A bug, in the one shape; the details go to the log (``services.api.app``)."""
    return _answer(500, INTERNAL)


def database_error_handler(
    db_path: Path,
) -> Callable[[Request[Any, Any, Any], sqlite3.DatabaseError], Response[ErrorBody]]:
    """The answer for a damaged database (or a full disk) wherever a query meets it: 503 with
    the one sentence naming the file and the fix; any other database error is a bug (500)."""

    def database_error_response(
        request: Request[Any, Any, Any], exc: sqlite3.DatabaseError
    ) -> Response[ErrorBody]:
        kind = classify(exc)
        if kind is None:
            return internal_error_response(request, exc)
        headers = {} if kind == DAMAGED else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return _answer(503, describe(kind, db_path, exc), headers)

    return database_error_response


def exception_handlers(db_path: Path) -> ExceptionHandlersMap:
    """Litestar's ``exception_handlers`` for the whole app: every error in the one shape."""
    return {
        ApiError: error_response,
        HTTPException: http_error_response,
        sqlite3.DatabaseError: database_error_handler(db_path),
        Exception: internal_error_response,
    }


ERROR_MEANINGS = {
    400: "a query parameter is missing its form or range; the error names it and the fix",
    401: "the api cannot tell who asks: send its token (`otm api token`) as a bearer token",
    403: "refused: another user, or a page of another site (Host/Origin)",
    404: "no such report kind",
    500: "a bug; the api's log has the details",
    503: "no database yet, or it is damaged or its disk full; the error says which and the fix",
}
ALWAYS = (401, 403, 500)
"""What any route may answer, before or whatever its handler does."""


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The OpenAPI entries of a route's possible errors: ``statuses`` plus ``ALWAYS``."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description=ERROR_MEANINGS.get(status, HTTPStatus(status).phrase),
            generate_examples=False,
        )
        for status in sorted({*statuses, *ALWAYS})
    }
