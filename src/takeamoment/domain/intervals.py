"""Half-open time intervals ``[starts_at, ends_at)`` of instants, held in UTC."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from takeamoment.domain.errors import InvalidSchedule


class Timed(Protocol):
    """Anything with a start and an end: a slot, an event, an availability window."""

    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """A stretch of time, held in UTC whatever zone it came in; back to back is no overlap."""

    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.starts_at.utcoffset() is None or self.ends_at.utcoffset() is None:
            raise InvalidSchedule("datetimes must be timezone-aware")
        # Python compares and subtracts datetimes of the same zone by wall clock, which is wrong
        # across a daylight-saving change; held in UTC, every comparison is one of instants.
        object.__setattr__(self, "starts_at", self.starts_at.astimezone(UTC))
        object.__setattr__(self, "ends_at", self.ends_at.astimezone(UTC))
        if self.ends_at <= self.starts_at:
            raise InvalidSchedule("ends_at must be after starts_at")

    @classmethod
    def of(cls, timed: Timed) -> Interval:
        """The scheduled span of a slot (an event, a window): ``[starts_at, ends_at)``.

        What a slot showed on air is ``slot_states.times_on_air``.
        """
        return cls(starts_at=timed.starts_at, ends_at=timed.ends_at)

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at

    def overlaps(self, other: Interval) -> bool:
        """True when the two share any instant (touching ends do not count)."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def contains(self, other: Interval) -> bool:
        """True when ``other`` lies wholly inside this interval."""
        return self.starts_at <= other.starts_at and other.ends_at <= self.ends_at

    def gap_to(self, other: Interval) -> timedelta:
        """Time between the two (zero when they touch or overlap)."""
        if self.overlaps(other):
            return timedelta(0)
        if self.ends_at <= other.starts_at:
            return other.starts_at - self.ends_at
        return self.starts_at - other.ends_at

    def shifted(self, by: timedelta) -> Interval:
        return Interval(starts_at=self.starts_at + by, ends_at=self.ends_at + by)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of the intervals as a sorted list; touching intervals join into one."""
    merged: list[Interval] = []
    for current in sorted(intervals, key=lambda i: i.starts_at):
        if merged and current.starts_at <= merged[-1].ends_at:
            last = merged[-1]
            merged[-1] = Interval(
                starts_at=last.starts_at, ends_at=max(last.ends_at, current.ends_at)
            )
        else:
            merged.append(current)
    return merged
