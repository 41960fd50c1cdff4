"""The "Take A Moment" demo: a World Mental Health Day event, seeded from an event document.

``seed_demo`` is what ``takeamoment demo`` runs. The event is ``data/take-a-moment.json``, a
document in the export format (``services/document.py``), moved to the next 10 October and
imported the way ``POST /api/events/import`` does it, so every booking rule is checked on the way
in; then it is published. The event's slug is the key that makes it idempotent: a second run
creates nothing and only issues a fresh host token, because tokens are stored hashed and an old
one can never be shown again.

The people are fictional; the helplines are real.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from takeamoment import urls
from takeamoment.db.engine import Database
from takeamoment.domain.errors import InvalidDocument, NotFound
from takeamoment.services import events, importing
from takeamoment.services.auth import Principal, authenticate, issue_host_token
from takeamoment.services.views import EventPublic
from takeamoment.settings import Settings

DEMO_SLUG = "take-a-moment"
DEMO_HOST_NAME = "Take A Moment demo host"
_TIMES = ("starts_at", "ends_at")


@cache
def _stored_document() -> str:
    return resources.files("takeamoment").joinpath("data/take-a-moment.json").read_text("utf-8")


def demo_document(day: date | None = None) -> dict[str, Any]:
    """The demo event's document, moved (wall-clock times kept) to ``day`` when given."""
    document: dict[str, Any] = json.loads(_stored_document())
    if day is None:
        return document
    zone = ZoneInfo(document["timezone"])
    shift = day - datetime.fromisoformat(document["starts_at"]).astimezone(zone).date()
    return _shifted(document, zone, shift)


def _move(value: str, zone: ZoneInfo, shift: timedelta) -> str:
    local = datetime.fromisoformat(value).astimezone(zone)
    return (local.replace(tzinfo=None) + shift).replace(tzinfo=zone).isoformat()


def _shifted(document: dict[str, Any], zone: ZoneInfo, shift: timedelta) -> dict[str, Any]:
    timed = [document, *document["slots"]]
    timed += [w for person in document["people"] for w in person.get("availability", [])]
    for part in timed:
        for key in _TIMES:
            part[key] = _move(part[key], zone, shift)
    for person in document["people"]:
        if licence := person.get("license"):
            licence["expires_on"] = (date.fromisoformat(licence["expires_on"]) + shift).isoformat()
    return document


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSummary:
    """What ``takeamoment demo`` prints: where to look, and a host token shown this once."""

    host_token: str
    event_slug: str
    event_day: date
    created: bool
    published: bool
    viewer_url: str
    host_url: str
    schedule_url: str
    calendar_url: str
    webcal_url: str

    @classmethod
    def build(
        cls, public_url: str, event: EventPublic, *, host_token: str, created: bool
    ) -> DemoSummary:
        calendar_url = urls.absolute(public_url, urls.event_calendar(event.slug))
        return cls(
            host_token=host_token,
            event_slug=event.slug,
            event_day=event.starts_at.astimezone(ZoneInfo(event.timezone)).date(),
            created=created,
            published=event.status == "published",
            viewer_url=urls.absolute(public_url, urls.event_page(event.slug)),
            host_url=urls.absolute(public_url, urls.host_console(event.slug)),
            schedule_url=urls.absolute(public_url, urls.event_schedule_api(event.slug)),
            calendar_url=calendar_url,
            webcal_url=urls.webcal(calendar_url),
        )

    def __str__(self) -> str:
        """A short block for people; the last line is the host token alone, for scripts."""
        state = "seeded now" if self.created else "already there, nothing was created again"
        lines = [f"Take A Moment ({self.event_slug}), {self.event_day:%A %d %B %Y}: {state}."]
        if not self.published:
            lines.append(
                "  note: the event is still a draft (did an earlier seeding stop half-way?); "
                "publish it from the host console, or seed an empty database."
            )
        lines += [
            f"  viewer page     {self.viewer_url}",
            f"  host console    {self.host_url}",
            f"  schedule (API)  {self.schedule_url}",
            f"  calendar        {self.calendar_url}",
            f"  subscribe       {self.webcal_url}",
            'A new host token, shown only now (send it as "Authorization: Bearer <token>"):',
            self.host_token,
        ]
        return "\n".join(lines)


def world_mental_health_day(today: date) -> date:
    """The next 10 October on or after ``today``."""
    this_year = date(today.year, 10, 10)
    return this_year if today <= this_year else date(today.year + 1, 10, 10)


async def _seed_event(db: Database, settings: Settings, day: date) -> bool:
    """Import and publish the whole event; False when a concurrent run created it first."""
    try:
        await importing.import_document(db, demo_document(day), settings.public_url)
    except InvalidDocument as error:
        taken = [p for p in error.problems if p["loc"] == ["slug"]]
        if taken and len(taken) == len(error.problems):
            return False
        raise
    await events.publish_event(db, DEMO_SLUG, settings.public_url)
    return True


async def _existing_event(db: Database, host: Principal, public_url: str) -> EventPublic | None:
    try:
        return await events.get_event_view(db, DEMO_SLUG, host, public_url)
    except NotFound:
        return None


async def seed_demo(db: Database, settings: Settings, *, today: date | None = None) -> DemoSummary:
    """Seed the demo event on the next 10 October (from ``today``, UTC by default) unless it is
    already there, and return where to look with a new host token either way."""
    token = await issue_host_token(db, DEMO_HOST_NAME)
    # The seeding acts as that host, so accepting bookings goes through the real principal.
    host = await authenticate(db, token)
    if host is None:  # pragma: no cover - the token was written just above
        raise RuntimeError("the demo host token was not found right after it was issued")
    created = False
    if await _existing_event(db, host, settings.public_url) is None:
        day = world_mental_health_day(today or datetime.now(UTC).date())
        created = await _seed_event(db, settings, day)
    event = await _existing_event(db, host, settings.public_url)
    if event is None:  # pragma: no cover - it was found or created just above
        raise RuntimeError(f"the demo event {DEMO_SLUG!r} vanished while it was being seeded")
    return DemoSummary.build(settings.public_url, event, host_token=token, created=created)
