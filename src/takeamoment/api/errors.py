"""Domain errors to HTTP answers, in Litestar's error shape, decided once for the whole API.

The ``*_ERRORS`` lists feed the handlers' ``raises=``, so that the OpenAPI document lists every
status code a route can answer (schemathesis checks it: ``tests/e2e/test_schema_fuzz.py``).

Every 5xx body carries the request's id in ``extra.request_id`` (the same as the ``X-Request-ID``
header), and every exception nothing else maps is logged with its traceback and that id, then
answered 500 without a trace of it (unless ``debug``).
"""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Any

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_410_GONE, HTTP_422_UNPROCESSABLE_ENTITY
from litestar.types import ExceptionHandlersMap
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc

from takeamoment.db.engine import sqlstate_of
from takeamoment.domain.errors import (
    AlreadyExists,
    Forbidden,
    Gone,
    InUse,
    InvalidDocument,
    InvalidSchedule,
    InvalidTransition,
    NotBookable,
    NotFound,
    SchedulingConflict,
    StalePreview,
)
from takeamoment.request_id import current_request_id
from takeamoment.services.outbound import OutboundRefused

logger = logging.getLogger(__name__)


def _error(status_code: int, detail: str, extra: Any = None) -> Response[dict[str, Any]]:
    if status_code >= 500:  # the id that finds this request's log lines
        extra = {**(extra or {}), "request_id": current_request_id()}
    body: dict[str, Any] = {"status_code": status_code, "detail": detail}
    if extra is not None:
        body["extra"] = extra
    return Response(content=body, status_code=status_code)


class ConflictDoc(ClientException):
    """Documents a 409: a scheduling conflict (``extra`` lists kinds and ids) or a duplicate."""

    status_code = HTTP_409_CONFLICT
    detail = "Scheduling conflict or duplicate"


class NotBookableDoc(ClientException):
    """Documents a 422: the person cannot take this role (e.g. no valid licence)."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY
    detail = "Not bookable"


class RefusedUrlDoc(ClientException):
    """Documents a 422: a URL we will not send to (not https, or not a public address)."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY
    detail = "URL refused"


AUTH_ERRORS: list[type[HTTPException]] = [
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
]
"""A guarded route: 401 without a valid token, 403 with the wrong role or someone else's id, 429
after too many failed tokens from one address (``connection/auth_limits.py``)."""


class GoneDoc(ClientException):
    """Documents a 410: the address was retired on purpose (a rotated feed URL)."""

    status_code = HTTP_410_GONE
    detail = "Gone"


NOT_FOUND_ERRORS: list[type[HTTPException]] = [NotFoundException]
"""A route whose path names a thing that may not exist (or that the caller may not see)."""
BODY_ERRORS: list[type[HTTPException]] = [RequestEntityTooLarge]
"""A route that reads a body (over ``max_body_bytes`` it is a 413)."""
CONFLICT_ERRORS: list[type[HTTPException]] = [ConflictDoc]
BOOKING_ERRORS: list[type[HTTPException]] = [ConflictDoc, NotBookableDoc]


def _conflict(_: Request[Any, Any, Any], error: SchedulingConflict) -> Response[dict[str, Any]]:
    return _error(409, str(error), [c.as_dict() for c in error.conflicts])


def _transition(_: Request[Any, Any, Any], error: InvalidTransition) -> Response[dict[str, Any]]:
    return _error(409, str(error), [error.conflict.as_dict()])


def _stale(_: Request[Any, Any, Any], error: StalePreview) -> Response[dict[str, Any]]:
    found = {**error.conflict.as_dict(), "seq": error.seq, "preview": dict(error.preview)}
    return _error(409, str(error), [found])


def _exists(_: Request[Any, Any, Any], error: AlreadyExists) -> Response[dict[str, Any]]:
    return _error(409, str(error))


def _invalid_document(
    _: Request[Any, Any, Any], error: InvalidDocument
) -> Response[dict[str, Any]]:
    return _error(400, str(error), error.problems)


def _in_use(_: Request[Any, Any, Any], error: InUse) -> Response[dict[str, Any]]:
    return _error(409, str(error))


def _not_found(_: Request[Any, Any, Any], error: NotFound) -> Response[dict[str, Any]]:
    return _error(404, str(error))


def _gone(_: Request[Any, Any, Any], error: Gone) -> Response[dict[str, Any]]:
    return _error(410, str(error))


def _forbidden(_: Request[Any, Any, Any], error: Forbidden) -> Response[dict[str, Any]]:
    return _error(403, str(error))


def _not_bookable(_: Request[Any, Any, Any], error: NotBookable) -> Response[dict[str, Any]]:
    return _error(422, str(error))


def _refused_url(_: Request[Any, Any, Any], error: OutboundRefused) -> Response[dict[str, Any]]:
    return _error(422, str(error))


def _invalid(_: Request[Any, Any, Any], error: InvalidSchedule) -> Response[dict[str, Any]]:
    return _error(400, str(error))


def http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own errors (validation, auth, 404, 405, 413, 429...) in the same shape, always
    labelled JSON: Litestar's default would take the route's media type (``text/calendar`` on a
    feed) for a JSON body."""
    server_side = error.status_code >= 500  # never leak an internal detail
    response = _error(
        error.status_code,
        "Internal Server Error" if server_side else error.detail,
        None if server_side else error.extra,
    )
    response.headers.update(error.headers or {})
    response.media_type = MediaType.JSON
    return response


def _body_too_large(
    request: Request[Any, Any, Any], error: RequestEntityTooLarge
) -> Response[dict[str, Any]]:
    """413 naming the limit (``max_body_bytes``, or a route's own)."""
    limit = request.route_handler.resolve_request_max_body_size()
    detail = f"request body too large: the limit is {limit} bytes"
    return http_error(request, RequestEntityTooLarge(detail=detail))


def _validation(request: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    """A 400 for bad input. Errors found by a body's pydantic model (the only pydantic-typed
    parameter our routes take) say ``source: "body"``: Litestar leaves it out for them, or
    says ``path`` when the body's field shares a path parameter's name (a channel's ``slug``).
    A field the model does not know is named in the message."""
    model_errors = getattr(error.__cause__, "errors", None)
    if isinstance(model_errors, list) and isinstance(error.extra, list):
        error.extra = [
            _body_error(message, detail)
            for message, detail in zip(error.extra, model_errors, strict=False)
        ]
    return http_error(request, error)


def _body_error(message: Any, model_error: Any) -> Any:
    if not isinstance(message, dict):
        return message
    message = {**message, "source": "body"}
    if isinstance(model_error, dict) and model_error.get("type") == "extra_forbidden":
        message["message"] = f"unknown field {message.get('key', '')!r}"
    return message


# A store is out of reach (restarting, refusing connections, the pool exhausted): a 503 that
# says "try again", never a 500. Only errors that mean the connection to PostgreSQL, SQLite or
# Redis is gone or cannot be made: a PermissionError or a bug is a 500 that must be seen.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the connection pool is exhausted
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    redis_exc.ConnectionError,  # e.g. Redis-backed limits while Redis restarts
    redis_exc.TimeoutError,
)
# Raised bare (not wrapped by SQLAlchemy) when a connection cannot be made: a store's only when
# raised from inside its client's code.
CONNECTING_ERRORS: tuple[type[OSError], ...] = (ConnectionError, TimeoutError, socket.gaierror)
_STORE_CLIENTS = frozenset({"asyncpg", "sqlalchemy", "aiosqlite", "redis"})
# SQLSTATE classes that mean the connection is gone: 08 connection exception, 57P admin or
# crash shutdown, "cannot connect now".
_CONNECTION_SQLSTATE_PREFIXES = ("08", "57P")
# SQLite's own "try again": another process holds the write lock past the busy timeout.
_SQLITE_TRANSIENT = ("database is locked", "unable to open database file")
RETRY_AFTER_S = 2
logger = logging.getLogger(__name__)


def raised_by_store_client(error: BaseException) -> bool:
    """True when the error was raised from inside a database or Redis client's own code."""
    frames = traceback.walk_tb(error.__traceback__)
    return any(
        str(frame.f_globals.get("__name__", "")).split(".", 1)[0] in _STORE_CLIENTS
        for frame, _ in frames
    )


def _unavailable(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    logger.warning("answered 503, store unavailable: %r", error)
    response = _error(503, "a store this service needs is unavailable; retry shortly")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _unhandled(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """Anything no other handler maps: logged with its traceback, answered 500 with the id."""
    request_id = current_request_id()
    route = request.scope.get("path_template") or request.scope["path"]
    logger.error(
        "unhandled %s in %s %s (request id %s)",
        type(error).__name__,
        request.method,
        route,
        request_id,
        exc_info=error,
        extra={"method": request.method, "route": route},
    )
    extra = None
    if request.app.debug:  # tests and local debugging only: the trace in the answer
        extra = {"traceback": traceback.format_exception(error)}
    return _error(500, "Internal Server Error", extra)


def _connecting(request: Request[Any, Any, Any], error: OSError) -> Response[dict[str, Any]]:
    """A refused or timed-out connection: 503 from a store's client, a 500 from anything else."""
    if raised_by_store_client(error):
        return _unavailable(request, error)
    return _unhandled(request, error)


def connection_is_gone(error: sa_exc.DBAPIError) -> bool:
    """Does this driver error mean the connection is lost or cannot be made (retry), not a bug?"""
    if error.connection_invalidated:
        return True
    sqlstate = sqlstate_of(error) or ""
    if sqlstate.startswith(_CONNECTION_SQLSTATE_PREFIXES):
        return True
    if isinstance(error.orig, (asyncpg.PostgresConnectionError, *CONNECTING_ERRORS)):
        return True
    message = str(error.orig).lower()
    is_operational = isinstance(error, sa_exc.OperationalError)
    return is_operational and any(text in message for text in _SQLITE_TRANSIENT)


def _database_error(request: Request[Any, Any, Any], error: sa_exc.DBAPIError) -> Response[Any]:
    """A driver error: 503 when the connection is gone or busy, else a plain 500."""
    if connection_is_gone(error):
        return _unavailable(request, error)
    return _unhandled(request, error)


exception_handlers: ExceptionHandlersMap = {
    HTTPException: http_error,
    RequestEntityTooLarge: _body_too_large,
    ValidationException: _validation,
    SchedulingConflict: _conflict,
    InvalidTransition: _transition,
    StalePreview: _stale,
    AlreadyExists: _exists,
    InUse: _in_use,
    InvalidDocument: _invalid_document,
    NotFound: _not_found,
    Gone: _gone,
    Forbidden: _forbidden,
    NotBookable: _not_bookable,
    InvalidSchedule: _invalid,
    OutboundRefused: _refused_url,
    **dict.fromkeys(UNAVAILABLE_ERRORS, _unavailable),
    **dict.fromkeys(CONNECTING_ERRORS, _connecting),
    sa_exc.DBAPIError: _database_error,
    Exception: _unhandled,
}
