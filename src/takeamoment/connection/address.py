"""The peer address: what every per-address limit counts by.

It is the ASGI client's host. ``takeamoment serve`` lets uvicorn replace it from
``X-Forwarded-For`` only for connections from ``TAKEAMOMENT_FORWARDED_ALLOW_IPS`` (empty by
default: never), so no client can choose the address it is counted as. The request limit
(``api/limits.py``), the WebSocket limit (``realtime/limits.py``) and failed sign-ins
(``connection/auth_limits.py``) all count by it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar.types import Scope


def peer_address(scope: Scope) -> str:
    """The client's address as the server saw it: what every per-address limit counts by."""
    client = scope.get("client")
    return client[0] if client else "unknown"
