"""Properties of ``Interval`` and ``merge``, checked against brute force on a minute grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.errors import InvalidSchedule
from takeamoment.domain.intervals import Interval, merge
from tests.domain.strategies import (
    CLOCK_CHANGES_2030,
    LONDON,
    NEW_YORK,
    ZONES,
    Grid,
    Span,
    fast,
    grids,
    lengths,
    minutes,
    spans,
)


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: Python counts such datetimes as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def _covered(span: Span, minute: float) -> bool:
    return span.start <= minute < span.end


def test_the_grid_straddles_a_real_clock_change() -> None:
    for zone, change in CLOCK_CHANGES_2030:
        before = (change - timedelta(seconds=1)).astimezone(zone).utcoffset()
        after = change.astimezone(zone).utcoffset()
        assert before is not None and after is not None
        assert abs(after - before) == timedelta(hours=1)


@fast
@given(
    starts_at=st.datetimes(),
    ends_at=st.datetimes(),
    naive_end=st.sampled_from(["start", "end", "both"]),
)
def test_naive_datetimes_are_refused(
    starts_at: datetime, ends_at: datetime, naive_end: str
) -> None:
    if naive_end == "end":
        starts_at = starts_at.replace(tzinfo=UTC)
    if naive_end == "start":
        ends_at = ends_at.replace(tzinfo=LONDON)
    with pytest.raises(InvalidSchedule, match="timezone-aware"):
        Interval(starts_at=starts_at, ends_at=ends_at)


def test_a_tzinfo_without_an_offset_counts_as_naive() -> None:
    starts_at = datetime(2030, 1, 1, 10, tzinfo=_NoOffset())
    with pytest.raises(InvalidSchedule, match="timezone-aware"):
        Interval(starts_at=starts_at, ends_at=datetime(2030, 1, 1, 11, tzinfo=UTC))


@fast
@given(grid=grids, start=minutes, back=st.integers(0, 240))
def test_an_interval_that_does_not_end_after_it_starts_is_refused(
    grid: Grid, start: int, back: int
) -> None:
    with pytest.raises(InvalidSchedule, match="after"):
        Interval(starts_at=grid.at(start), ends_at=grid.at(start - back))


@fast
@given(grid=grids, span=spans)
def test_an_interval_keeps_its_instants_and_elapsed_duration(grid: Grid, span: Span) -> None:
    interval = grid.interval(span)
    assert interval.starts_at == grid.at(span.start, UTC)
    assert interval.ends_at == grid.at(span.end, UTC)
    assert interval.duration == timedelta(minutes=span.end - span.start)


def test_an_interval_across_the_autumn_change_is_valid_although_its_wall_clock_goes_back() -> None:
    starts_at = datetime(2030, 10, 27, 0, 30, tzinfo=UTC).astimezone(LONDON)  # 01:30 BST
    ends_at = datetime(2030, 10, 27, 1, 15, tzinfo=UTC).astimezone(LONDON)  # 01:15 GMT
    assert ends_at.replace(tzinfo=None) < starts_at.replace(tzinfo=None)

    interval = Interval(starts_at=starts_at, ends_at=ends_at)

    assert interval.duration == timedelta(minutes=45)


@fast
@given(grid=grids, span=spans, zone_a=st.sampled_from(ZONES), zone_b=st.sampled_from(ZONES))
def test_the_same_instants_make_the_same_interval_in_any_zone(
    grid: Grid, span: Span, zone_a: tzinfo, zone_b: tzinfo
) -> None:
    assert grid.interval(span, zone_a) == grid.interval(span, zone_b)


@fast
@given(grid=grids, a=spans, b=spans)
def test_overlaps_is_symmetric(grid: Grid, a: Span, b: Span) -> None:
    assert grid.interval(a).overlaps(grid.interval(b)) == grid.interval(b).overlaps(
        grid.interval(a)
    )


@fast
@given(grid=grids, start=minutes, first=lengths, second=lengths, zone=st.sampled_from(ZONES))
def test_back_to_back_slots_do_not_overlap(
    grid: Grid, start: int, first: int, second: int, zone: tzinfo
) -> None:
    earlier = grid.interval(Span(start, start + first))
    later = grid.interval(Span(start + first, start + first + second), zone)

    assert not earlier.overlaps(later)
    assert not later.overlaps(earlier)
    assert earlier.gap_to(later) == timedelta(0)


@fast
@given(grid=grids, a=spans, b=spans)
def test_overlap_agrees_with_a_minute_grid(grid: Grid, a: Span, b: Span) -> None:
    share_a_minute = bool(set(a.minutes) & set(b.minutes))
    assert grid.interval(a).overlaps(grid.interval(b)) == share_a_minute


@fast
@given(grid=grids, outer=spans, inner=spans)
def test_contains_agrees_with_a_minute_grid(grid: Grid, outer: Span, inner: Span) -> None:
    every_minute_inside = set(inner.minutes) <= set(outer.minutes)
    assert grid.interval(outer).contains(grid.interval(inner)) == every_minute_inside


@fast
@given(grid=grids, span=spans)
def test_an_interval_contains_itself(grid: Grid, span: Span) -> None:
    assert grid.interval(span).contains(grid.interval(span))


@fast
@given(grid=grids, a=spans, b=spans)
def test_gap_to_is_the_elapsed_time_between_the_two(grid: Grid, a: Span, b: Span) -> None:
    gap_minutes = max(0, max(a.start, b.start) - min(a.end, b.end))
    expected = timedelta(minutes=gap_minutes)

    assert grid.interval(a).gap_to(grid.interval(b)) == expected
    assert grid.interval(b).gap_to(grid.interval(a)) == expected


@fast
@given(grid=grids, span=spans, by=st.integers(-300, 300))
def test_shifted_moves_both_ends_by_elapsed_time(grid: Grid, span: Span, by: int) -> None:
    moved = grid.interval(span).shifted(timedelta(minutes=by))
    assert moved == grid.interval(Span(span.start + by, span.end + by))


def test_merge_of_nothing_is_nothing() -> None:
    assert merge([]) == []


@fast
@given(grid=grids, given_spans=st.lists(spans, max_size=8))
def test_merge_gives_sorted_disjoint_non_touching_intervals(
    grid: Grid, given_spans: list[Span]
) -> None:
    merged = merge(grid.interval(span) for span in given_spans)

    for earlier, later in zip(merged, merged[1:], strict=False):
        assert earlier.ends_at < later.starts_at


@fast
@given(grid=grids, given_spans=st.lists(spans, max_size=8))
def test_merge_covers_exactly_the_instants_of_its_input(
    grid: Grid, given_spans: list[Span]
) -> None:
    merged = merge(grid.interval(span) for span in given_spans)

    # Coverage can only change at a bound: each bound, a point just either side of it and the
    # midpoints between bounds sample every stretch the union can have.
    bounds = sorted({bound for span in given_spans for bound in span})
    samples = {b + d for b in bounds for d in (-0.5, 0, 0.5)}
    samples |= {(a + b) / 2 for a, b in zip(bounds, bounds[1:], strict=False)}
    for minute in sorted(samples):
        instant = grid.at(minute)
        in_input = any(_covered(span, minute) for span in given_spans)
        in_merged = any(i.starts_at <= instant < i.ends_at for i in merged)
        assert in_merged == in_input, minute


@fast
@given(grid=grids, given_spans=st.lists(spans, max_size=8))
def test_merging_twice_changes_nothing(grid: Grid, given_spans: list[Span]) -> None:
    merged = merge(grid.interval(span) for span in given_spans)
    assert merge(merged) == merged


def test_merge_joins_windows_written_in_different_zones() -> None:
    grid = Grid(origin=CLOCK_CHANGES_2030[2][1], zone=LONDON)
    morning = grid.interval(Span(0, 60), LONDON)
    afternoon = grid.interval(Span(60, 120), NEW_YORK)

    assert merge([afternoon, morning]) == [grid.interval(Span(0, 120), UTC)]


@fast
@given(grid=grids, span=spans)
def test_the_interval_of_a_slot_is_its_scheduled_span_in_utc(grid: Grid, span: Span) -> None:
    class Slot:  # any record with a start and an end: a table row, a view, a window
        starts_at = grid.at(span.start)
        ends_at = grid.at(span.end)

    interval = Interval.of(Slot())

    # In UTC on both sides: PEP 495 makes a time in a fold unequal to any other zone's.
    assert interval == Interval(starts_at=grid.at(span.start, UTC), ends_at=grid.at(span.end, UTC))
    assert interval.starts_at.tzinfo is UTC and interval.ends_at.tzinfo is UTC
