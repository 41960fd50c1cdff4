"""Domain errors to HTTP answers, in Litestar's error shape, decided once for the whole API.

The ``*_ERRORS`` lists feed the handlers' ``raises=``, so that the OpenAPI document lists every
status code a route can answer (schemathesis checks it: ``tests/e2e/test_schema_fuzz.py``).
"""

from __future__ import annotations

import logging
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
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY
from litestar.types import ExceptionHandlersMap
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc

from takeamoment.domain.errors import (
    AlreadyExists,
    Forbidden,
    InvalidSchedule,
    InvalidTransition,
    NotBookable,
    NotFound,
    SchedulingConflict,
)
from takeamoment.services.outbound import OutboundRefused


def _error(status_code: int, detail: str, extra: Any = None) -> Response[dict[str, Any]]:
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
after too many failed tokens from one address (``api/auth_limits.py``)."""
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


def _exists(_: Request[Any, Any, Any], error: AlreadyExists) -> Response[dict[str, Any]]:
    return _error(409, str(error))


def _not_found(_: Request[Any, Any, Any], error: NotFound) -> Response[dict[str, Any]]:
    return _error(404, str(error))


def _forbidden(_: Request[Any, Any, Any], error: Forbidden) -> Response[dict[str, Any]]:
    return _error(403, str(error))


def _not_bookable(_: Request[Any, Any, Any], error: NotBookable) -> Response[dict[str, Any]]:
    return _error(422, str(error))


def _refused_url(_: Request[Any, Any, Any], error: OutboundRefused) -> Response[dict[str, Any]]:
    return _error(422, str(error))


def _invalid(_: Request[Any, Any, Any], error: InvalidSchedule) -> Response[dict[str, Any]]:
    return _error(400, str(error))


def _http(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
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


# A store is out of reach (restarting, refusing connections, the pool exhausted): a 503 that
# says "try again", never a 500. Per DB-API, OperationalError is exactly "the database's operation"
# failing, e.g. an unexpected disconnect; OSError covers refused connections and timeouts.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    redis_exc.ConnectionError,  # e.g. Redis-backed limits while Redis restarts
    redis_exc.TimeoutError,
    OSError,
)
RETRY_AFTER_S = 2


def _unavailable(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    logging.getLogger(__name__).warning("answered 503, store unavailable: %r", error)
    response = _error(503, "a store this service needs is unavailable; retry shortly")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _database_error(request: Request[Any, Any, Any], error: sa_exc.DBAPIError) -> Response[Any]:
    """A driver error: 503 when it was the connection dying mid-query, else a plain 500."""
    if error.connection_invalidated:
        return _unavailable(request, error)
    logging.getLogger(__name__).error("database error", exc_info=error)
    return _error(500, "Internal Server Error")


exception_handlers: ExceptionHandlersMap = {
    HTTPException: _http,
    SchedulingConflict: _conflict,
    InvalidTransition: _transition,
    AlreadyExists: _exists,
    NotFound: _not_found,
    Forbidden: _forbidden,
    NotBookable: _not_bookable,
    InvalidSchedule: _invalid,
    OutboundRefused: _refused_url,
    **dict.fromkeys(UNAVAILABLE_ERRORS, _unavailable),
    sa_exc.DBAPIError: _database_error,
}
