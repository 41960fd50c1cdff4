"""On now and up next: every live slot of a channel, then the first scheduled slot not yet over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.now_next import now_and_next
from tests.domain.strategies import ZONES, fast

T0 = datetime(2030, 10, 27, 0, 30, tzinfo=UTC)  # London's clocks go back at 01:00 UTC
STATUSES = ("scheduled", "live", "ended", "cancelled")


@dataclass(frozen=True)
class Shown:
    id: str
    status: str
    starts_at: datetime
    ends_at: datetime


def _slot(slot_id: str, start: int, length: int, status: str, zone: object = UTC) -> Shown:
    starts_at = T0 + timedelta(minutes=start)
    ends_at = starts_at + timedelta(minutes=length)
    written = (starts_at.astimezone(zone), ends_at.astimezone(zone))  # type: ignore[arg-type]
    return Shown(slot_id, status, *written)


@st.composite
def channels(draw: st.DrawFn) -> tuple[list[Shown], list[tuple[int, int, str]]]:
    """A channel's slots in any states (several may be live), shuffled, written in any zone."""
    zone = draw(st.sampled_from(ZONES))
    start, drawn = draw(st.integers(-120, 60)), []
    for _ in range(draw(st.integers(0, 6))):
        length = draw(st.sampled_from([10, 15, 30, 45]))
        drawn.append((start, length, draw(st.sampled_from(STATUSES))))
        start += length + draw(st.sampled_from([0, 5, 30]))
    slots = [_slot(f"s{i}", s, n, status, zone) for i, (s, n, status) in enumerate(drawn)]
    return draw(st.permutations(slots)), drawn


@fast
@given(channels(), st.integers(-180, 300))
def test_every_live_slot_is_on_now_and_the_first_unfinished_scheduled_one_is_next(
    channel: tuple[list[Shown], list[tuple[int, int, str]]], minute: int
) -> None:
    slots, drawn = channel
    shown = now_and_next(slots, T0 + timedelta(minutes=minute))

    live = [f"s{i}" for i, (_, _, status) in enumerate(drawn) if status == "live"]
    waiting = [
        f"s{i}"
        for i, (start, length, status) in enumerate(drawn)
        if status == "scheduled" and start + length > minute
    ]
    assert [slot.id for slot in shown.live] == live
    assert (shown.next.id if shown.next else None) == (waiting[0] if waiting else None)


def test_an_overdue_slot_stays_up_next_until_its_scheduled_end() -> None:
    late = _slot("late", 0, 30, "scheduled")
    later = _slot("later", 30, 30, "scheduled")

    assert now_and_next([later, late], T0 + timedelta(minutes=10)).next == late
    assert now_and_next([later, late], T0 + timedelta(minutes=30)).next == later


def test_two_live_slots_on_one_channel_are_both_on_now_in_start_order() -> None:
    first = _slot("first", 0, 30, "live")
    second = _slot("second", 30, 30, "live")
    after = _slot("after", 60, 30, "scheduled")

    shown = now_and_next([after, second, first], T0 + timedelta(minutes=45))

    assert shown.live == (first, second)
    assert shown.next == after


def test_a_live_slot_running_late_does_not_hide_the_slot_after_it() -> None:
    running = _slot("running", 0, 30, "live")
    waiting = _slot("waiting", 30, 30, "scheduled")

    shown = now_and_next([running, waiting], T0 + timedelta(minutes=40))

    assert shown.live == (running,)
    assert shown.next == waiting
