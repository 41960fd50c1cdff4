"""Domain errors to HTTP answers, in Litestar's error shape, decided once for the whole API."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.types import ExceptionHandlersMap

from takeamoment.domain.errors import (
    AlreadyExists,
    Forbidden,
    InvalidSchedule,
    InvalidTransition,
    NotBookable,
    NotFound,
    SchedulingConflict,
)


def _error(status_code: int, detail: str, extra: Any = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status_code": status_code, "detail": detail}
    if extra is not None:
        body["extra"] = extra
    return Response(content=body, status_code=status_code)


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


def _invalid(_: Request[Any, Any, Any], error: InvalidSchedule) -> Response[dict[str, Any]]:
    return _error(400, str(error))


exception_handlers: ExceptionHandlersMap = {
    SchedulingConflict: _conflict,
    InvalidTransition: _transition,
    AlreadyExists: _exists,
    NotFound: _not_found,
    Forbidden: _forbidden,
    NotBookable: _not_bookable,
    InvalidSchedule: _invalid,
}
