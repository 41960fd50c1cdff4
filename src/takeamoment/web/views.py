"""What the pages show, shaped for the templates: channels with their slots, now and next, feeds.

Times stay aware UTC datetimes here; templates print them in UTC inside ``<time datetime>``
elements and the page's script shows them in the viewer's own zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from takeamoment.domain.intervals import Interval
from takeamoment.domain.now_next import now_and_next
from takeamoment.domain.slot_states import times_on_air
from takeamoment.services.inputs import is_http_url
from takeamoment.services.views import EventPublic, SafetyResource, SlotPublic
from takeamoment.urls import webcal

# What a viewer can read about any slot's state (never colour alone).
STATUS_LABELS = {
    "scheduled": "Scheduled",
    "live": "Live now",
    "ended": "Ended",
    "cancelled": "Cancelled",
}
# A scheduled slot whose start has passed without it going live.
OVERDUE_LABEL = "Starting soon"
# Shown when an event lists no helplines of its own: a mental-health event never shows none.
FALLBACK_HELPLINE = SafetyResource(
    name="Find A Helpline",
    url="https://findahelpline.com",
    region="International",
    description="Free, confidential support in your country. In danger now? Call your local "
    "emergency number.",
)
_DIALLABLE = re.compile(r"\+?[0-9][0-9 \-]*[0-9]")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelBoard:
    """One channel: its slots by start, what is on now and next (``domain/now_next.py``), feeds."""

    slug: str
    name: str
    slots: list[SlotPublic]
    stream_url: str | None
    live: tuple[SlotPublic, ...]
    next: SlotPublic | None
    feed_url: str
    webcal_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Helpline:
    resource: SafetyResource
    tel_href: str | None
    # Only an http(s) URL is ever a link, even if an older row holds something else.
    link_href: str | None = None


def shown_times(slot: SlotPublic) -> Interval:
    """The times a page shows: what happened for a live or ended slot, else the schedule."""
    return times_on_air(slot.starts_at, slot.ends_at, slot.actual_started_at, slot.actual_ended_at)


def status_label(slot: SlotPublic) -> str:
    """The slot's state in words: "Starting soon" when overdue, never only a colour."""
    return OVERDUE_LABEL if slot.overdue else STATUS_LABELS.get(slot.status, slot.status)


def hashtag(tag: str) -> str:
    """A tag or hashtag as shown: with exactly one ``#`` (stored without)."""
    return "#" + tag.lstrip("#")


def channel_boards(
    event: EventPublic, slots: Sequence[SlotPublic], now: datetime | None = None
) -> list[ChannelBoard]:
    """Every channel of the event in its order, even one without slots yet."""
    moment = now or datetime.now(UTC)
    boards = []
    for channel in event.channels:
        own = sorted((s for s in slots if s.channel == channel.slug), key=lambda s: s.starts_at)
        shown = now_and_next(own, moment)
        feed_url = f"{event.calendar_url}?channel={quote(channel.slug, safe='')}"
        boards.append(
            ChannelBoard(
                slug=channel.slug,
                name=channel.name,
                slots=own,
                stream_url=channel.stream_url,
                live=shown.live,
                next=shown.next,
                feed_url=feed_url,
                webcal_url=webcal(feed_url),
            )
        )
    return boards


def helplines(event: EventPublic) -> list[Helpline]:
    """The event's safety resources, or a fallback; a phone number gets a ``tel:`` link."""
    resources = event.safety_resources or [FALLBACK_HELPLINE]
    return [
        Helpline(
            resource=resource,
            tel_href=(
                "tel:" + re.sub(r"[ \-]", "", resource.phone)
                if resource.phone and _DIALLABLE.fullmatch(resource.phone)
                else None
            ),
            link_href=resource.url if resource.url and is_http_url(resource.url) else None,
        )
        for resource in resources
    ]


def iso(moment: datetime) -> str:
    """The machine-readable UTC time of a ``<time datetime>`` element."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_label(moment: datetime) -> str:
    """What a ``<time>`` element says before the script shows it in the viewer's zone."""
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def utc_clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M UTC")
