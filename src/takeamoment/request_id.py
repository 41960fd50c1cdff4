"""The id of the request being served, for every log line it causes and every 5xx it gets.

An incoming ``X-Request-ID`` is kept when it is sane (a proxy's or a client's id then joins our
logs to theirs); anything else is replaced by a fresh one. The id lives in a context variable:
each request runs in its own task, so the id follows it into handlers, services and logging
without being passed around.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

HEADER = "x-request-id"
# Letters, digits and a few separators, as UUIDs, W3C trace ids and most proxies' ids are; never
# a space, quote or control character that could forge a log line or a header.
_SANE = re.compile(r"[A-Za-z0-9._:@+/=-]{1,128}")

_current: ContextVar[str | None] = ContextVar("takeamoment_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request this code runs for, or None outside a request."""
    return _current.get()


def choose_request_id(incoming: str | None) -> str:
    """``incoming`` if it is sane, else a new random id."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def bind_request_id(request_id: str) -> Token[str | None]:
    """Make ``request_id`` current; pass the result to :func:`unbind_request_id` afterwards."""
    return _current.set(request_id)


def unbind_request_id(binding: Token[str | None]) -> None:
    _current.reset(binding)
