"""Role guards for HTTP routes, and the principal as a dependency.

Who is calling comes from ``connection/credentials.py``: a bearer token, else a browser session
cookie, the host console's or a person's own page's (``connection/session.py``; such requests
must also pass the CSRF check of ``web/csrf.py``). Guards answer 401 when no valid token came and
403 when the role is wrong. Failed bearer tokens count against the caller's address
(``connection/auth_limits.py``): once it has failed too often, a request that carries a token is
answered 429 until the window passes.
"""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from takeamoment.connection.credentials import bearer_token, principal_of
from takeamoment.connection.session import has_session_cookie
from takeamoment.services.auth import Principal

# A handler's ``opt`` key: a public read inside a controller whose routes are the host's.
PUBLIC = "public"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="takeamoment"'}


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
