"""The host's pages: sign in with a host token, the list of events, the console, sign out.

Signing in posts the token in a form (never in a URL); if it is a host's, a session is opened on
the server (``services/sessions.py``), the answer sets the signed cookie that names it
(``connection/session.py``), and the token itself is forgotten: no page and no script ever holds it.
Signing out ends that session on the server, so a copy of the cookie opens nothing afterwards.
Every page here runs behind the CSRF check (``web/csrf.py``), and none may be cached, since each
carries a CSRF token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.connection.auth_limits import TooManyAuthFailures, authenticate_attempt
from takeamoment.connection.credentials import principal_of
from takeamoment.connection.session import session_id
from takeamoment.domain.errors import NotFound
from takeamoment.services import events
from takeamoment.services.auth import Principal
from takeamoment.services.schedule import get_schedule
from takeamoment.services.sessions import open_session
from takeamoment.web.csrf import CrossOriginRefused
from takeamoment.web.pages import not_found_page
from takeamoment.web.signing_out import NO_STORE, page_cookies, signed_out
from takeamoment.web.views import channel_boards

LOGIN_PATH = "/host/login"
HOST_HOME = "/host"
LoginForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
NextPath = Annotated[str | None, QueryParameter(name="next", max_length=500)]
AnyRequest = Request[Any, Any, Any]


def safe_next(path: object) -> str:
    """Where to go after signing in: a path on this site only, never another site's URL."""
    if (
        isinstance(path, str)
        and path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and path.isprintable()
    ):
        return path
    return HOST_HOME


def _login_page(
    *, next_path: str, error: str | None = None, notice: str | None = None, status: int = 200
) -> Template:
    context = {"next": next_path, "error": error, "notice": notice}
    return Template(
        template_name="host_login.html", context=context, status_code=status, headers=NO_STORE
    )


def _form_expired(request: AnyRequest, refused: PermissionDeniedException) -> Template:
    """A form whose CSRF token did not match (an old tab, cleared cookies), or that was posted
    from another site's page: say so, in HTML."""
    error = (
        refused.detail[:1].upper() + refused.detail[1:] + "."
        if isinstance(refused, CrossOriginRefused)
        else "This form had expired. Please try again."
    )
    if request.url.path == LOGIN_PATH:
        return _login_page(next_path=HOST_HOME, error=error, status=403)
    return Template(
        template_name="problem.html",
        context={"title": "Please try again", "message": error, "back": HOST_HOME},
        status_code=403,
        headers=NO_STORE,
    )


async def _host(request: AnyRequest) -> Principal | None:
    principal = await principal_of(request)
    return principal if principal is not None and principal.is_host else None


def _to_login(request: AnyRequest) -> Redirect:
    return Redirect(path=LOGIN_PATH, query_params={"next": request.url.path}, status_code=303)


class HostPages(Controller):
    path = HOST_HOME
    include_in_schema = False
    exception_handlers = {PermissionDeniedException: _form_expired}

    @get("/login", name="host-login")
    async def login_page(
        self, next_path: NextPath = None, signed_out: FromQuery[bool] = False
    ) -> Template:
        notice = "You are signed out." if signed_out else None
        return _login_page(next_path=safe_next(next_path), notice=notice)

    @post("/login", status_code=303)
    async def sign_in(self, request: AnyRequest, db: Db, data: LoginForm) -> Template | Redirect:
        """A host's token starts a session; any other token is refused, and said why."""
        next_path = safe_next(data.get("next"))
        token = str(data.get("token") or "").strip()
        try:  # refused sign-ins count against the address, like bad bearer tokens
            principal = await authenticate_attempt(request, token) if token else None
        except TooManyAuthFailures as refused:
            page = _login_page(next_path=next_path, error=refused.detail.capitalize(), status=429)
            page.set_header("Retry-After", str(refused.retry_after))
            return page
        if principal is None:
            error = "That token is not valid (or was revoked). Paste the whole host token."
            return _login_page(next_path=next_path, error=error, status=401)
        if not principal.is_host:
            error = (
                "That is a creator's or therapist's token: the host console needs a host token "
                "(takeamoment token issue --role host)."
            )
            return _login_page(next_path=next_path, error=error, status=403)
        cookies = page_cookies(request)
        # A new session (and so new CSRF tokens) at every sign-in; the browser's old one ends.
        opened = await open_session(
            db, principal, timedelta(seconds=cookies.max_age_s), replacing=session_id(request)
        )
        session_cookie, pre_sign_in_cookie = cookies.issue(opened.id), cookies.cleared()[1]
        return Redirect(
            path=next_path,
            status_code=303,
            cookies=[session_cookie, pre_sign_in_cookie],
            headers=NO_STORE,
        )

    @post("/logout", status_code=303)
    async def sign_out(self, request: AnyRequest, db: Db) -> Redirect:
        return await signed_out(request, db, LOGIN_PATH)

    @get("/", name="host-home")
    async def home(self, request: AnyRequest, db: Db, settings: AppSettings) -> Template | Redirect:
        """Every event, drafts too, with a link to its console."""
        host = await _host(request)
        if host is None:
            return _to_login(request)
        listed = await events.list_events(db, host, settings.public_url)
        context = {"events": listed, "live": await events.live_event_ids(db)}
        return Template(template_name="host_home.html", context=context, headers=NO_STORE)

    @get("/events/{slug:str}", name="console")
    async def console(
        self, request: AnyRequest, db: Db, settings: AppSettings, slug: PathKey
    ) -> Template | Redirect:
        """The board per channel; the console's script drives it through the JSON API."""
        host = await _host(request)
        if host is None:
            return _to_login(request)
        try:
            schedule = await get_schedule(db, slug, host, settings.public_url)
        except NotFound:
            return not_found_page("event")
        context = {
            "event": schedule.event,
            "channels": channel_boards(schedule.event, schedule.slots),
        }
        return Template(template_name="console.html", context=context, headers=NO_STORE)
