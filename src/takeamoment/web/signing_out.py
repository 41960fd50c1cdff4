"""What the host console and a person's own page share about a browser session's cookies."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect

from takeamoment.connection.session import SessionCookies, session_cookies, session_id
from takeamoment.db.engine import Database
from takeamoment.services.sessions import end_session

NO_STORE = {"Cache-Control": "no-store"}


def page_cookies(request: Request[Any, Any, Any]) -> SessionCookies:
    """The session cookies the web plugin installed for these pages."""
    cookies = session_cookies(request)
    if cookies is None:  # pragma: no cover - the web plugin installs them with its pages
        raise RuntimeError("the signed-in pages need WebPlugin's session cookies; is it installed?")
    return cookies


async def signed_out(request: Request[Any, Any, Any], db: Database, to: str) -> Redirect:
    """End the session on the server, so that no copy of its cookie opens anything; then go
    to ``to`` with ``?signed_out=true``."""
    if (current := session_id(request)) is not None:
        await end_session(db, current)
    return Redirect(
        path=to,
        query_params={"signed_out": "true"},
        status_code=303,
        cookies=page_cookies(request).cleared(),
        headers=NO_STORE,
    )
