"""The page of one session (``/events/{slug}/sessions/{slot_id}``), its one-slot ``.ics``, and
the service worker that shows followers' pushes.

The page shows what the public schedule shows of the slot, with "Notify me", "Add to calendar"
(the event feed filtered to this slot: same UID, ETag and 304s as the event's feed, and a
Google Calendar link) and Open Graph tags so a shared link previews the session. A draft's
sessions are 404 to everyone but hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.enums import HttpMethod
from litestar.handlers import route
from litestar.response import Template

from takeamoment.api.deps import AppSettings, Db, PathKey
from takeamoment.api.feeds import FEED_SUFFIX, event_feed_response
from takeamoment.connection.credentials import principal_of
from takeamoment.domain.errors import NotFound
from takeamoment.services.feeds import FeedFilter
from takeamoment.services.schedule import get_schedule
from takeamoment.services.views import ChannelPublic, EventPublic, SlotPublic
from takeamoment.services.visibility import sees_drafts
from takeamoment.urls import absolute, session_page
from takeamoment.web.pages import not_found_page
from takeamoment.web.views import helplines, shown_times, status_label

SERVICE_WORKER = Path(__file__).parent / "static" / "sw.js"
GOOGLE_CALENDAR = "https://calendar.google.com/calendar/render"
OG_DESCRIPTION_LENGTH = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLinks:
    page_url: str
    ics_path: str
    google_url: str
    stream_url: str | None


def google_calendar_url(
    title: str, starts_at: datetime, ends_at: datetime, details: str, location: str | None
) -> str:
    """Google Calendar's "add event" link (its documented ``action=TEMPLATE`` form), in UTC."""

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    params = {
        "action": "TEMPLATE",
        "text": title,
        "dates": f"{stamp(starts_at)}/{stamp(ends_at)}",
        "details": details,
        **({"location": location} if location else {}),
    }
    return f"{GOOGLE_CALENDAR}?{urlencode(params, quote_via=quote)}"


def og_description(slot: SlotPublic, event: EventPublic) -> str:
    """ "Thu 10 Oct 2030, 10:30–11:00 BST · Main Stage · Take A Moment — <description>": in the
    event's zone, as a preview cannot know the reader's."""
    zone = ZoneInfo(event.timezone)
    times = shown_times(slot)
    start, end = times.starts_at.astimezone(zone), times.ends_at.astimezone(zone)
    when = f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M %Z}"
    text = f"{when} · {slot.channel_name} · {event.title}"
    if slot.status in ("live", "cancelled", "ended"):
        text = f"{status_label(slot)}: {text}"
    if slot.description:
        text += f" — {' '.join(slot.description.split())}"  # one line: previews show one
    if len(text) > OG_DESCRIPTION_LENGTH:
        text = text[: OG_DESCRIPTION_LENGTH - 1].rstrip() + "…"
    return text


def session_links(slot: SlotPublic, event: EventPublic, public_url: str) -> SessionLinks:
    channel = next((c for c in event.channels if c.slug == slot.channel), None)
    stream_url = slot.stream_url or (channel.stream_url if channel else None)
    page_url = absolute(public_url, session_page(event.slug, slot.id))
    times = shown_times(slot)
    details = "\n\n".join(
        part for part in (slot.description, f"{event.title}, {slot.channel_name}", page_url) if part
    )
    return SessionLinks(
        page_url=page_url,
        ics_path=session_page(event.slug, slot.id) + FEED_SUFFIX,
        google_url=google_calendar_url(
            slot.title, times.starts_at, times.ends_at, details, stream_url
        ),
        stream_url=stream_url,
    )


async def _session(
    db: Any, slug: str, slot_id: str, request: Request[Any, Any, Any], public_url: str
) -> tuple[EventPublic, SlotPublic]:
    try:
        schedule = await get_schedule(db, slug, None, public_url)
    except NotFound:
        # A draft's page exists for whoever may see the draft (services/visibility.py).
        principal = await principal_of(request)
        if not sees_drafts(principal):
            raise
        schedule = await get_schedule(db, slug, principal, public_url)
    slot = next((s for s in schedule.slots if s.id == slot_id), None)
    if slot is None:
        raise NotFound("slot", slot_id)
    return schedule.event, slot


class SessionPages(Controller):
    include_in_schema = False

    @route(
        "/events/{slug:str}/sessions/{slot_id:str}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        name="session",
    )
    async def session(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        settings: AppSettings,
        slug: PathKey,
        slot_id: PathKey,
    ) -> Response[Any]:
        """The session's page; ``<id>.ics`` is its one-slot calendar (``?slot=`` of the feed)."""
        if slot_id.endswith(FEED_SUFFIX):
            feed_filter = FeedFilter(slot=slot_id.removesuffix(FEED_SUFFIX))
            return await event_feed_response(request, slug, feed_filter)
        try:
            event, slot = await _session(db, slug, slot_id, request, settings.public_url)
        except NotFound:
            return not_found_page("session")
        channel: ChannelPublic | None = next(
            (c for c in event.channels if c.slug == slot.channel), None
        )
        context = {
            "event": event,
            "slot": slot,
            "channel": channel,
            "links": session_links(slot, event, settings.public_url),
            "og_title": f"{slot.title} · {event.title}",
            "og_description": og_description(slot, event),
            "helplines": helplines(event),
        }
        return Template(template_name="session.html", context=context)

    @get("/sw.js", media_type="text/javascript", name="service-worker")
    async def service_worker(self) -> Response[bytes]:
        """Served from the root so that its scope covers every page."""
        return Response(
            content=SERVICE_WORKER.read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )
