"""Feeds built from plain records, for the render tests (no database, no HTTP)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from takeamoment.calendar.model import (
    CalendarInfo,
    EventInfo,
    MyBooking,
    Performer,
    SafetyResource,
    SlotEntry,
)

CHANGED = datetime(2030, 9, 1, 12, 0, 0, tzinfo=UTC)

EVENT = EventInfo(
    id="ev1",
    title="Take A Moment",
    timezone="Europe/London",
    page_url="https://tam.example/events/tam",
    hashtags=("#MentalHealth", "SelfCare"),
    safety_resources=(
        SafetyResource(
            name="Samaritans", phone="116 123", url="https://www.samaritans.org", region="UK"
        ),
    ),
    reminder_minutes=(15, 5),
    changeover_minutes=5,
)

# The properties every VEVENT carries, once each (CATEGORIES only when the slot has tags).
VEVENT_PROPERTIES = {
    "UID",
    "DTSTAMP",
    "DTSTART",
    "DTEND",
    "SUMMARY",
    "DESCRIPTION",
    "URL",
    "SEQUENCE",
    "STATUS",
    "LAST-MODIFIED",
    "CATEGORIES",
}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


DEFAULT_START = datetime(2030, 10, 10, 10, tzinfo=UTC)


def slot(
    slot_id: str = "s1",
    starts_at: datetime = DEFAULT_START,
    minutes: int = 60,
    **fields: Any,
) -> SlotEntry:
    values: dict[str, Any] = {
        "id": slot_id,
        "event": EVENT,
        "channel_name": "Main",
        "title": "Breathe",
        "description": "Slow down.",
        "tags": ("calm",),
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=minutes),
        "status": "scheduled",
        "sequence": 0,
        "changed_at": CHANGED,
        "people": (Performer(name="Ana", handle="ana", role="creator"),),
    }
    values.update(fields)
    return SlotEntry(**values)


def calendar(*slots: SlotEntry, **fields: Any) -> CalendarInfo:
    values: dict[str, Any] = {
        "uid": "calendar-ev1@tam.example",
        "name": "Take A Moment",
        "description": "A day of live sessions.",
        "source_url": "https://tam.example/events/tam/calendar.ics",
        "page_url": "https://tam.example/events/tam",
        "uid_domain": "tam.example",
        "changed_at": CHANGED,
        "refresh_interval": timedelta(minutes=15),
        "timezone": "Europe/London",
        "slots": slots,
    }
    values.update(fields)
    return CalendarInfo(**values)


def private(info: CalendarInfo, status: str = "confirmed") -> CalendarInfo:
    """The same slots as the private feed of person ``p1``, booked as creator."""
    booking = MyBooking(role="creator", status=status)  # type: ignore[arg-type]
    return replace(
        info, owner_id="p1", slots=tuple(replace(s, booking=booking) for s in info.slots)
    )


def in_zone(entry: SlotEntry, timezone: str) -> SlotEntry:
    return replace(entry, event=replace(entry.event, timezone=timezone))
