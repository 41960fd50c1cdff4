"""A ``VTIMEZONE`` that calendar readers read alike: ``RRULE`` form where the zone has rules.

``icalendar``'s ``Timezone.from_tzinfo`` writes each observance as a ``DTSTART`` and a list of
``RDATE``s, and its ``DAYLIGHT`` onsets an hour late. ical.js (behind many web calendars) and
Outlook misread that form once a feed spans two years. Here the zone's transitions over the years
a feed covers are read from ``zoneinfo``; when every year follows the same rule (one clock change
forward and one back, each on the same month, weekday of the month and local time) the zone is
written as one ``STANDARD`` and one ``DAYLIGHT`` part, each with
``RRULE:FREQ=YEARLY;BYMONTH=..;BYDAY=..``. Otherwise (a zone whose rules changed within those
years) each transition is a part of its own. A zone that does not change its clocks gets a
single ``STANDARD`` part. Every ``DTSTART`` is the local time just before the change, in the
``TZOFFSETFROM`` offset, as RFC 5545 says.

Pure: the standard library and ``icalendar`` only; the same arguments give the same bytes.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY = timedelta(days=1)
# For a zone without clock changes, and for UTC: the conventional start of its single part.
_FIXED_ONSET = datetime(1970, 1, 1)  # noqa: DTZ001 - a local (floating) time, as RFC 5545 wants


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of the zone's clocks: when (UTC), from and to which offset, and its name."""

    at: datetime
    offset_from: timedelta
    offset_to: timedelta
    name: str

    @property
    def local_onset(self) -> datetime:
        """The local time of the change in the offset before it (naive)."""
        return (self.at + self.offset_from).replace(tzinfo=None)

    @property
    def forward(self) -> bool:
        """Clocks go forward: summer time begins (a DAYLIGHT part)."""
        return self.offset_to > self.offset_from

    def rule_key(self) -> tuple[object, ...] | None:
        """What must be equal, year after year, for one RRULE to describe this change."""
        onset = self.local_onset
        byday = _byday(onset)
        if byday is None:
            return None
        return (
            self.forward,
            self.offset_from,
            self.offset_to,
            self.name,
            onset.month,
            byday,
            onset.time(),
        )


def _byday(onset: datetime) -> str | None:
    """``-1SU`` (last) or ``2SU`` (second) etc. for the onset's weekday within its month."""
    weekday = _WEEKDAYS[onset.weekday()]
    days_in_month = calendar.monthrange(onset.year, onset.month)[1]
    if onset.day + 7 > days_in_month:
        return f"-1{weekday}"
    return f"{(onset.day - 1) // 7 + 1}{weekday}"


def _state(zone: ZoneInfo, moment: datetime) -> tuple[timedelta, str]:
    local = moment.astimezone(zone)
    return local.utcoffset() or timedelta(0), local.tzname() or ""


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[Transition]:
    """The zone's clock changes between two UTC instants (each found to the second)."""
    found = []
    day = start
    before = _state(zone, day)
    while day < end:
        after = _state(zone, day + _DAY)
        if after != before:
            found.append(Transition(_change_in(zone, day, before), before[0], after[0], after[1]))
        before = after
        day += _DAY
    return found


def _change_in(zone: ZoneInfo, day: datetime, before: tuple[timedelta, str]) -> datetime:
    """The first whole second of the day starting at ``day`` that is no longer ``before``."""
    low, high = int(day.timestamp()), int((day + _DAY).timestamp())  # change in (low, high]
    while high - low > 1:
        middle = (low + high) // 2
        if _state(zone, datetime.fromtimestamp(middle, UTC)) == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=256)
def vtimezone_bytes(tzid: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE of ``tzid`` for events from ``first_year`` to ``last_year``, as bytes."""
    body: bytes = vtimezone(tzid, first_year, last_year).to_ical()
    return body


def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """The VTIMEZONE of ``tzid`` for events from ``first_year`` to ``last_year``.

    The year before ``first_year`` is read too, so that every covered moment comes after the
    first onset of its part.
    """
    zone = ZoneInfo(tzid)
    start = datetime(first_year - 1, 1, 1, tzinfo=UTC)
    changes = transitions(zone, start, datetime(last_year + 1, 1, 1, tzinfo=UTC))
    timezone = Timezone()
    timezone.add("tzid", tzid)
    if not changes:
        offset, name = _state(zone, start)
        timezone.add_component(_part(False, _FIXED_ONSET, offset, offset, name))
        return timezone
    rules = _yearly_rules(changes, first_year - 1, last_year)
    if rules is not None:
        for change in rules:
            part = _part(change.forward, change.local_onset, *_offsets(change), change.name)
            recur = {"FREQ": "YEARLY", "BYMONTH": change.local_onset.month}
            part.add("rrule", vRecur({**recur, "BYDAY": _byday(change.local_onset)}))
            timezone.add_component(part)
        return timezone
    # Irregular: what held at the start, then one part per change.
    offset, name = _state(zone, start)
    local_start = (start + offset).replace(tzinfo=None)
    timezone.add_component(_part(False, local_start, offset, offset, name))
    for change in changes:
        timezone.add_component(
            _part(change.forward, change.local_onset, *_offsets(change), change.name)
        )
    return timezone


def _yearly_rules(
    changes: list[Transition], first_year: int, last_year: int
) -> list[Transition] | None:
    """The first change of each kind, when every year has the same two changes; else None."""
    by_year: dict[int, list[Transition]] = {}
    for change in changes:
        by_year.setdefault(change.local_onset.year, []).append(change)
    if sorted(by_year) != list(range(first_year, last_year + 1)):
        return None
    keys = set()
    for year_changes in by_year.values():
        if sorted(change.forward for change in year_changes) != [False, True]:
            return None
        keys |= {change.rule_key() for change in year_changes}
    if None in keys or len(keys) != 2:
        return None
    first = by_year[first_year]
    return sorted(first, key=lambda change: not change.forward)  # DAYLIGHT, then STANDARD


def _offsets(change: Transition) -> tuple[timedelta, timedelta]:
    return change.offset_from, change.offset_to


def _part(
    daylight: bool, onset: datetime, offset_from: timedelta, offset_to: timedelta, name: str
) -> TimezoneStandard | TimezoneDaylight:
    part = TimezoneDaylight() if daylight else TimezoneStandard()
    part.add("dtstart", onset)
    part.add("tzoffsetfrom", offset_from)
    part.add("tzoffsetto", offset_to)
    if name:
        part.add("tzname", name)
    return part


def utc_vtimezone_bytes() -> bytes:
    """A VTIMEZONE for UTC: what an empty feed without a zone of its own still holds."""
    timezone = Timezone()
    timezone.add("tzid", "UTC")
    timezone.add_component(_part(False, _FIXED_ONSET, timedelta(0), timedelta(0), "UTC"))
    body: bytes = timezone.to_ical()
    return body
