"""CSRF protection for what a browser session authenticates, and only for that.

Litestar's ``CSRFMiddleware`` (a double-submit token: a cookie, and the same token in the
``x-csrftoken`` header or a form's ``_csrf_token`` field) guards every request it sees. Run on
every request it would break API clients that send a bearer token and hold no cookie — they
cannot be forged cross-site anyway, since a browser never adds an ``Authorization`` header on
its own. So it runs only where a cookie could be what authenticates:

- every page under ``/host`` (the sign-in and sign-out forms, and the console, whose page is
  where the token is handed to the console's script in a ``<meta>`` tag);
- any request that carries the session cookie and no ``Authorization`` header.

The token's cookie is HttpOnly and SameSite=Strict; scripts read the token from the page.
"""

from __future__ import annotations

from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from takeamoment.web.session import SESSION_COOKIE, SessionCookies

CSRF_COOKIE = "tam_csrf"
CSRF_HEADER = "x-csrftoken"
HOST_PAGES_PREFIX = "/host"


def needs_csrf(scope: Scope) -> bool:
    """True for requests a browser session may be what authenticates (see the module doc)."""
    path: str = scope["path"]
    if path == HOST_PAGES_PREFIX or path.startswith(HOST_PAGES_PREFIX + "/"):
        return True
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
    return "authorization" not in connection.headers and SESSION_COOKIE in connection.cookies


class SessionCsrfMiddleware:
    """Litestar's CSRF middleware, for the requests :func:`needs_csrf` picks."""

    def __init__(self, app: ASGIApp, cookies: SessionCookies) -> None:
        self.app = app
        self.cookies = cookies
        self._csrf: CSRFMiddleware | None = None

    def _checked(self) -> CSRFMiddleware:
        # Built on first use: the secret is resolved when a request needs it, not at start-up.
        if self._csrf is None:
            config = CSRFConfig(
                secret=self.cookies.csrf_secret(),
                cookie_name=CSRF_COOKIE,
                header_name=CSRF_HEADER,
                cookie_httponly=True,
                cookie_samesite="strict",
                cookie_secure=self.cookies.secure,
            )
            self._csrf = CSRFMiddleware(self.app, config)
        return self._csrf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] == ScopeType.HTTP and needs_csrf(scope):
            await self._checked()(scope, receive, send)
        else:
            await self.app(scope, receive, send)
