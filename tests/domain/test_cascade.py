"""The delay cascade and the person check after moves, against oracles in minute numbers.

Times are drawn on the grids of ``strategies`` (around the 2030 clock changes of London and New
York, written in those zones), so arithmetic on wall clocks instead of instants shows up here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.booking_rules import (
    PlacedSlot,
    find_availability_conflicts,
    find_person_conflicts,
)
from takeamoment.domain.cascade import DelayPlan, check_person_after_moves, plan_delay
from takeamoment.domain.errors import InvalidSchedule
from takeamoment.domain.intervals import Interval
from tests.domain.cascade_runs import Run, _run, delays, gaps, runs
from tests.domain.strategies import (
    LONDON,
    Grid,
    GridSlot,
    Span,
    changeover_minutes,
    fast,
    grids,
    lengths,
    spans,
)

PERSON = "p1"


def _shift_minutes(plan: DelayPlan, slot_id: str) -> float:
    shifts = {move.slot_id: move.shift for move in plan.moves}
    return shifts.get(slot_id, timedelta(0)) / timedelta(minutes=1)


def _expected_shift(run: Run, index: int, delay: int) -> int:
    """The delay less every minute of gap between the delayed slot and this one."""
    busy_before = sum(span.end - span.start for span in run.later[:index])
    free = run.later[index].start - run.delayed.end - busy_before
    return max(0, delay - free)


def _new_spans(run: Run, plan: DelayPlan) -> list[tuple[float, float]]:
    spans_in_order = [("d", run.delayed)] + [(f"l{i}", s) for i, s in enumerate(run.later)]
    return [
        (span.start + _shift_minutes(plan, slot_id), span.end + _shift_minutes(plan, slot_id))
        for slot_id, span in spans_in_order
    ]


# The cascade


@fast
@given(grid=grids, run=runs, delay=delays)
def test_the_delayed_slot_moves_by_exactly_the_delay_and_comes_first(
    grid: Grid, run: Run, delay: int
) -> None:
    delayed, later = run.placed(grid)
    plan = plan_delay(delayed, later, timedelta(minutes=delay))
    first = plan.moves[0]
    assert first.slot_id == "d"
    # Compared in UTC: Python calls an ambiguous wall time unequal to every other zone's instant.
    assert first.after.starts_at == grid.at(run.delayed.start + delay, UTC)
    assert first.after.ends_at == grid.at(run.delayed.end + delay, UTC)


@fast
@given(grid=grids, run=runs, delay=delays)
def test_each_later_slot_moves_by_what_the_gaps_before_it_have_not_absorbed(
    grid: Grid, run: Run, delay: int
) -> None:
    delayed, later = run.placed(grid)
    plan = plan_delay(delayed, later, timedelta(minutes=delay))
    for index in range(len(run.later)):
        assert _shift_minutes(plan, f"l{index}") == _expected_shift(run, index, delay)
    assert plan.channel_conflicts == ()


@fast
@given(grid=grids, run=runs, delay=delays)
def test_order_is_kept_no_overlap_is_created_and_no_slot_moves_earlier(
    grid: Grid, run: Run, delay: int
) -> None:
    delayed, later = run.placed(grid)
    plan = plan_delay(delayed, later, timedelta(minutes=delay))
    assert all(move.shift >= timedelta(0) for move in plan.moves)
    assert all(move.after.duration == move.before.duration for move in plan.moves)
    new = _new_spans(run, plan)
    assert all(earlier[1] <= following[0] for earlier, following in zip(new, new[1:], strict=False))
    assert [move.slot_id for move in plan.moves] == [
        slot_id
        for slot_id in ["d"] + [f"l{i}" for i in range(len(run.later))]
        if _shift_minutes(plan, slot_id)
    ]


@fast
@given(grid=grids, run=runs, delay=delays)
def test_moves_are_minimal_a_pushed_slot_starts_as_the_one_before_now_ends(
    grid: Grid, run: Run, delay: int
) -> None:
    delayed, later = run.placed(grid)
    plan = plan_delay(delayed, later, timedelta(minutes=delay))
    new = _new_spans(run, plan)
    for index in range(len(run.later)):
        if _shift_minutes(plan, f"l{index}") > 0:
            assert new[index + 1][0] == new[index][1]  # one minute less and they would overlap


@fast
@given(
    grid=grids,
    run=runs,
    delay=delays,
    gap=st.integers(0, 120),
    length=lengths,
    tail=st.lists(st.tuples(gaps, lengths), max_size=3),
)
def test_slots_after_a_gap_at_least_as_long_as_the_delay_do_not_move(
    grid: Grid, run: Run, delay: int, gap: int, length: int, tail: list[tuple[int, int]]
) -> None:
    # Append a gap that swallows whatever delay still travels, then more slots.
    last_end = run.later[-1].end if run.later else run.delayed.end
    beyond = _run(last_end + delay + gap, length, tail)
    extended = Run(run.delayed, run.later + (beyond.delayed,) + beyond.later)
    delayed, later = extended.placed(grid)
    plan = plan_delay(delayed, later, timedelta(minutes=delay))
    untouched = range(len(run.later), len(extended.later))
    assert all(_shift_minutes(plan, f"l{index}") == 0 for index in untouched)


@fast
@given(grid=grids, run=runs, delay=delays, data=st.data())
def test_the_plan_does_not_depend_on_the_order_the_later_slots_come_in(
    grid: Grid, run: Run, delay: int, data: st.DataObject
) -> None:
    delayed, later = run.placed(grid)
    shuffled = data.draw(st.permutations(later))
    by = timedelta(minutes=delay)
    assert plan_delay(delayed, shuffled, by) == plan_delay(delayed, later, by)


@fast
@given(grid=grids, run=runs, delay=delays)
def test_without_cascade_only_the_slot_moves_and_what_it_would_hit_is_a_channel_conflict(
    grid: Grid, run: Run, delay: int
) -> None:
    delayed, later = run.placed(grid)
    plan = plan_delay(delayed, later, timedelta(minutes=delay), cascade=False)
    assert [move.slot_id for move in plan.moves] == ["d"]
    new_start, new_end = run.delayed.start + delay, run.delayed.end + delay
    hit = [f"l{i}" for i, s in enumerate(run.later) if s.start < new_end and new_start < s.end]
    assert [c.conflicting_slot_id for c in plan.channel_conflicts] == hit
    assert all(c.kind == "channel_overlap" and c.slot_id == "d" for c in plan.channel_conflicts)


def test_a_delay_of_nothing_is_refused() -> None:
    slot = PlacedSlot(slot_id="d", interval=Interval(starts_at=_utc(10), ends_at=_utc(11)))
    with pytest.raises(InvalidSchedule, match="non-zero"):
        plan_delay(slot, [], timedelta(0))


def test_pulling_forward_needs_the_present_moment() -> None:
    slot = PlacedSlot(slot_id="d", interval=Interval(starts_at=_utc(10), ends_at=_utc(11)))
    with pytest.raises(InvalidSchedule, match="not_before"):
        plan_delay(slot, [], timedelta(minutes=-5))


def _utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 10, 27, tzinfo=UTC) + timedelta(hours=hour, minutes=minute)


def test_a_cascade_across_the_london_clock_change_keeps_real_durations() -> None:
    # On 27 October 2030 London goes from 01:59 BST back to 01:00 GMT. Written in London time,
    # the 00:30 BST slot lasts an hour of real time although its wall clock shows 01:30 - 01:30.
    delayed = PlacedSlot(
        slot_id="d",
        interval=Interval(
            starts_at=datetime(2030, 10, 27, 0, 30, tzinfo=LONDON),  # 23:30 UTC the day before
            ends_at=datetime(2030, 10, 27, 1, 30, fold=0, tzinfo=LONDON),  # 00:30 UTC
        ),
    )
    next_slot = PlacedSlot(
        slot_id="n",
        interval=Interval(
            starts_at=datetime(2030, 10, 27, 1, 30, fold=1, tzinfo=LONDON),  # 01:30 UTC
            ends_at=datetime(2030, 10, 27, 2, 0, tzinfo=LONDON),  # 02:00 UTC
        ),
    )
    plan = plan_delay(delayed, [next_slot], timedelta(minutes=90))
    first, pushed = plan.moves
    assert first.after.ends_at == _utc(2)  # 00:30 UTC + 90 minutes
    # The hour between them absorbed 60 of the 90 minutes; a wall-clock reading would see none.
    assert pushed.shift == timedelta(minutes=30)
    assert pushed.after.starts_at == _utc(2)
    assert pushed.after.duration == timedelta(minutes=30)


# The person after moves

person_slots = st.lists(st.tuples(spans, changeover_minutes), max_size=4)


def _placed(grid: Grid, prefix: str, items: list[tuple[Span, int]]) -> list[PlacedSlot]:
    return [
        grid.slot(GridSlot(slot_id=f"{prefix}{i}", span=span, changeover_minutes=co))
        for i, (span, co) in enumerate(items)
    ]


windows = st.lists(spans, max_size=2)


@fast
@given(grid=grids, moved=person_slots, staying=person_slots, free=windows)
def test_after_force_releases_every_rule_holds_for_the_person(
    grid: Grid, moved: list[tuple[Span, int]], staying: list[tuple[Span, int]], free: list[Span]
) -> None:
    moved_slots, staying_slots = _placed(grid, "m", moved), _placed(grid, "s", staying)
    window_list = [grid.interval(span) for span in free]
    check = check_person_after_moves(PERSON, moved_slots, staying_slots, window_list)

    kept = [slot for slot in moved_slots if slot.slot_id not in check.released]
    held = kept + staying_slots
    for slot in kept:
        assert find_person_conflicts(PERSON, slot, held) == []
        assert find_availability_conflicts(PERSON, slot, window_list) == []
    assert check.released <= {slot.slot_id for slot in moved_slots}
    assert bool(check.conflicts) == bool(check.released)
    # A released booking is one that broke a rule; every conflict names the moved slot.
    assert check.released <= {conflict.slot_id for conflict in check.conflicts}
    assert all(conflict.person_id == PERSON for conflict in check.conflicts)


@fast
@given(grid=grids, moved=person_slots, staying=person_slots)
def test_every_clash_with_what_stays_is_reported(
    grid: Grid, moved: list[tuple[Span, int]], staying: list[tuple[Span, int]]
) -> None:
    moved_slots, staying_slots = _placed(grid, "m", moved), _placed(grid, "s", staying)
    check = check_person_after_moves(PERSON, moved_slots, staying_slots, [])
    reported = {(c.slot_id, c.conflicting_slot_id) for c in check.conflicts}
    for slot in moved_slots:
        for conflict in find_person_conflicts(PERSON, slot, staying_slots):
            assert (slot.slot_id, conflict.conflicting_slot_id) in reported


def test_a_clash_between_two_moved_slots_is_reported_once_and_the_earlier_one_is_kept() -> None:
    five = timedelta(minutes=5)
    first = PlacedSlot(
        slot_id="a", interval=Interval(starts_at=_utc(10), ends_at=_utc(11)), changeover=five
    )
    second = PlacedSlot(
        slot_id="b", interval=Interval(starts_at=_utc(11), ends_at=_utc(12)), changeover=five
    )
    check = check_person_after_moves(PERSON, [second, first], [], [])
    assert [(c.kind, c.slot_id, c.conflicting_slot_id) for c in check.conflicts] == [
        ("changeover", "b", "a")
    ]
    assert check.released == {"b"}


def test_a_booking_that_stays_always_wins_over_a_moved_one() -> None:
    elsewhere = PlacedSlot(slot_id="x", interval=Interval(starts_at=_utc(11), ends_at=_utc(12)))
    pushed = PlacedSlot(slot_id="a", interval=Interval(starts_at=_utc(10), ends_at=_utc(11, 30)))
    later = PlacedSlot(slot_id="b", interval=Interval(starts_at=_utc(12), ends_at=_utc(13)))
    check = check_person_after_moves(PERSON, [pushed, later], [elsewhere], [])
    assert [(c.kind, c.slot_id) for c in check.conflicts] == [("person_overlap", "a")]
    assert check.released == {"a"}
