"""Three independent iCalendar readers, reduced to what the feeds promise about each VEVENT.

``icalendar`` writes our feeds; ``vobject`` (with validation) and ``ics`` do not, so they stand in
for the calendar apps: a feed they read differently is a feed some app reads differently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import ics
import vobject


@dataclass(frozen=True, slots=True)
class ReadEvent:
    """One VEVENT as a reader understood it; times in UTC."""

    uid: str
    summary: str
    starts_at: datetime
    ends_at: datetime
    status: str
    sequence: int
    categories: frozenset[str]
    description: str
    alarms: tuple[timedelta, ...]


Reader = Callable[[str], dict[str, ReadEvent]]


def read_with_icalendar(text: str) -> dict[str, ReadEvent]:
    calendar = icalendar.Calendar.from_ical(text)
    events = {}
    for event in calendar.walk("VEVENT"):
        categories = event.get("CATEGORIES")
        alarms = tuple(sorted(alarm.decoded("TRIGGER") for alarm in event.walk("VALARM")))
        events[str(event["UID"])] = ReadEvent(
            uid=str(event["UID"]),
            summary=str(event["SUMMARY"]),
            starts_at=event.decoded("DTSTART").astimezone(UTC),
            ends_at=event.decoded("DTEND").astimezone(UTC),
            status=str(event["STATUS"]),
            sequence=int(event["SEQUENCE"]),
            categories=frozenset(str(c) for c in categories.cats) if categories else frozenset(),
            description=str(event["DESCRIPTION"]),
            alarms=alarms,
        )
    return events


def read_with_vobject(text: str) -> dict[str, ReadEvent]:
    calendar: Any = vobject.readOne(text)
    calendar.validate()
    events = {}
    for event in calendar.contents.get("vevent", []):
        categories = [c for line in event.contents.get("categories", []) for c in line.value]
        alarms = tuple(sorted(alarm.trigger.value for alarm in event.contents.get("valarm", [])))
        events[event.uid.value] = ReadEvent(
            uid=event.uid.value,
            summary=event.summary.value,
            starts_at=event.dtstart.value.astimezone(UTC),
            ends_at=event.dtend.value.astimezone(UTC),
            status=event.status.value,
            sequence=int(event.sequence.value),
            categories=frozenset(categories),
            description=event.description.value,
            alarms=alarms,
        )
    return events


def read_with_ics(text: str) -> dict[str, ReadEvent]:
    calendar = ics.Calendar(text)
    events = {}
    for event in calendar.events:
        extra = {line.name: line.value for line in event.extra}
        events[event.uid] = ReadEvent(
            uid=event.uid,
            summary=event.name or "",
            starts_at=event.begin.datetime.astimezone(UTC),
            ends_at=event.end.datetime.astimezone(UTC),
            status=event.status or "",
            sequence=int(extra["SEQUENCE"]),  # ics keeps SEQUENCE among the unknown lines
            categories=frozenset(event.categories),
            description=event.description or "",
            alarms=tuple(sorted(alarm.trigger for alarm in event.alarms)),
        )
    return events


READERS: dict[str, Reader] = {
    "icalendar": read_with_icalendar,
    "vobject": read_with_vobject,
    "ics": read_with_ics,
}


def read_everywhere(text: str) -> dict[str, ReadEvent]:
    """The events as all three readers agree they are; fails naming the reader that differs."""
    reference = read_with_icalendar(text)
    for name, reader in READERS.items():
        assert reader(text) == reference, f"{name} reads the feed differently from icalendar"
    return reference


def content_lines(body: bytes) -> list[str]:
    """The feed's logical lines: CRLF-separated, folding undone, decoded."""
    assert body.endswith(b"\r\n")
    unfolded = body.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")
    return [line.decode() for line in unfolded.split(b"\r\n")[:-1]]


def property_names(body: bytes, component: str = "VEVENT") -> list[list[str]]:
    """The property names of each ``component``, in order (nested components left out)."""
    found: list[list[str]] = []
    open_components: list[str] = []
    for line in content_lines(body):
        head, _, value = line.partition(":")
        name = head.split(";", 1)[0]
        if name == "BEGIN":
            open_components.append(value)
            if value == component:
                found.append([])
        elif name == "END":
            assert open_components.pop() == value
        elif open_components and open_components[-1] == component:
            found[-1].append(name)
    assert not open_components
    return found


def assert_well_formed(body: bytes) -> None:
    """CRLF line ends only, physical lines of at most 75 octets, valid UTF-8."""
    body.decode("utf-8")
    lines = body.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert b"\r" not in line and b"\n" not in line, line
        assert len(line) <= 75, line
