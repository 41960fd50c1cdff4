"""Bearer-token authentication and role guards.

The principal is resolved once per connection and cached on its state; anonymous callers get
``None``. A request without an ``Authorization`` header may instead be authenticated by a browser
session cookie, the host console's or a person's own page's (``web/session.py``; such requests
must also pass the CSRF check of ``web/csrf.py``). Guards answer 401 when no valid token came
and 403 when the role is wrong.
Failed bearer tokens count against the caller's address (``api/auth_limits.py``): once it has
failed too often, a request that carries a token is answered 429 until the window passes.
"""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from takeamoment.api.auth_limits import authenticate_attempt
from takeamoment.services.auth import Principal
from takeamoment.web.session import has_session_cookie, session_principal

_CACHE_KEY = "takeamoment_principal"
# A handler's ``opt`` key: a public read inside a controller whose routes are the host's.
PUBLIC = "public"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="takeamoment"'}


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


async def provide_principal(request: Request) -> Principal | None:  # type: ignore[type-arg]
    return await principal_of(request)


async def _require(connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
    principal = await principal_of(connection)
    if principal is None:
        if bearer_token(connection):
            detail = "a valid bearer token is required"
        elif has_session_cookie(connection):
            detail = (
                "your session has ended: hosts sign in again at /host/login, creators and "
                "therapists with a new sign-in link from their host"
            )
        else:
            detail = "missing Authorization: Bearer <token> header"
        raise NotAuthorizedException(detail=detail, headers=_CHALLENGE)
    return principal


async def authenticated(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """Any known token: a host, a creator or a therapist."""
    await _require(connection)


async def host_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """Only hosts run the schedule (a handler with ``opt={PUBLIC: True}`` is open to anyone)."""
    if handler.opt.get(PUBLIC):
        return
    if not (await _require(connection)).is_host:
        raise PermissionDeniedException(detail="this needs a host token")


async def provide_required_principal(request: Request) -> Principal:  # type: ignore[type-arg]
    return await _require(request)
