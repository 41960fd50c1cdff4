"""The public pages: the list of published events, and an event's viewer page."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.domain.errors import NotFound
from takeamoment.services import events
from takeamoment.services.schedule import get_schedule
from takeamoment.web.views import channel_boards, helplines


def not_found_page(what: str) -> Template:
    """An HTML 404 for a page (the API answers JSON 404s)."""
    return Template(template_name="not_found.html", context={"what": what}, status_code=404)


class PublicPages(Controller):
    """Anyone may read these; they show what the public API shows, nothing more."""

    include_in_schema = False

    @get("/", name="home")
    async def home(self, db: Db, settings: AppSettings) -> Template:
        listed = await events.list_events(db, None, settings.public_url)
        return Template(template_name="index.html", context={"events": listed})

    @get("/events/{slug:str}", name="viewer")
    async def viewer(self, db: Db, settings: AppSettings, slug: PathKey) -> Template:
        """Now and next per channel, the schedule, helplines, feeds; the script keeps it live."""
        try:
            # Always the public view, even for a signed-in host: this is the viewers' page.
            schedule = await get_schedule(db, slug, None, settings.public_url)
        except NotFound:
            return not_found_page("event")
        context = {
            "event": schedule.event,
            "channels": channel_boards(schedule.event, schedule.slots),
            "helplines": helplines(schedule.event),
        }
        return Template(template_name="event.html", context=context)
