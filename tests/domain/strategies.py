"""Hypothesis strategies for the domain tests: whole minutes around the clock changes of 2030.

Every time is drawn as a number of minutes after a UTC origin five hours before a daylight-saving
change, then written as an aware datetime in Europe/London, America/New_York or UTC. The tests'
oracles reason on the minute numbers while the rules see zoned datetimes, so a rule that compares
wall clocks instead of instants disagrees with its oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st

from takeamoment.domain.booking_rules import PlacedSlot
from takeamoment.domain.intervals import Interval

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
ZONES: tuple[tzinfo, ...] = (LONDON, NEW_YORK, UTC)

# The instants at which the clocks of LONDON and NEW_YORK change in 2030.
CLOCK_CHANGES_2030 = (
    (NEW_YORK, datetime(2030, 3, 10, 7, tzinfo=UTC)),
    (LONDON, datetime(2030, 3, 31, 1, tzinfo=UTC)),
    (LONDON, datetime(2030, 10, 27, 1, tzinfo=UTC)),
    (NEW_YORK, datetime(2030, 11, 3, 6, tzinfo=UTC)),
)
GRID_MINUTES = 600
ORIGINS = tuple(change - timedelta(minutes=GRID_MINUTES // 2) for _, change in CLOCK_CHANGES_2030)

# Rule tests are cheap; a fixed budget keeps the whole domain suite to a few seconds, and no
# deadline keeps a slow machine from failing a test on time alone.
fast = settings(max_examples=100, deadline=None)


class Span(NamedTuple):
    """Whole minutes ``[start, end)`` after a grid's origin."""

    start: int
    end: int

    @property
    def minutes(self) -> range:
        return range(self.start, self.end)


@dataclass(frozen=True)
class Grid:
    """Turns minute numbers into aware datetimes written in ``zone``."""

    origin: datetime
    zone: tzinfo

    def at(self, minute: float, zone: tzinfo | None = None) -> datetime:
        instant = self.origin + timedelta(minutes=minute)
        return instant.astimezone(zone or self.zone)

    def interval(self, span: Span, zone: tzinfo | None = None) -> Interval:
        return Interval(starts_at=self.at(span.start, zone), ends_at=self.at(span.end, zone))

    def slot(self, slot: GridSlot) -> PlacedSlot:
        return PlacedSlot(
            slot_id=slot.slot_id,
            interval=self.interval(slot.span),
            changeover=timedelta(minutes=slot.changeover_minutes),
        )


@dataclass(frozen=True)
class GridSlot:
    """A slot described in minute numbers, for the oracles."""

    slot_id: str
    span: Span
    changeover_minutes: int


grids = st.builds(Grid, origin=st.sampled_from(ORIGINS), zone=st.sampled_from(ZONES))

# Quarter hours make touching and back-to-back spans common; single minutes find the off-by-ones.
minutes = st.one_of(st.integers(0, GRID_MINUTES // 15).map(lambda q: q * 15), st.integers(0, 600))
lengths = st.one_of(st.integers(1, 16).map(lambda q: q * 15), st.integers(1, 240))
spans = st.builds(lambda start, length: Span(start, start + length), minutes, lengths)
changeover_minutes = st.one_of(st.sampled_from([0, 5, 15, 60]), st.integers(0, 90))
slot_ids = st.sampled_from(["s1", "s2", "s3", "s4", "s5"])
grid_slots = st.builds(
    GridSlot, slot_id=slot_ids, span=spans, changeover_minutes=changeover_minutes
)
