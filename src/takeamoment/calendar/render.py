"""A schedule as iCalendar bytes (RFC 5545, RFC 7986): pure, one small function per part.

Promises, whatever the input:

- The bytes depend only on the records given: no clock, no random UID, no process state. The
  same schedule renders to the same bytes, so its ETag holds until something changes.
- User text can never add a line or a property: every text passes through ``clean_text`` and
  then ``icalendar``'s escaping, and lines are folded at 75 octets and end in CRLF.
- Times are written in the event's IANA zone with one ``VTIMEZONE`` per ``TZID`` used, in
  ``RRULE`` form for the years the feed uses (``vtimezone.py``); a moment whose local time is
  ambiguous (the hour repeated when clocks go back) and the times of UTC-like zones are written
  in UTC instead. A feed with no
  slot still holds its zone's ``VTIMEZONE``: RFC 5545 wants at least one component.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import STATUS, Alarm, Calendar, Event, vCategory, vDuration, vText

from takeamoment.calendar.model import CalendarInfo, SlotEntry
from takeamoment.calendar.vtimezone import utc_vtimezone_bytes, vtimezone_bytes
from takeamoment.urls import HELP_ANCHOR, slot_anchor

PRODID = "-//takeamoment//takeamoment calendar feeds//EN"
CALENDAR_END = b"END:VCALENDAR\r\n"
# VEVENTs remembered across renders: a few large feeds' worth (about 1 KiB each).
VEVENT_CACHE_SIZE = 16_384

# Zones whose offset is zero for ever: their times are written as UTC (``...Z``), no VTIMEZONE.
UTC_ZONES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}
)

# Line breaks in every spelling Unicode knows; some readers split on all of them.
_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Control characters are not allowed in iCalendar text (RFC 5545 3.3.11), except HTAB.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """User text as the feed carries it: every line break becomes ``\\n``, other controls go.

    ``ical_text`` then escapes it; any RFC 5545 reader reads back exactly this.
    """
    return _CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))


class EscapedText(vText):
    """A TEXT value escaped exactly as RFC 5545 3.3.11 says, and nothing more.

    ``icalendar``'s own escaping first turns a written ``\\N`` (backslash, capital N) into a line
    break, so a title like ``C:\\New`` would come back split in two.
    """

    __slots__ = ()

    def to_ical(self) -> bytes:
        escaped = self.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return escaped.replace("\n", "\\n").encode("utf-8")


def ical_text(text: str) -> EscapedText:
    """User text, cleaned and escaped: it can never end a line or start a property."""
    return EscapedText(clean_text(text))


def render_calendar(info: CalendarInfo) -> bytes:
    """The whole feed as bytes, VTIMEZONEs first, then one VEVENT per slot in the given order.

    The same bytes ``icalendar`` writes for the whole calendar, put together from the bytes of its
    parts, so that an unchanged slot is not rendered again (see ``vevent_bytes``).
    """
    parts = [calendar_component(info).to_ical().removesuffix(CALENDAR_END)]
    parts += [vtimezone_bytes(*zone) for zone in vtimezones(info.slots)]
    if not info.slots:  # RFC 5545 wants at least one component: the feed's own zone
        parts.append(empty_feed_vtimezone(info))
    parts += [vevent_bytes(slot, info.uid_domain, info.owner_id) for slot in info.slots]
    return b"".join([*parts, CALENDAR_END])


@lru_cache(maxsize=VEVENT_CACHE_SIZE)
def vevent_bytes(slot: SlotEntry, uid_domain: str, owner_id: str | None) -> bytes:
    """One slot's VEVENT as bytes; remembered, since the same record always gives the same bytes.

    A schedule change makes new records only for what it touched, so re-rendering a feed after
    a change renders those slots again and reuses the rest.
    """
    body: bytes = slot_vevent(slot, uid_domain, owner_id).to_ical()
    return body


def calendar_component(info: CalendarInfo) -> Calendar:
    """The VCALENDAR's own properties (RFC 5545 and RFC 7986, plus the common X-WR ones)."""
    calendar = Calendar.new(
        prodid=PRODID,
        calscale="GREGORIAN",
        method="PUBLISH",
        uid=info.uid,
        source=info.source_url,
        url=info.page_url,
        last_modified=info.changed_at.astimezone(UTC),
    )
    # Added as escaped TEXT: icalendar's ``name=`` and ``description=`` write these unescaped.
    text_properties = [("name", info.name), ("x-wr-calname", info.name)]
    if info.description:
        text_properties += [("description", info.description), ("x-wr-caldesc", info.description)]
    for name, value in text_properties:
        calendar.add(name, ical_text(value))
    # RFC 7986 requires the VALUE parameter here, which icalendar leaves out by default.
    calendar.add(
        "refresh-interval", vDuration(info.refresh_interval), parameters={"VALUE": "DURATION"}
    )
    # Outlook and older Apple clients read the TTL instead of REFRESH-INTERVAL.
    calendar.add("x-published-ttl", vDuration(info.refresh_interval))
    # No X-WR-TIMEZONE: readers that honour it (recurring-ical-events) re-read our UTC times of
    # the repeated hour as local times, undoing what writing them in UTC is for.
    return calendar


def slot_vevent(slot: SlotEntry, uid_domain: str, owner_id: str | None = None) -> Event:
    """One slot as one VEVENT; a private feed (``owner_id``) adds the booking and reminders."""
    changed_at = slot.changed_at.astimezone(UTC)
    event = Event.new(
        uid=slot_uid(slot, uid_domain, owner_id),
        stamp=changed_at,
        last_modified=changed_at,
        start=written_time(slot.starts_at, slot.event.timezone),
        end=written_time(slot.ends_at, slot.event.timezone),
        url=slot_url(slot),
        sequence=slot.sequence,
        status=slot_status(slot),
    )
    event.add("summary", ical_text(slot.title))
    event.add("description", ical_text(slot_description(slot)))
    categories = [tag for tag in map(clean_text, slot.tags) if tag]
    if categories:  # no tags, no CATEGORIES line (icalendar would write an empty one)
        value = vCategory(categories)
        value.cats = [ical_text(tag) for tag in categories]
        event.add("categories", value)
    if owner_id is not None:
        # Keep the details out of calendars the owner shares with others.
        event.add("class", "PRIVATE")
        for alarm in slot_alarms(slot):
            event.add_component(alarm)
    return event


def slot_status(slot: SlotEntry) -> STATUS:
    """CANCELLED for a cancelled slot; in a private feed TENTATIVE while the owner is invited."""
    if slot.status == "cancelled" or (slot.booking and slot.booking.status == "cancelled"):
        return STATUS.CANCELLED
    if slot.booking is not None and slot.booking.status == "invited":
        return STATUS.TENTATIVE
    return STATUS.CONFIRMED


def slot_uid(slot: SlotEntry, uid_domain: str, owner_id: str | None = None) -> str:
    """Stable for the slot's whole life; a private feed's copy is a distinct calendar object."""
    if owner_id is None:
        return f"{slot.id}@{uid_domain}"
    return f"{slot.id}.{owner_id}@{uid_domain}"


def slot_url(slot: SlotEntry) -> str:
    return slot_anchor(slot.event.page_url, slot.id)


def slot_alarms(slot: SlotEntry) -> list[Alarm]:
    """A display alarm at each of the event's reminder times; none for a cancelled slot."""
    if slot.booking is None or "cancelled" in (slot.status, slot.booking.status):
        return []
    alarms = []
    for minutes in sorted(set(slot.event.reminder_minutes), reverse=True):
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", ical_text(f"{slot.title} starts in {minutes} minutes"))
        alarm.add("trigger", timedelta(minutes=-minutes))
        alarms.append(alarm)
    return alarms


def slot_description(slot: SlotEntry) -> str:
    """The slot's own description first, then who is on, where, hashtags and where to get help."""
    paragraphs = [
        booking_paragraph(slot),
        clean_text(slot.description),
        people_paragraph(slot),
        clean_text(f"On {slot.channel_name}, {slot.event.title}"),
        " ".join(hashtag(tag) for tag in slot.event.hashtags),
        safety_line(slot),
        f"Watch live: {slot_url(slot)}",
    ]
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def booking_paragraph(slot: SlotEntry) -> str:
    """What only the owner of a private feed reads: their role, their answer, the changeover."""
    if slot.booking is None:
        return ""
    booking = slot.booking
    lines = [clean_text(f"Your booking: {booking.status}, as {booking.role}.")]
    if booking.status == "cancelled":
        return "\n".join([*lines, "The session is cancelled: there is nothing to prepare."])
    if booking.status == "invited":
        lines.append("Please accept or decline it in takeamoment.")
    if slot.event.changeover_minutes:
        lines.append(
            f"Changeover: {slot.event.changeover_minutes} minutes between sessions;"
            " be ready before the start."
        )
    return "\n".join(lines)


def people_paragraph(slot: SlotEntry) -> str:
    if not slot.people:
        return ""
    names = ", ".join(f"{p.name} (@{p.handle}, {p.role})" for p in slot.people)
    return clean_text(f"With {names}")


def hashtag(tag: str) -> str:
    tag = clean_text(tag).strip()
    return tag if tag.startswith("#") else f"#{tag}"


def safety_line(slot: SlotEntry) -> str:
    """One short line: the first helpline to call, and where the event lists them all.

    Every slot carries it, so it stays short: the full list (descriptions, links) is on the
    event's page, not repeated in each VEVENT of a feed that may hold a thousand.
    """
    resources = slot.event.safety_resources
    if not resources:
        return ""
    first = resources[0]
    name = f"{first.name} ({first.region})" if first.region else first.name
    call = f"{name}: {first.phone}" if first.phone else name
    return clean_text(f"Need support? {call}. All helplines: {slot.event.page_url}{HELP_ANCHOR}")


# --- time zones -------------------------------------------------------------------------------


def written_time(moment: datetime, zone_name: str) -> datetime:
    """``moment`` as the feed writes it: local time in the zone, or UTC where that is ambiguous.

    A local time that occurs twice (the hour repeated when clocks go back) is read as its first
    occurrence by RFC 5545 but as its second by some readers (vobject, through dateutil), so
    both passes of that hour are written in UTC, which every reader understands alike.
    """
    zone = _zone(zone_name)
    if zone is None:
        return moment.astimezone(UTC)
    local = moment.astimezone(zone)
    first, second = local.replace(fold=0), local.replace(fold=1)
    if first.utcoffset() != second.utcoffset():
        return moment.astimezone(UTC)
    return first


def vtimezones(slots: Iterable[SlotEntry]) -> list[tuple[str, int, int]]:
    """Each TZID the slots are written in, with the first and last year written in it."""
    years: dict[str, set[int]] = defaultdict(set)
    for slot in slots:
        for moment in (slot.starts_at, slot.ends_at):
            written = written_time(moment, slot.event.timezone)
            if isinstance(written.tzinfo, ZoneInfo):
                years[written.tzinfo.key].add(written.year)
    return [(tzid, min(used), max(used)) for tzid, used in sorted(years.items())]


def empty_feed_vtimezone(info: CalendarInfo) -> bytes:
    """The VTIMEZONE of the feed's zone for the year of its last change (UTC when it has none)."""
    zone = _zone(info.timezone) if info.timezone else None
    if not isinstance(zone, ZoneInfo):
        return utc_vtimezone_bytes()
    year = info.changed_at.astimezone(zone).year
    return vtimezone_bytes(zone.key, year, year)


@lru_cache(maxsize=128)
def _zone(zone_name: str) -> tzinfo | None:
    """The zone to write local times in; None for UTC-like or unknown zones (then UTC)."""
    if zone_name in UTC_ZONES:
        return None
    try:
        return ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
