"""Notices in words: the title and plain-text body of every kind, in the person's time zone.

A pure function of (kind, payload, zone): no I/O, no clock. A new kind is one entry in
``_WORDING``; an unknown kind still gets a plain title and body. The same words go on the
stream, in the push notification and in the email.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from takeamoment.urls import ME, event_page, slot_anchor

Payload = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Words:
    title: str
    body: str


class _Local:
    """The payload's times, read in one zone."""

    def __init__(self, zone: str) -> None:
        try:
            self.zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")

    def moment(self, value: str | None) -> datetime | None:
        if not value:
            return None
        return datetime.fromisoformat(value).astimezone(self.zone)

    def clock(self, value: str | None) -> str:
        moment = self.moment(value)
        return moment.strftime("%H:%M") if moment else "?"

    def day_and_clock(self, value: str | None) -> str:
        moment = self.moment(value)
        if moment is None:
            return "?"
        return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b %H:%M %Z')}"

    def span(self, starts: str | None, ends: str | None) -> str:
        start = self.moment(starts)
        day = f"{start.strftime('%a')} {start.day} {start.strftime('%b')}, " if start else ""
        zone = start.strftime(" %Z") if start else ""
        return f"{day}{self.clock(starts)}–{self.clock(ends)}{zone}"


def _slot(payload: Payload) -> Mapping[str, Any]:
    slot = payload.get("slot")
    return slot if isinstance(slot, Mapping) else {}


def _named(payload: Payload) -> str:
    """'Title', Channel name — how a person recognises a slot."""
    slot = _slot(payload)
    return (
        f"'{slot.get('title', 'your session')}', {slot.get('channel_name') or slot.get('channel')}"
    )


def _invited(payload: Payload, local: _Local) -> Words:
    slot = _slot(payload)
    role = payload.get("role", "guest")
    when = local.span(slot.get("starts_at"), slot.get("ends_at"))
    return Words(
        title=f"You're invited: '{slot.get('title')}'",
        body=f"You're invited as {role} to {_named(payload)}, {when}. "
        "Accept or decline on your page.",
    )


def _reminder(payload: Payload, local: _Local) -> Words:
    minutes = payload.get("minutes_before")
    ahead = f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes else "a moment"
    clock = local.clock(_slot(payload).get("starts_at"))
    return Words(
        title=f"You're on in {ahead}",
        body=f"You're on in {ahead}: {_named(payload)}, {clock}",
    )


def _go_live(payload: Payload, local: _Local) -> Words:
    return Words(title="You're on now", body=f"You're on now: {_named(payload)}")


def _standby(payload: Payload, local: _Local) -> Words:
    slot = _slot(payload)
    expected = payload.get("expected_start")
    when = f", expected at {local.clock(expected)}" if expected else ""
    return Words(
        title="Stand by",
        body=f"Stand by: {_named(payload)} starts as soon as {slot.get('channel_name')} "
        f"is free{when}",
    )


def _moved(payload: Payload, local: _Local) -> Words:
    slot = _slot(payload)
    now = local.span(payload.get("starts_at") or slot.get("starts_at"), payload.get("ends_at"))
    was = local.span(payload.get("previous_starts_at"), payload.get("previous_ends_at"))
    body = f"Moved: {_named(payload)} is now {now} (was {was})"
    if payload.get("booking_status") == "conflicted":
        body += ". You can no longer be on it at the new time: your booking was released"
    return Words(title=f"Moved: '{slot.get('title')}'", body=body)


def _cancelled(payload: Payload, local: _Local) -> Words:
    slot = _slot(payload)
    when = local.span(slot.get("starts_at"), slot.get("ends_at"))
    return Words(
        title=f"Cancelled: '{slot.get('title')}'",
        body=f"Cancelled: {_named(payload)}, {when}. You are no longer needed for it",
    )


def _removed(payload: Payload, local: _Local) -> Words:
    slot = _slot(payload)
    when = local.span(slot.get("starts_at"), slot.get("ends_at"))
    return Words(
        title=f"You're off '{slot.get('title')}'",
        body=f"You're no longer booked for {_named(payload)}, {when}",
    )


_WORDING: dict[str, Callable[[Payload, _Local], Words]] = {
    "booking.invited": _invited,
    "reminder": _reminder,
    "go_live": _go_live,
    "standby": _standby,
    "schedule.changed": _moved,
    "slot.cancelled": _cancelled,
    "booking.removed": _removed,
}


def local_span(starts_at: str, ends_at: str, zone: str) -> str:
    """``Thu 10 Oct, 10:30–11:00 BST``: a slot's time as a person in ``zone`` reads it."""
    return _Local(zone).span(starts_at, ends_at)


def local_moment(moment: str, zone: str) -> str:
    """``Thu 10 Oct 10:30 BST``: one instant as a person in ``zone`` reads it."""
    return _Local(zone).day_and_clock(moment)


def words_for(kind: str, payload: Payload, zone: str) -> Words:
    """The title and body of a notice of ``kind`` for a person in ``zone`` (an IANA name)."""
    wording = _WORDING.get(kind)
    local = _Local(zone)
    if wording is None:
        return Words(title=kind, body=f"{kind}: {_named(payload)}")
    return wording(payload, local)


# Where a notice sends the person: their own page, or the event page for what happens on air.
_EVENT_PAGE_KINDS = frozenset({"go_live", "slot.cancelled"})


def notice_path(kind: str, payload: Payload) -> str:
    """The path (under the public URL) a notice links to."""
    slot = _slot(payload)
    event = payload.get("event") or slot.get("event")
    if kind in _EVENT_PAGE_KINDS and event:
        return slot_anchor(event_page(event), str(slot.get("id")))
    return ME
