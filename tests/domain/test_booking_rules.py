"""Properties of the booking rules, each compared with an oracle that reasons on minute numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.booking_rules import (
    Licence,
    PlacedSlot,
    check_inside_event,
    find_availability_conflicts,
    find_channel_conflicts,
    find_person_conflicts,
    licence_problem,
)
from takeamoment.domain.errors import ConflictKind
from takeamoment.domain.intervals import Interval
from tests.domain.strategies import (
    LONDON,
    Grid,
    GridSlot,
    Span,
    fast,
    grid_slots,
    grids,
    spans,
)

PERSON = "p1"


def _spans_overlap(a: Span, b: Span) -> bool:
    return bool(set(a.minutes) & set(b.minutes))


def _expected_person_kind(candidate: GridSlot, other: GridSlot) -> ConflictKind | None:
    """The rule in words: no shared minute, and after the slot that ends first, its changeover."""
    if _spans_overlap(candidate.span, other.span):
        return "person_overlap"
    earlier, later = sorted((candidate, other), key=lambda slot: slot.span.end)
    free_again = earlier.span.end + earlier.changeover_minutes
    if later.span.start < free_again:
        return "changeover"
    return None


def _person_kinds(grid: Grid, candidate: GridSlot, booked: list[GridSlot]) -> list[ConflictKind]:
    conflicts = find_person_conflicts(
        PERSON, grid.slot(candidate), [grid.slot(slot) for slot in booked]
    )
    return [conflict.kind for conflict in conflicts]


# Channel


@fast
@given(grid=grids, candidate=grid_slots, others=st.lists(grid_slots, max_size=6))
def test_a_channel_conflict_for_exactly_each_other_slot_that_overlaps(
    grid: Grid, candidate: GridSlot, others: list[GridSlot]
) -> None:
    conflicts = find_channel_conflicts(grid.slot(candidate), [grid.slot(o) for o in others])

    expected = [
        other.slot_id
        for other in others
        if other.slot_id != candidate.slot_id and _spans_overlap(other.span, candidate.span)
    ]
    assert [conflict.conflicting_slot_id for conflict in conflicts] == expected
    for conflict in conflicts:
        assert conflict.kind == "channel_overlap"
        assert conflict.slot_id == candidate.slot_id
        assert conflict.person_id is None
        assert conflict.as_dict()["conflicting_slot_id"] == conflict.conflicting_slot_id


@fast
@given(grid=grids, candidate=grid_slots, moved_from=spans)
def test_a_slot_being_moved_does_not_conflict_with_its_old_place(
    grid: Grid, candidate: GridSlot, moved_from: Span
) -> None:
    old_place = GridSlot(slot_id=candidate.slot_id, span=moved_from, changeover_minutes=0)
    assert find_channel_conflicts(grid.slot(candidate), [grid.slot(old_place)]) == []


def test_back_to_back_slots_on_a_channel_do_not_conflict() -> None:
    grid = Grid(origin=datetime(2030, 10, 27, tzinfo=UTC), zone=LONDON)
    first = GridSlot(slot_id="s1", span=Span(0, 60), changeover_minutes=15)
    second = GridSlot(slot_id="s2", span=Span(60, 120), changeover_minutes=15)

    assert find_channel_conflicts(grid.slot(second), [grid.slot(first)]) == []


# Person


@fast
@given(grid=grids, candidate=grid_slots, booked=st.lists(grid_slots, max_size=6))
def test_person_conflicts_match_the_oracle(
    grid: Grid, candidate: GridSlot, booked: list[GridSlot]
) -> None:
    conflicts = find_person_conflicts(
        PERSON, grid.slot(candidate), [grid.slot(slot) for slot in booked]
    )

    expected = [
        (slot.slot_id, kind)
        for slot in booked
        if slot.slot_id != candidate.slot_id
        and (kind := _expected_person_kind(candidate, slot)) is not None
    ]
    assert [(c.conflicting_slot_id, c.kind) for c in conflicts] == expected
    for conflict in conflicts:
        assert conflict.slot_id == candidate.slot_id
        assert conflict.person_id == PERSON
        assert PERSON in conflict.message


@fast
@given(grid=grids, a=grid_slots, b=grid_slots)
def test_a_person_conflict_is_symmetric(grid: Grid, a: GridSlot, b: GridSlot) -> None:
    b = GridSlot(slot_id=f"{a.slot_id}-other", span=b.span, changeover_minutes=b.changeover_minutes)
    assert _person_kinds(grid, a, [b]) == _person_kinds(grid, b, [a])


@fast
@given(grid=grids, first=grid_slots, changeover=st.integers(1, 90), later_by=st.integers(0, 120))
def test_a_changeover_is_needed_after_the_earlier_slot_only(
    grid: Grid, first: GridSlot, changeover: int, later_by: int
) -> None:
    earlier = GridSlot(slot_id="early", span=first.span, changeover_minutes=changeover)
    start = first.span.end + later_by
    later = GridSlot(slot_id="late", span=Span(start, start + 30), changeover_minutes=0)

    kinds = _person_kinds(grid, later, [earlier])

    assert kinds == (["changeover"] if later_by < changeover else [])


@fast
@given(grid=grids, first=grid_slots, later_by=st.integers(0, 120))
def test_the_later_slots_changeover_does_not_push_back_on_the_earlier_one(
    grid: Grid, first: GridSlot, later_by: int
) -> None:
    earlier = GridSlot(slot_id="early", span=first.span, changeover_minutes=0)
    start = first.span.end + later_by
    later = GridSlot(slot_id="late", span=Span(start, start + 30), changeover_minutes=90)

    assert _person_kinds(grid, earlier, [later]) == []


@fast
@given(grid=grids, a=grid_slots)
def test_a_booking_does_not_conflict_with_itself(grid: Grid, a: GridSlot) -> None:
    assert _person_kinds(grid, a, [a]) == []


def test_changeover_is_measured_in_elapsed_time_across_the_autumn_clock_change() -> None:
    # 00:00-00:50 UTC is 01:00-01:50 BST; 01:00 UTC is 01:00 GMT, ten minutes later but an
    # earlier wall clock reading.
    grid = Grid(origin=datetime(2030, 10, 27, tzinfo=UTC), zone=LONDON)
    talk = GridSlot(slot_id="talk", span=Span(0, 50), changeover_minutes=15)
    next_talk = GridSlot(slot_id="next", span=Span(60, 90), changeover_minutes=15)
    assert grid.at(60).replace(tzinfo=None) < grid.at(50).replace(tzinfo=None)

    assert _person_kinds(grid, next_talk, [talk]) == ["changeover"]
    assert _person_kinds(grid, talk, [next_talk]) == ["changeover"]


def test_a_slot_after_the_spring_gap_is_not_an_overlap() -> None:
    # 00:30-00:55 UTC is 00:30-00:55 GMT; 01:00 UTC is 02:00 BST.
    grid = Grid(origin=datetime(2030, 3, 31, tzinfo=UTC), zone=LONDON)
    talk = GridSlot(slot_id="talk", span=Span(30, 55), changeover_minutes=5)
    next_talk = GridSlot(slot_id="next", span=Span(60, 90), changeover_minutes=5)

    assert _person_kinds(grid, next_talk, [talk]) == []


# Availability


@fast
@given(grid=grids, candidate=grid_slots)
def test_a_person_without_windows_is_always_available(grid: Grid, candidate: GridSlot) -> None:
    assert find_availability_conflicts(PERSON, grid.slot(candidate), []) == []


@fast
@given(grid=grids, candidate=grid_slots, windows=st.lists(spans, min_size=1, max_size=5))
def test_availability_matches_the_minute_grid(
    grid: Grid, candidate: GridSlot, windows: list[Span]
) -> None:
    conflicts = find_availability_conflicts(
        PERSON, grid.slot(candidate), [grid.interval(window) for window in windows]
    )

    available = {minute for window in windows for minute in window.minutes}
    if set(candidate.span.minutes) <= available:
        assert conflicts == []
    else:
        assert [c.kind for c in conflicts] == ["outside_availability"]
        assert conflicts[0].slot_id == candidate.slot_id
        assert conflicts[0].person_id == PERSON


@fast
@given(grid=grids, start=st.integers(0, 300), lengths=st.lists(st.integers(1, 60), min_size=1))
def test_a_slot_may_span_windows_that_touch(grid: Grid, start: int, lengths: list[int]) -> None:
    bounds = [start]
    for length in lengths:
        bounds.append(bounds[-1] + length)
    windows = [grid.interval(Span(a, b)) for a, b in zip(bounds, bounds[1:], strict=False)]
    candidate = GridSlot(slot_id="s1", span=Span(bounds[0], bounds[-1]), changeover_minutes=0)

    assert find_availability_conflicts(PERSON, grid.slot(candidate), windows) == []


@fast
@given(grid=grids, window=spans, gap=st.integers(1, 60), tail=st.integers(1, 60))
def test_a_slot_across_a_gap_between_windows_is_outside_availability(
    grid: Grid, window: Span, gap: int, tail: int
) -> None:
    second = Span(window.end + gap, window.end + gap + tail)
    candidate = GridSlot(slot_id="s1", span=Span(window.start, second.end), changeover_minutes=0)

    conflicts = find_availability_conflicts(
        PERSON, grid.slot(candidate), [grid.interval(window), grid.interval(second)]
    )

    assert [c.kind for c in conflicts] == ["outside_availability"]


# Licence


def _licence(expires_on: date, *, verified: bool) -> Licence:
    return Licence(
        number="L-1", issuer="Board", jurisdiction="UK", expires_on=expires_on, verified=verified
    )


@fast
@given(on=st.dates())
def test_a_therapist_without_a_licence_is_refused(on: date) -> None:
    assert licence_problem(None, on)


@fast
@given(expires_on=st.dates(), on=st.dates())
def test_an_unverified_licence_is_refused_whatever_its_date(expires_on: date, on: date) -> None:
    problem = licence_problem(_licence(expires_on, verified=False), on)
    assert problem is not None and "verified" in problem


@fast
@given(expires_on=st.dates(max_value=date(9999, 12, 30)), days_after=st.integers(1, 3000))
def test_a_licence_that_expired_before_the_date_is_refused(
    expires_on: date, days_after: int
) -> None:
    on = expires_on + timedelta(days=min(days_after, (date.max - expires_on).days))

    problem = licence_problem(_licence(expires_on, verified=True), on)

    assert problem is not None and expires_on.isoformat() in problem


@fast
@given(expires_on=st.dates(min_value=date(1, 1, 1)), days_before=st.integers(0, 3000))
def test_a_verified_licence_is_valid_through_its_expiry_date(
    expires_on: date, days_before: int
) -> None:
    on = expires_on - timedelta(days=min(days_before, (expires_on - date.min).days))
    assert licence_problem(_licence(expires_on, verified=True), on) is None


# Event window


@fast
@given(grid=grids, slot=spans, event=spans)
def test_a_slot_must_lie_inside_its_event(grid: Grid, slot: Span, event: Span) -> None:
    problem = check_inside_event(grid.interval(slot), grid.interval(event))

    inside = set(slot.minutes) <= set(event.minutes)
    assert (problem is None) == inside


def test_a_slot_at_the_very_edges_of_its_event_is_inside() -> None:
    event = Interval(
        starts_at=datetime(2030, 3, 31, 0, 0, tzinfo=LONDON),
        ends_at=datetime(2030, 3, 31, 4, 0, tzinfo=LONDON),
    )
    assert check_inside_event(event, event) is None


def test_placed_slot_is_busy_until_its_end_plus_changeover() -> None:
    interval = Interval(
        starts_at=datetime(2030, 10, 27, 0, 30, tzinfo=UTC).astimezone(LONDON),
        ends_at=datetime(2030, 10, 27, 0, 50, tzinfo=UTC).astimezone(LONDON),
    )
    slot = PlacedSlot(slot_id="s1", interval=interval, changeover=timedelta(minutes=30))

    assert slot.busy_until == datetime(2030, 10, 27, 1, 20, tzinfo=UTC)
