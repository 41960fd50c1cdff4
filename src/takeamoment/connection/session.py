"""Browser session cookies: a signed name of a server-side session, and the CSRF token bound to it.

The cookie holds nothing secret — the id of an ``auth_session`` row (``services/sessions.py``)
and an expiry, signed with HMAC-SHA256 under a key derived from the app's secret — so a forged
or altered cookie names nobody without a query. The row decides the rest: signing out ends it
for every copy of the cookie, and revoking the token it was opened with ends it too.

The CSRF token of a page is an HMAC of that session's id (``web/csrf.py`` checks it), so a
token is good for one session only and a new one comes with every sign-in. Before signing in,
the sign-in form's token is bound the same way to a random value in its own cookie.

When the public URL is HTTPS both cookies are ``Secure`` and carry the ``__Host-`` prefix, which
browsers only accept from the very origin, over HTTPS, for the whole site: a sibling subdomain or
plain-HTTP page cannot plant or overwrite them (Litestar's encrypted ``CookieBackendConfig``
would need the ``cryptography`` package; nothing in the cookie is secret, so a signature is what
it needs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State

from takeamoment.db.engine import Database
from takeamoment.services.auth import Principal
from takeamoment.services.sessions import session_principal as open_session_principal
from takeamoment.settings import Settings

SESSION_COOKIE = "tam_session"
CSRF_COOKIE = "tam_csrf"
HOST_PREFIX = "__Host-"
SESSION_MAX_AGE_S = 12 * 3600  # one long event day; then the host signs in again
# A creator or therapist cannot sign in again on their own (a host sends each link), and their
# page matters most over the days before their sessions: two weeks, unless they sign out.
PERSON_SESSION_MAX_AGE_S = 14 * 24 * 3600
_STATE_KEY = "web_session"
# Keys derived from the one secret, one per purpose, so a value signed for one use is never
# accepted for another. The purposes still say "web/" (this module lived there): a new
# purpose would sign every host out.
_SESSION_PURPOSE = b"takeamoment/web/session-cookie/v2"
_CSRF_PURPOSE = b"takeamoment/web/csrf/v2"


def cookie_name(settings: Settings, name: str) -> str:
    """``name``, with the ``__Host-`` prefix when the public URL is HTTPS."""
    return HOST_PREFIX + name if settings.public_url.startswith("https://") else name


def derive_key(secret: str, purpose: bytes) -> bytes:
    """A key for one purpose, from the app's secret."""
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class SessionCookies:
    """Issues and reads the session and CSRF cookies; the secret is resolved on first use."""

    settings: Settings
    max_age_s: int = SESSION_MAX_AGE_S
    _keys: tuple[bytes, bytes] | None = field(default=None, init=False, repr=False)

    @property
    def secure(self) -> bool:
        """``Secure`` cookies whenever the public URL is HTTPS (browsers drop them over HTTP)."""
        return self.settings.public_url.startswith("https://")

    @property
    def session_name(self) -> str:
        return cookie_name(self.settings, SESSION_COOKIE)

    @property
    def csrf_name(self) -> str:
        return cookie_name(self.settings, CSRF_COOKIE)

    def _key(self, index: int) -> bytes:
        if self._keys is None:
            secret = self.settings.resolved_secret_key()
            self._keys = (derive_key(secret, _SESSION_PURPOSE), derive_key(secret, _CSRF_PURPOSE))
        return self._keys[index]

    def _cookie(self, name: str, value: str, max_age: int | None) -> Cookie:
        return Cookie(
            key=name,
            value=value,
            max_age=max_age,
            expires=0 if max_age == 0 else None,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )

    def issue(
        self, session_id: str, now: float | None = None, max_age_s: int | None = None
    ) -> Cookie:
        """A cookie that names the session ``session_id`` for ``max_age_s`` (by default the
        host console's ``max_age_s``) from now."""
        lifetime = self.max_age_s if max_age_s is None else max_age_s
        expires = int((time.time() if now is None else now) + lifetime)
        payload = f"{session_id}.{expires}"
        value = f"{payload}.{_mac(self._key(0), payload)}"
        return self._cookie(self.session_name, value, lifetime)

    def cleared(self) -> list[Cookie]:
        """Cookies that make the browser forget its session and its pre-sign-in CSRF value."""
        return [self._cookie(self.session_name, "", 0), self._cookie(self.csrf_name, "", 0)]

    def session_id_of(self, value: str, now: float | None = None) -> str | None:
        """The session id a cookie names, or None when it is forged, altered or expired."""
        payload, _, signature = value.rpartition(".")
        session_id, _, expires = payload.partition(".")
        if not (session_id and expires.isdigit() and signature):
            return None
        if not hmac.compare_digest(signature, _mac(self._key(0), payload)):
            return None
        if int(expires) <= (time.time() if now is None else now):
            return None
        return session_id

    def csrf_token(self, binding: str) -> str:
        """The CSRF token for a session (``session:<id>``) or a pre-sign-in value."""
        return _mac(self._key(1), binding)

    def csrf_cookie(self) -> tuple[str, Cookie]:
        """A new pre-sign-in value and the cookie that keeps it."""
        value = secrets.token_urlsafe(32)
        return value, self._cookie(self.csrf_name, value, None)


def session_cookies(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionCookies | None:
    """The app's session cookies, or None in an app built without the web pages."""
    cookies = connection.app.state.get(_STATE_KEY)
    return cookies if isinstance(cookies, SessionCookies) else None


def install(state: State, cookies: SessionCookies) -> None:
    """Make ``cookies`` the app's, for :func:`session_cookies` to find."""
    state[_STATE_KEY] = cookies


def session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The id of the session the request's cookie names (signature and expiry checked)."""
    cookies = session_cookies(connection)
    if cookies is None:
        return None
    value = connection.cookies.get(cookies.session_name)
    return cookies.session_id_of(value) if value else None


def has_session_cookie(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    cookies = session_cookies(connection)
    return cookies is not None and bool(connection.cookies.get(cookies.session_name))


async def session_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """Who the request's session stands for, or None (no cookie, a bad one, an ended session).

    A request that carries an ``Authorization`` header is never authenticated by the cookie:
    such requests skip the CSRF check (``web/csrf.py``), so the cookie must not count for them.
    """
    if "authorization" in connection.headers:
        return None
    current = session_id(connection)
    if current is None:
        return None
    db: Database = connection.app.state.db
    return await open_session_principal(db, current)
