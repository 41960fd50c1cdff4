"""CSRF protection for what a browser session authenticates, and only for that.

Two checks, on every unsafe request (POST, PUT, PATCH, DELETE) a cookie could authenticate:

- **Same origin.** A browser says where a request comes from: ``Sec-Fetch-Site`` must be
  ``same-origin`` (or ``none``: the user's own action), and ``Origin``, when sent, must be the
  public URL's. This refuses what a token alone cannot: a page on another port of the same host
  or on a sibling subdomain is *same-site* — its cookies reach us — but not same-origin.
  ``Origin: null`` proves nothing either way: our pages' ``Referrer-Policy: no-referrer`` makes
  browsers send it on our own form posts, so the token decides those.
- **A token bound to the session.** The page's token is an HMAC of the session's id
  (``connection/session.py``); it must come back in the ``x-csrftoken`` header or a form's
  ``_csrf_token`` field. A token from another session, or from a cookie someone planted, fails;
  a sign-in starts a new session and so a new token. Before signing in (the sign-in form), the
  token is bound to a random value in its own cookie instead.

Litestar's ``CSRFMiddleware`` is a double-submit cookie with no tie to the session: a sibling
origin that sets its own cookie and token passes it. So this is ours. It runs only where a
cookie could be what authenticates — every page under ``/host`` and ``/me``, and any request
that carries the session cookie and no ``Authorization`` header, except the one-click links of
mails under ``/mail/``, which a signed token in the path authenticates. Bearer-token clients are
never asked: a browser never adds an ``Authorization`` header to a forged request on its own.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from takeamoment import urls
from takeamoment.connection.session import SessionCookies

CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"
HOST_PAGES_PREFIX = urls.HOST
# A person's own pages: their sign-in form (with a pre-sign-in token) and the page's forms.
PERSON_PAGES_PREFIX = urls.ME
# One-click links from mails and followers' unfollow links: the signed token in the path is
# what authenticates, never a cookie, and a mail client's List-Unsubscribe-Post comes from no
# page at all.
SIGNED_LINK_PREFIXES = (urls.MAIL_PREFIX, urls.FOLLOWS_PREFIX)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})
_FORMS = {RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART}

AnyRequest = Request[Any, Any, Any]


class CrossOriginRefused(PermissionDeniedException):
    """403: a browser sent this from a page of another origin."""


class CsrfTokenRefused(PermissionDeniedException):
    """403: the CSRF token is missing or belongs to another session."""


def needs_csrf(scope: Scope, cookies: SessionCookies) -> bool:
    """True for requests a browser session may be what authenticates (see the module doc)."""
    path: str = scope["path"]
    for prefix in (HOST_PAGES_PREFIX, PERSON_PAGES_PREFIX):
        if path == prefix or path.startswith(prefix + "/"):
            return True
    if path.startswith(SIGNED_LINK_PREFIXES):
        return False
    request: AnyRequest = Request(scope)
    return "authorization" not in request.headers and cookies.session_name in request.cookies


def cross_origin_refusal(request: AnyRequest, public_origin: str) -> str | None:
    """Why a browser's unsafe request did not come from our own pages, or None if it did."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in SAME_ORIGIN_SITES:
        return (
            f"cross-origin request refused: it came from another origin ({site}); "
            f"use the pages at {public_origin}"
        )
    origin = request.headers.get("origin")
    if origin is not None and origin != "null" and origin != public_origin:
        return (
            f"cross-origin request refused: Origin {origin} is not this site "
            f"({public_origin}); use the pages at {public_origin}"
        )
    return None


class SessionCsrfMiddleware:
    """Checks origin and session-bound token for the requests :func:`needs_csrf` picks, and
    hands templates their token (``csrf_token()``)."""

    def __init__(self, app: ASGIApp, cookies: SessionCookies) -> None:
        self.app = app
        self.cookies = cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not needs_csrf(scope, self.cookies):
            await self.app(scope, receive, send)
            return
        request: AnyRequest = scope["litestar_app"].request_class(scope, receive)
        binding, new_cookie = self._binding(request)
        expected = self.cookies.csrf_token(binding)
        ScopeState.from_scope(scope).csrf_token = expected
        if request.method in SAFE_METHODS:
            await self.app(scope, receive, _with_cookie(send, new_cookie))
            return
        refusal = cross_origin_refusal(request, self.cookies.settings.public_origin)
        if refusal is not None:
            raise CrossOriginRefused(detail=refusal)
        sent = await _sent_token(request)
        if new_cookie is not None or not sent or not hmac.compare_digest(sent, expected):
            raise CsrfTokenRefused(
                detail="CSRF token missing or not valid for this session: reload the page "
                "and try again"
            )
        await self.app(scope, receive, send)

    def _binding(self, request: AnyRequest) -> tuple[str, str | None]:
        """What the token is bound to: the signed-in session, or else the pre-sign-in value
        (a new one, with its Set-Cookie header, when the browser has none yet)."""
        value = request.cookies.get(self.cookies.session_name)
        session_id = self.cookies.session_id_of(value) if value else None
        if session_id is not None:
            return f"session:{session_id}", None
        pre_sign_in = request.cookies.get(self.cookies.csrf_name)
        if pre_sign_in and len(pre_sign_in) >= 32:
            return f"pre:{pre_sign_in}", None
        pre_sign_in, cookie = self.cookies.csrf_cookie()
        return f"pre:{pre_sign_in}", cookie.to_header(header="")


async def _sent_token(request: AnyRequest) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if not token and request.content_type[0] in _FORMS:
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    return token or None


def _with_cookie(send: Send, cookie_header: str | None) -> Send:
    if cookie_header is None:
        return send

    async def send_with_cookie(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableScopeHeaders.from_message(message).add("set-cookie", cookie_header)
        await send(message)

    return send_with_cookie
