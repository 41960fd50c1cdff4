"""The host's building pages: a new event, the editor of an event, and the people directory.

Each page is the server's first render; its script (``editor.js``, ``people.js``) does every
change through the JSON API with the session cookie and the page's CSRF token, like the console.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template

from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.domain.errors import NotFound
from takeamoment.services.events import get_event_view
from takeamoment.services.inputs import iana_zone_names
from takeamoment.web.host import HOST_HOME, _form_expired, _host, _to_login
from takeamoment.web.pages import not_found_page
from takeamoment.web.signing_out import NO_STORE

AnyRequest = Request[Any, Any, Any]
KINDS = ("session", "qa", "music", "panel", "opening", "closing", "break")


def _page(name: str, **context: Any) -> Template:
    return Template(template_name=name, context=context, headers=NO_STORE)


class EditorPages(Controller):
    path = HOST_HOME
    include_in_schema = False
    exception_handlers = {PermissionDeniedException: _form_expired}

    @get("/events/new", name="new-event")
    async def new_event(self, request: AnyRequest) -> Template | Redirect:
        """An empty event form; the script creates the draft and opens its editor."""
        if await _host(request) is None:
            return _to_login(request)
        return _page("event_new.html", zones=iana_zone_names(), event=None)

    @get("/events/{slug:str}/edit", name="editor")
    async def editor(
        self, request: AnyRequest, db: Db, settings: AppSettings, slug: PathKey
    ) -> Template | Redirect:
        """The event's details, channels and schedule editor."""
        host = await _host(request)
        if host is None:
            return _to_login(request)
        try:
            event = await get_event_view(db, slug, host, settings.public_url)
        except NotFound:
            return not_found_page("event")
        return _page("editor.html", event=event, zones=iana_zone_names(), kinds=KINDS)

    @get("/people", name="people")
    async def people(self, request: AnyRequest) -> Template | Redirect:
        """Creators and therapists: search, add, edit, licences, windows, tokens."""
        if await _host(request) is None:
            return _to_login(request)
        return _page("people.html", zones=iana_zone_names())
