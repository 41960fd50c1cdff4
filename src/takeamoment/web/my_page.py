"""What a creator's or therapist's own page (``/me``) shows, shaped for its template.

Times are written in the person's own zone (their ``timezone``, else the event's): the page is
about their sessions, wherever the browser that opens it happens to be. The countdowns run in
the page's script from each session's UTC start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from takeamoment.domain.slot_states import OPEN_SLOT_STATUSES
from takeamoment.services.last_visit import LastVisit
from takeamoment.services.me import Me, MyBooking
from takeamoment.services.notice_words import local_moment, local_span
from takeamoment.web.views import status_label

# What each booking status (domain/booking_states.py) says on the person's own page.
BOOKING_LABELS = {
    "invited": "Invited",
    "confirmed": "Confirmed",
    "declined": "You declined",
    "removed": "Taken off by the host",
    "cancelled": "Cancelled",
    "conflicted": "Moved where you could not follow",
}
MAX_PAST = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class MySession:
    """One booking as its person reads it."""

    booking_id: str
    booking_status: str
    booking_label: str
    role: str
    title: str
    event_title: str
    event_url: str
    channel_name: str
    when: str
    starts_at: datetime
    ends_at: datetime
    slot_status: str
    slot_label: str
    stream_url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MyNotice:
    seq: int
    kind: str
    title: str
    body: str
    url: str | None
    at: datetime
    at_label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MyPage:
    person_id: str
    name: str
    role: str
    zone: str | None  # the person's own, if they have one
    notice_zone: str  # what notices are written in: theirs, else their first event's, else UTC
    invitations: list[MySession]
    upcoming: list[MySession]
    past: list[MySession]
    notices: list[MyNotice]
    unlisted: int
    first_visit: bool
    latest_seq: int
    email: bool
    email_address: str | None
    push: bool


def _zone_of(me: Me, booking: MyBooking) -> str:
    return me.person.timezone or booking.event.timezone


def _session(me: Me, booking: MyBooking) -> MySession:
    slot, event = booking.slot, booking.event
    channel_stream = next((c.stream_url for c in event.channels if c.slug == slot.channel), None)
    return MySession(
        booking_id=booking.id,
        booking_status=booking.status,
        booking_label=BOOKING_LABELS.get(booking.status, booking.status),
        role=booking.role,
        title=slot.title,
        event_title=event.title,
        event_url=event.page_url,
        channel_name=slot.channel_name,
        when=local_span(
            slot.starts_at.isoformat(), slot.ends_at.isoformat(), _zone_of(me, booking)
        ),
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        slot_status=slot.status,
        slot_label=status_label(slot),
        stream_url=slot.stream_url or channel_stream,
    )


def _notice(message: dict[str, Any], zone: str) -> MyNotice:
    at = datetime.fromisoformat(message["at"])
    return MyNotice(
        seq=message["seq"],
        kind=message["kind"],
        title=str(message.get("title") or message["kind"]),
        body=str(message.get("body") or ""),
        url=message.get("url") if isinstance(message.get("url"), str) else None,
        at=at,
        at_label=local_moment(message["at"], zone),
    )


def my_page(me: Me, last_visit: LastVisit) -> MyPage:
    """The page's sections: invitations to answer, sessions to come, the rest, and notices."""
    invitations, upcoming, past = [], [], []
    for booking in me.bookings:
        session = _session(me, booking)
        is_open = booking.slot.status in OPEN_SLOT_STATUSES
        if booking.status == "invited" and is_open:
            invitations.append(session)
        elif booking.status == "confirmed" and is_open:
            upcoming.append(session)
        else:
            past.append(session)
    past.sort(key=lambda s: s.starts_at, reverse=True)
    zone = me.person.timezone or (me.bookings[0].event.timezone if me.bookings else "UTC")
    return MyPage(
        person_id=me.person.id,
        name=me.person.name,
        role=me.person.role,
        zone=me.person.timezone,
        notice_zone=zone,
        invitations=invitations,
        upcoming=upcoming,
        past=past[:MAX_PAST],
        notices=[_notice(n, zone) for n in last_visit.notices],
        unlisted=last_visit.unlisted,
        first_visit=last_visit.first_visit,
        latest_seq=last_visit.latest_seq,
        email=me.preferences.email,
        email_address=me.person.email,
        push=me.preferences.push,
    )


def answered_text(page: MyPage, answered: str | None) -> str | None:
    """What the page says after an answer (``accept:<booking id>`` in its URL), or None."""
    answer, _, booking_id = (answered or "").partition(":")
    verb = {"accept": "accepted", "decline": "declined"}.get(answer)
    sessions = [*page.invitations, *page.upcoming, *page.past]
    session = next((s for s in sessions if s.booking_id == booking_id), None)
    if verb is None or session is None:
        return None
    return f"You {verb} '{session.title}', {session.channel_name}, {session.when}."
