"""JSON request bodies that are not UTF-8 or nest too deep are a 400, never a 500.

Litestar decodes bodies with msgspec and turns its ``DecodeError`` into a 400, but a string that
is not UTF-8 raises ``UnicodeDecodeError`` and deep nesting ``RecursionError``, which it lets
through as 500s. :class:`JsonRequest` (the app's ``request_class``) answers both with a 400 that
says what was wrong, and refuses anything nested deeper than :data:`MAX_JSON_DEPTH` — far more
than any of our bodies needs, and far less than what would exhaust a recursive validator.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

MAX_JSON_DEPTH = 32
NOT_UTF8 = "the request body is not valid UTF-8 JSON"
TOO_DEEP = f"the JSON body nests too deep: at most {MAX_JSON_DEPTH} levels of arrays and objects"


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether the arrays and objects of ``value`` (an array or an object) nest more than
    ``limit`` levels; a loop, not recursion, so the check cannot fail the way it guards against."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, whose :meth:`json` refuses bodies it cannot safely decode."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except UnicodeDecodeError as error:
            raise ClientException(detail=NOT_UTF8) from error
        except RecursionError as error:
            raise ClientException(detail=TOO_DEEP) from error
        if isinstance(value, dict | list) and nests_deeper_than(value, MAX_JSON_DEPTH):
            raise ClientException(detail=TOO_DEEP)
        return value
