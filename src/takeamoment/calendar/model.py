"""What a feed is made of: plain frozen records, filled by the services and read by ``render``.

Nothing here knows about the database or HTTP, so a feed can be rendered (and tested) from values
alone. Datetimes are aware and UTC; zones are IANA names applied only when writing the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

# A booking as its owner's feed shows it (``STATUS``): "cancelled" for every way it ended on the
# host's side. The booking's own statuses are ``domain/booking_states.py``'s.
FeedBookingStatus = Literal["invited", "confirmed", "cancelled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Performer:
    """Someone on a slot, as anyone may see them: a public name and a handle, nothing else."""

    name: str
    handle: str
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyResource:
    """Where a viewer can get help; shown in every slot of the event."""

    name: str
    phone: str | None = None
    url: str | None = None
    region: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventInfo:
    """The parts of an event that every one of its slots shows."""

    id: str
    title: str
    timezone: str
    page_url: str
    hashtags: tuple[str, ...] = ()
    safety_resources: tuple[SafetyResource, ...] = ()
    reminder_minutes: tuple[int, ...] = ()
    changeover_minutes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MyBooking:
    """The feed owner's own booking in a slot: only private feeds carry it."""

    role: str
    status: FeedBookingStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotEntry:
    """One slot, to become one VEVENT.

    ``changed_at`` is the slot's last change as the feed shows it (its own fields, who is on it,
    the event's shared text): it becomes ``DTSTAMP`` and ``LAST-MODIFIED``.
    """

    id: str
    event: EventInfo
    channel_name: str
    title: str
    description: str
    tags: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    status: str
    sequence: int
    changed_at: datetime
    people: tuple[Performer, ...] = ()
    booking: MyBooking | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarInfo:
    """A whole feed: its own identity and URL, and the slots in it (in the order given).

    ``uid_domain`` is the host of the public URL; a slot's UID is ``<slot id>@<uid_domain>``
    (with the owner's id in between for a private feed, see ``owner_id``).
    """

    uid: str
    name: str
    description: str
    source_url: str
    page_url: str
    uid_domain: str
    changed_at: datetime
    refresh_interval: timedelta
    timezone: str | None = None
    owner_id: str | None = None
    slots: tuple[SlotEntry, ...] = ()
