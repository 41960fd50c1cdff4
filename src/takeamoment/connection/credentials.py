"""Who is calling on a connection: a bearer token, else the host console's session cookie.

The principal is resolved once per connection and cached on its state; anonymous callers get
``None``. HTTP guards (``api/auth.py``), the console's pages (``web/host.py``) and the
WebSockets (``realtime/ws.py``) all ask here. Failed bearer tokens count against the caller's
address (``connection/auth_limits.py``).
"""

from __future__ import annotations

from litestar.connection import ASGIConnection

from takeamoment.connection.auth_limits import authenticate_attempt
from takeamoment.connection.session import session_principal
from takeamoment.services.auth import Principal

_CACHE_KEY = "takeamoment_principal"


def bearer_token(connection: ASGIConnection) -> str | None:  # type: ignore[type-arg]
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def principal_of(connection: ASGIConnection) -> Principal | None:  # type: ignore[type-arg]
    """Who is calling, or None for an anonymous viewer (or an unknown token or session).

    A bearer token always wins: a request that carries one never falls back to the cookie.
    Raises TooManyAuthFailures (429) for a token from an address that failed too often.
    """
    state = connection.state
    if _CACHE_KEY not in state:
        token = bearer_token(connection)
        state[_CACHE_KEY] = (
            await authenticate_attempt(connection, token)
            if token
            else await session_principal(connection)
        )
    principal: Principal | None = state[_CACHE_KEY]
    return principal
