"""The host's browser session: a signed, HttpOnly, SameSite=Strict cookie naming a host token.

Litestar's ``CookieBackendConfig`` encrypts its sessions with ``cryptography``, which is not one
of our dependencies. Our cookie holds nothing secret — the id of the token's row and an expiry,
never the token — so what it needs is a signature: HMAC-SHA256 keyed from the app's secret. A
forged, altered or expired cookie names nobody, and revoking the token ends every session made
from it at the next request, because the row is read again each time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State

from takeamoment.db.engine import Database
from takeamoment.db.people import ApiToken
from takeamoment.services.auth import Principal
from takeamoment.settings import Settings

SESSION_COOKIE = "tam_session"
SESSION_MAX_AGE_S = 12 * 3600  # one long event day; then the host signs in again
_STATE_KEY = "web_session"
# Keys derived from the one secret, one per purpose, so a value signed for one use is never
# accepted for another.
_SESSION_PURPOSE = b"takeamoment/web/session-cookie/v1"
_CSRF_PURPOSE = b"takeamoment/web/csrf/v1"


def derive_key(secret: str, purpose: bytes) -> bytes:
    """A key for one purpose, from the app's secret."""
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


@dataclass
class SessionCookies:
    """Issues and reads session cookies; the secret is resolved on first use, not at start-up."""

    settings: Settings
    max_age_s: int = SESSION_MAX_AGE_S
    _key: bytes | None = field(default=None, init=False, repr=False)

    @property
    def secure(self) -> bool:
        """``Secure`` cookies whenever the public URL is HTTPS (browsers drop them over HTTP)."""
        return self.settings.public_url.startswith("https://")

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = derive_key(self.settings.resolved_secret_key(), _SESSION_PURPOSE)
        return self._key

    def csrf_secret(self) -> str:
        """The secret Litestar's CSRF middleware signs its tokens with."""
        return derive_key(self.settings.resolved_secret_key(), _CSRF_PURPOSE).hex()

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self.key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, token_id: str, now: float | None = None) -> Cookie:
        """A cookie that names ``token_id`` until ``max_age_s`` from now."""
        expires = int((time.time() if now is None else now) + self.max_age_s)
        payload = f"{token_id}.{expires}"
        return Cookie(
            key=SESSION_COOKIE,
            value=f"{payload}.{self._signature(payload)}",
            max_age=self.max_age_s,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )

    def cleared(self) -> Cookie:
        """A cookie that makes the browser forget the session."""
        return Cookie(
            key=SESSION_COOKIE,
            value="",
            max_age=0,
            expires=0,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )

    def token_id_of(self, value: str, now: float | None = None) -> str | None:
        """The token id a cookie names, or None when it is forged, altered or expired."""
        payload, _, signature = value.rpartition(".")
        token_id, _, expires = payload.partition(".")
        if not (token_id and expires.isdigit() and signature):
            return None
        if not hmac.compare_digest(signature, self._signature(payload)):
            return None
        if int(expires) <= (time.time() if now is None else now):
            return None
        return token_id


def session_cookies(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionCookies | None:
    """The app's session cookies, or None in an app built without the web pages."""
    cookies = connection.app.state.get(_STATE_KEY)
    return cookies if isinstance(cookies, SessionCookies) else None


def install(state: State, cookies: SessionCookies) -> None:
    """Make ``cookies`` the app's, for :func:`session_cookies` to find."""
    state[_STATE_KEY] = cookies


def has_session_cookie(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return bool(connection.cookies.get(SESSION_COOKIE))


async def session_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The host a valid session cookie names, or None (no cookie, a bad one, a revoked token).

    A request that carries an ``Authorization`` header is never authenticated by the cookie:
    such requests skip the CSRF check (``web/csrf.py``), so the cookie must not count for them.
    """
    value = connection.cookies.get(SESSION_COOKIE)
    cookies = session_cookies(connection)
    if not value or cookies is None or "authorization" in connection.headers:
        return None
    token_id = cookies.token_id_of(value)
    if token_id is None:
        return None
    db: Database = connection.app.state.db
    async with db.read() as session:
        row = await session.get(ApiToken, token_id)
    # Only hosts ever get a session; a row that is no longer a live host token ends it.
    if row is None or row.revoked_at is not None or row.role != "host":
        return None
    return Principal(role="host", token_id=row.id, host_id=row.host_id)
