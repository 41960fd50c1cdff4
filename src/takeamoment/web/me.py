"""A creator's or therapist's own page: signing in with a one-time link, ``/me``, signing out.

The link a host sends (``/me/access/<token>``) only shows a button when opened: mail scanners
and link previews open every link in a mail and must not use it up. The button's POST uses the
link and opens a session for the person, with the same cookie, CSRF binding and rotation as the
host console (``web/host.py``). The page answers invitations with plain forms, so it works
before its script has loaded; its script adds the countdowns, the live notices (``/ws/me`` with
the session cookie), the notification settings and this device's Web Push subscription, whose
service worker is served from ``/me/sw.js`` with the scope ``/me``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromQuery
from litestar.response import File, Redirect, Template

from takeamoment import urls
from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.connection.credentials import principal_of
from takeamoment.connection.session import (
    PERSON_SESSION_MAX_AGE_S,
    session_id,
)
from takeamoment.domain.errors import Forbidden, InvalidTransition, NotFound
from takeamoment.services import bookings
from takeamoment.services.access import (
    AccessLinkRefused,
    access_link_holder,
    sign_in_with_access_link,
)
from takeamoment.services.last_visit import visit
from takeamoment.services.me import get_me
from takeamoment.web.csrf import CrossOriginRefused
from takeamoment.web.my_page import answered_text, my_page
from takeamoment.web.signing_out import NO_STORE, page_cookies, signed_out

ME_HOME = urls.ME
SERVICE_WORKER = Path(__file__).parent / "static" / "me-sw.js"
ASK_HOST = "Ask your host for a new sign-in link."
AnyRequest = Request[Any, Any, Any]


def _notice(
    title: str, message: str, *, status: int = 200, alert: bool = False, **extra: Any
) -> Template:
    context = {"title": title, "message": message, "alert": alert or status >= 400, **extra}
    return Template(
        template_name="me_notice.html", context=context, status_code=status, headers=NO_STORE
    )


async def _refused(request: AnyRequest, refused: AccessLinkRefused) -> Template:
    """Which way the link cannot be used; and the way to one's page when already signed in
    (the link opened again from the mail, after it did its work)."""
    signed_in = await _person_signed_in(request)
    if refused.reason == "unknown":
        return _notice(
            "This sign-in link is not valid",
            f"It may have been copied only in part. {ASK_HOST}",
            status=404,
            signed_in=signed_in,
        )
    said = "has already been used" if refused.reason == "already used" else "has expired"
    return _notice(
        f"This sign-in link {said}",
        f"Each link works once, within a day of being sent. {ASK_HOST}",
        status=410,
        signed_in=signed_in,
    )


async def _person_signed_in(request: AnyRequest) -> bool:
    principal = await principal_of(request)
    return principal is not None and principal.person_id is not None


def _form_expired(request: AnyRequest, refused: PermissionDeniedException) -> Template:
    """A form whose CSRF token did not match (an old tab, cleared cookies), or that came from
    another site's page: say so, and where to go on."""
    message = (
        refused.detail[:1].upper() + refused.detail[1:] + "."
        if isinstance(refused, CrossOriginRefused)
        else "This form had expired. Go back, reload the page and try again."
    )
    return _notice("Please try again", message, status=403, back=request.url.path)


def _from_another_site(request: AnyRequest) -> Template | None:
    """For a page opened from a link on another site (a webmail): one that reloads itself.

    Browsers keep SameSite=Strict cookies back on such a navigation, so the page would not know
    the browser's session (and a form on it would carry a token for the wrong one). The reload
    comes from our own page, with the cookies.
    """
    headers = request.headers
    if headers.get("sec-fetch-site") != "cross-site" or headers.get("sec-fetch-mode") != "navigate":
        return None
    return _notice("Opening your page…", "Opening your page.", refresh=request.url.path)


def _no_session(request: AnyRequest) -> Template:
    """The page without a person's session, or a host's: never the host sign-in."""
    if (reload := _from_another_site(request)) is not None:
        return reload
    return _notice(
        "Your page",
        "To open your page, use the sign-in link your host sent you. "
        "Used it already, or lost it? Ask your host for a new one.",
    )


def _host_here() -> Template:
    return _notice(
        "This page is for creators and therapists",
        "You are signed in as a host. Each creator and therapist opens their own page with the "
        "sign-in link you send them from People.",
        status=403,
        back="/host/people",
    )


class MePages(Controller):
    path = ME_HOME
    include_in_schema = False
    exception_handlers = {PermissionDeniedException: _form_expired}

    @get("/", name="me")
    async def home(
        self,
        request: AnyRequest,
        db: Db,
        settings: AppSettings,
        signed_out: FromQuery[bool] = False,
        answered: FromQuery[str | None] = None,
    ) -> Template:
        """The person's invitations, sessions, notices since their last visit and settings."""
        if signed_out:
            return _notice(
                "You are signed out", "To come back, ask your host for a new sign-in link."
            )
        principal = await principal_of(request)
        if principal is not None and principal.is_host:
            return _host_here()
        if principal is None or principal.person_id is None:
            return _no_session(request)
        try:
            me = await get_me(db, principal.person_id, settings.public_url)
        except NotFound:  # deleted while signed in
            return _no_session(request)
        page = my_page(me, await visit(db, principal.person_id))
        context = {"page": page, "answered": answered_text(page, answered)}
        return Template(template_name="me.html", context=context, headers=NO_STORE)

    @get("/access/{token:str}", name="me-access")
    async def access_page(self, request: AnyRequest, db: Db, token: PathKey) -> Template:
        """Who the link signs in, and a button; opening the link uses nothing up."""
        if (reload := _from_another_site(request)) is not None:
            return reload
        try:
            name = await access_link_holder(db, token)
        except AccessLinkRefused as refused:
            return await _refused(request, refused)
        return _notice(
            f"Sign in as {name}",
            f"This opens {name}'s own page: invitations, sessions and notices. "
            "The link works once.",
            button=f"Sign in as {name}",
        )

    @post("/access/{token:str}", status_code=303)
    async def sign_in(self, request: AnyRequest, db: Db, token: PathKey) -> Template | Redirect:
        """Use the link up, open the person's session (ending the browser's earlier one)."""
        cookies = page_cookies(request)
        lifetime = PERSON_SESSION_MAX_AGE_S
        try:
            opened = await sign_in_with_access_link(
                db, token, timedelta(seconds=lifetime), replacing=session_id(request)
            )
        except AccessLinkRefused as refused:
            return await _refused(request, refused)
        return Redirect(
            path=ME_HOME,
            status_code=303,
            cookies=[cookies.issue(opened.id, max_age_s=lifetime), cookies.cleared()[1]],
            headers=NO_STORE,
        )

    @post("/logout", status_code=303)
    async def sign_out(self, request: AnyRequest, db: Db) -> Redirect:
        return await signed_out(request, db, ME_HOME)

    @post("/bookings/{booking_id:str}/{answer:str}", status_code=303)
    async def answer(
        self, request: AnyRequest, db: Db, booking_id: PathKey, answer: PathKey
    ) -> Template | Redirect:
        """Accept or decline one's own invitation, then back to the page."""
        if answer not in ("accept", "decline"):
            return _notice("No such answer", "Accept or decline, from your page.", status=404)
        principal = await principal_of(request)
        if principal is not None and principal.is_host:
            return _host_here()
        if principal is None or principal.person_id is None:
            return _notice("Your session has ended", ASK_HOST, status=401)
        act = bookings.accept if answer == "accept" else bookings.decline
        try:
            await act(db, booking_id, principal)
        except (NotFound, Forbidden):
            return _notice(
                "No such invitation", "It may have been withdrawn.", status=404, back=ME_HOME
            )
        except InvalidTransition as error:
            return _notice(
                "This invitation cannot be answered", str(error), status=409, back=ME_HOME
            )
        return Redirect(
            path=ME_HOME,
            query_params={"answered": f"{answer}:{booking_id}"},
            status_code=303,
            headers=NO_STORE,
        )

    @get("/sw.js", name="me-service-worker")
    async def service_worker(self) -> File:
        """The service worker that shows push notices; ``/me`` is its scope, though its path
        is under ``/me/`` (``Service-Worker-Allowed`` lets it reach up to the page itself)."""
        return File(
            path=SERVICE_WORKER,
            media_type="text/javascript; charset=utf-8",
            content_disposition_type="inline",
            headers={"Service-Worker-Allowed": ME_HOME, "Cache-Control": "no-cache"},
        )
