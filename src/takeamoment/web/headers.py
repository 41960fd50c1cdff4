"""Security headers on every HTTP response of a route: pages, /static, the API and the feeds.

The pages hold no inline script or style, so the Content-Security-Policy allows only our own
files; ``connect-src`` names ``ws:``/``wss:`` of ``public_url`` explicitly (browsers before CSP
level 3 do not let ``'self'`` cover WebSockets). No site may frame us, and no URL leaves in a
``Referer``: a person's page links to their feed, whose URL is its secret. A header the route
set itself wins, and the API reference (``/schema``) is under the same CSP: its viewer is served
from our own files (``web/openapi.py``). Answers made before routing (an unknown path's 404)
carry none.

``Cache-Control: no-store`` goes on every answer under ``/api`` to a request that carries
credentials (a bearer token or the session cookie) and on every host page and person's page
(``/me``), replacing whatever the route said: such answers hold secrets (a new person's token
and feed URL, private fields, the audit log) that no browser cache or proxy may keep. Deciding
it here, once, means a new route cannot forget it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from takeamoment import urls
from takeamoment.connection.session import SESSION_COOKIE, cookie_name
from takeamoment.settings import Settings

NO_STORE = (b"cache-control", b"no-store")

Headers = list[tuple[bytes, bytes]]


def content_security_policy(settings: Settings) -> str:
    host = urlsplit(settings.public_url).netloc
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "img-src 'self' data:",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


def security_headers(settings: Settings) -> tuple[Headers, Headers]:
    """(headers for every response, the CSP header)."""
    common = {
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    csp = [(b"content-security-policy", content_security_policy(settings).encode())]
    return [(k.encode(), v.encode()) for k, v in common.items()], csp


def _carries_credentials(scope: Scope, session_cookie: bytes) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and session_cookie in value):
            return True
    return False


def must_not_be_stored(scope: Scope, session_cookie: bytes) -> bool:
    """Host and person pages, and ``/api`` answers to a request with credentials (see the
    module doc)."""
    path: str = scope["path"]
    for pages in (urls.HOST, urls.ME):
        if path == pages or path.startswith(pages + "/"):
            return True
    return path.startswith("/api/") and _carries_credentials(scope, session_cookie)


class SecurityHeaders(ASGIMiddleware):
    """Adds :func:`security_headers` to each response start, keeping any the route set, and
    ``Cache-Control: no-store`` where :func:`must_not_be_stored` says so."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings) -> None:
        self.common, self.csp = security_headers(settings)
        self.session_cookie = cookie_name(settings, SESSION_COOKIE).encode() + b"="

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        extra = self.common + self.csp
        no_store = must_not_be_stored(scope, self.session_cookie)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if no_store:
                    headers = [h for h in headers if h[0].lower() != NO_STORE[0]] + [NO_STORE]
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await next_app(scope, receive, send_with_headers)
