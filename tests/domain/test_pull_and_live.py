"""Delays that pull forward (negative minutes) and delays of a live slot, against oracles.

A pull wins back time after a session ended early: nothing moves later, nothing starts before
``not_before`` (now) or before the slot ahead, gaps keep their length where they can. A live
slot's start is what happened: no delay, push or pull, ever moves it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from takeamoment.domain.booking_rules import PlacedSlot
from takeamoment.domain.cascade import Move, plan_delay
from takeamoment.domain.intervals import Interval
from tests.domain.cascade_runs import Run, runs
from tests.domain.strategies import Grid, fast, grids

pulls = st.one_of(st.sampled_from([-1, -5, -10, -15, -30, -60]), st.integers(-24 * 60, -1))
pushes = st.one_of(st.sampled_from([1, 5, 10, 30]), st.integers(1, 24 * 60))


def _after(moves: tuple[Move, ...], slot: PlacedSlot) -> Interval:
    return next((move.after for move in moves if move.slot_id == slot.slot_id), slot.interval)


@fast
@given(
    grid=grids,
    run=runs,
    delay=pulls,
    now_minute=st.integers(-60, 600),
    ahead_gap=st.none() | st.integers(0, 120),
    cascade=st.booleans(),
)
def test_a_pulled_forward_slot_never_starts_before_now_nor_moves_later(
    grid: Grid, run: Run, delay: int, now_minute: int, ahead_gap: int | None, cascade: bool
) -> None:
    delayed, later = run.placed(grid)
    now = grid.at(now_minute)
    previous_end = None if ahead_gap is None else grid.at(run.delayed.start - ahead_gap)
    plan = plan_delay(
        delayed,
        later,
        timedelta(minutes=delay),
        cascade=cascade,
        not_before=now,
        previous_ends_at=previous_end,
    )
    assert plan.channel_conflicts == ()
    for move in plan.moves:
        assert move.after.starts_at < move.before.starts_at  # only ever earlier
        assert move.after.starts_at >= now  # never before now
        assert move.after.duration == move.before.duration
        assert move.before.starts_at - move.after.starts_at <= timedelta(minutes=-delay)
    if previous_end is not None and plan.moves and plan.moves[0].slot_id == "d":
        assert plan.moves[0].after.starts_at >= previous_end
    if not cascade:
        assert {move.slot_id for move in plan.moves} <= {"d"}
    # The channel keeps its order and never overlaps.
    new = [_after(plan.moves, slot) for slot in [delayed, *later]]
    assert all(a.ends_at <= b.starts_at for a, b in zip(new, new[1:], strict=False))


@fast
@given(grid=grids, run=runs, delay=pulls)
def test_with_time_to_win_every_slot_moves_by_the_whole_pull_and_gaps_are_kept(
    grid: Grid, run: Run, delay: int
) -> None:
    delayed, later = run.placed(grid)
    long_ago = grid.at(run.delayed.start + delay - 1)  # nothing is clamped by "now"
    plan = plan_delay(delayed, later, timedelta(minutes=delay), not_before=long_ago)
    assert [move.slot_id for move in plan.moves] == ["d"] + [f"l{i}" for i in range(len(later))]
    assert all(move.shift == timedelta(minutes=delay) for move in plan.moves)


@fast
@given(grid=grids, run=runs, delay=st.one_of(pulls, pushes), now_minute=st.integers(-60, 600))
def test_a_cascade_never_moves_a_live_slots_start(
    grid: Grid, run: Run, delay: int, now_minute: int
) -> None:
    delayed, later = run.placed(grid)
    on_air = {"d"}
    plan = plan_delay(
        delayed,
        later,
        timedelta(minutes=delay),
        live=on_air,
        not_before=grid.at(now_minute),
    )
    for move in plan.moves:
        if move.slot_id in on_air:
            assert move.after.starts_at == move.before.starts_at
    first = next((m for m in plan.moves if m.slot_id == "d"), None)
    if delay > 0:
        assert first is not None
        assert first.after.ends_at == first.before.ends_at + timedelta(minutes=delay)
    elif first is not None:  # pulled: it ends earlier, never before now, never at its start
        assert first.after.ends_at < first.before.ends_at
        assert first.after.ends_at >= grid.at(now_minute)
        assert first.after.ends_at > first.after.starts_at


@fast
@given(grid=grids, run=runs, delay=pushes, live_index=st.integers(0, 5))
def test_a_push_that_would_move_a_live_later_slot_moves_nothing_past_it_and_says_so(
    grid: Grid, run: Run, delay: int, live_index: int
) -> None:
    assume(live_index < len(run.later))
    delayed, later = run.placed(grid)
    live_id = f"l{live_index}"
    plan = plan_delay(delayed, later, timedelta(minutes=delay), live={live_id})
    assert all(move.slot_id != live_id for move in plan.moves)
    free = plan_delay(delayed, later, timedelta(minutes=delay))
    would_move = any(move.slot_id == live_id for move in free.moves)
    assert bool(plan.channel_conflicts) == would_move
    if would_move:
        (conflict,) = plan.channel_conflicts
        assert conflict.kind == "channel_overlap" and conflict.conflicting_slot_id == live_id


def test_pulling_the_rest_forward_after_an_early_end() -> None:
    """10:00-10:30 ended at 10:20; the next two slots win back the ten minutes."""
    day = datetime(2030, 10, 10, tzinfo=UTC)

    def slot(slot_id: str, start: tuple[int, int], end: tuple[int, int]) -> PlacedSlot:
        starts = day + timedelta(hours=start[0], minutes=start[1])
        ends = day + timedelta(hours=end[0], minutes=end[1])
        return PlacedSlot(slot_id=slot_id, interval=Interval(starts_at=starts, ends_at=ends))

    ended_at = day + timedelta(hours=10, minutes=20)
    nxt, after = slot("b", (10, 30), (11, 0)), slot("c", (11, 0), (11, 30))
    plan = plan_delay(
        nxt, [after], timedelta(minutes=-10), not_before=ended_at, previous_ends_at=ended_at
    )
    assert [(m.slot_id, m.after.starts_at - day) for m in plan.moves] == [
        ("b", timedelta(hours=10, minutes=20)),
        ("c", timedelta(hours=10, minutes=50)),
    ]
    # Pulled by more than there is to win: it stops at the slot ahead of it.
    greedy = plan_delay(
        nxt, [after], timedelta(minutes=-45), not_before=day, previous_ends_at=ended_at
    )
    assert greedy.moves[0].after.starts_at == ended_at
