"""The unfollow link of a follow (``services/follows.py``): a capability URL.

Opened in a browser (from a notification or the page) it shows one button, as the mails'
one-click links do, so link previews never unfollow anyone; the button's POST does it. A script
may DELETE it instead (204). Unfollowing one already gone is harmless.
"""

from __future__ import annotations

from litestar import Controller, Response, delete, get, post
from litestar.response import Template

from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.api.errors import NOT_FOUND_ERRORS
from takeamoment.domain.errors import NotFound
from takeamoment.services import follows
from takeamoment.services.follows import UnfollowLinkRefused, UnfollowLinks
from takeamoment.settings import Settings

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _links(settings: Settings) -> UnfollowLinks:
    return UnfollowLinks(settings.resolved_secret_key(), settings.public_url)


def _page(title: str, message: str, *, status: int = 200, button: str | None = None) -> Template:
    context = {"title": title, "message": message, "alert": status >= 400, "button": button}
    return Template(
        template_name="mail_action.html", context=context, status_code=status, headers=NO_STORE
    )


def _not_valid() -> Template:
    return _page("This link is not valid", "Check that the whole link was copied.", status=404)


class UnfollowPages(Controller):
    path = "/follows/{token:str}"
    tags = ["follows"]

    @get(include_in_schema=False)
    async def page(self, settings: AppSettings, token: PathKey) -> Template:
        try:
            _links(settings).read(token)
        except UnfollowLinkRefused:
            return _not_valid()
        return _page(
            "Stop these notifications?",
            "This browser will no longer be notified when this session goes live or is cancelled.",
            button="Stop notifications",
        )

    @post(include_in_schema=False, status_code=200)
    async def unfollow_button(self, db: Db, settings: AppSettings, token: PathKey) -> Template:
        try:
            await follows.unfollow(db, _links(settings).read(token))
        except UnfollowLinkRefused:
            return _not_valid()
        return _page("Notifications stopped", "This browser will get no more of them.")

    @delete(
        summary="Unfollow: the `unfollow_url` a follow was given",
        description="204 whether or not it was still there; a forged link is 404.",
        raises=NOT_FOUND_ERRORS,
    )
    async def unfollow(self, db: Db, settings: AppSettings, token: PathKey) -> Response[None]:
        try:
            follow_id = _links(settings).read(token)
        except UnfollowLinkRefused as error:
            raise NotFound("follow", "link") from error
        await follows.unfollow(db, follow_id)
        return Response(content=None, status_code=204, headers=NO_STORE)
