"""Prompts follow the channel: "you're on" only when nothing holds it, standby otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.intervals import Interval
from takeamoment.domain.prompts import ChannelSlot, ahead_of, now_on, prompt_at
from tests.domain.strategies import fast

T0 = datetime(2030, 10, 10, 18, tzinfo=UTC)
STATUSES = ("scheduled", "live", "ended", "cancelled")


def _slot(slot_id: str, start: int, length: int, status: str) -> ChannelSlot:
    starts_at = T0 + timedelta(minutes=start)
    return ChannelSlot(
        slot_id=slot_id,
        interval=Interval(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=length)),
        status=status,
    )


@st.composite
def channels(draw: st.DrawFn) -> list[ChannelSlot]:
    """A channel's slots back to back or with gaps, in any states, at most one of them live."""
    count = draw(st.integers(1, 6))
    start, slots = draw(st.integers(-120, 60)), []
    live_index = draw(st.none() | st.integers(0, count - 1))
    for index in range(count):
        length = draw(st.sampled_from([10, 15, 30, 45]))
        status = draw(st.sampled_from(("scheduled", "ended", "cancelled")))
        slots.append(_slot(f"s{index}", start, length, "live" if index == live_index else status))
        start += length + draw(st.sampled_from([0, 0, 5, 30]))
    return slots


now_offsets = st.integers(-60, 240).map(lambda m: T0 + timedelta(minutes=m))


@fast
@given(channel=channels(), now=now_offsets)
def test_no_one_is_told_go_live_while_another_slot_is_live_on_their_channel(
    channel: list[ChannelSlot], now: datetime
) -> None:
    live = [slot.slot_id for slot in channel if slot.status == "live"]
    for slot in channel:
        prompt = prompt_at(slot, channel, now)
        if prompt is not None and prompt.kind == "go_live" and slot.status != "live":
            assert live == [], f"{slot.slot_id} told go_live while {live} is live"


@fast
@given(channel=channels(), now=now_offsets)
def test_with_nothing_live_every_started_scheduled_slot_is_on(
    channel: list[ChannelSlot], now: datetime
) -> None:
    if any(slot.status == "live" for slot in channel):
        return
    started = sorted(
        (s for s in channel if s.status == "scheduled" and s.starts_at <= now),
        key=lambda s: (s.starts_at, s.slot_id),
    )
    assert now_on(channel, now) == [s.slot_id for s in started]


@fast
@given(channel=channels(), now=now_offsets)
def test_a_prompt_is_owed_exactly_from_the_start_and_standby_names_a_future_start(
    channel: list[ChannelSlot], now: datetime
) -> None:
    for slot in channel:
        prompt = prompt_at(slot, channel, now)
        if slot.status == "live":
            assert prompt is not None and prompt.kind == "go_live"
        elif slot.status != "scheduled" or now < slot.starts_at:
            assert prompt is None
        else:
            assert prompt is not None
            busy = ahead_of(slot, channel)
            assert prompt.kind == ("standby" if busy else "go_live")
            if prompt.kind == "standby":
                assert prompt.expected_start >= now
                assert prompt.expected_start >= slot.starts_at


def test_standby_while_the_previous_slot_overruns_then_go_live_when_it_ends() -> None:
    previous = _slot("a", 0, 30, "live")
    mine = _slot("b", 30, 30, "scheduled")
    at_start = T0 + timedelta(minutes=31)
    prompt = prompt_at(mine, [previous, mine], at_start)
    assert prompt is not None and prompt.kind == "standby"
    assert prompt.expected_start == at_start  # the live slot is already past its end
    ended = _slot("a", 0, 30, "ended")
    assert now_on([ended, mine], at_start) == ["b"]


def test_standby_expects_the_start_after_what_is_ahead() -> None:
    live = _slot("a", 0, 60, "live")
    mine = _slot("b", 30, 30, "scheduled")  # only possible if "a" was extended: still fine
    prompt = prompt_at(mine, [live, mine], T0 + timedelta(minutes=40))
    assert prompt is not None and prompt.expected_start == T0 + timedelta(minutes=60)


def test_an_earlier_overdue_slot_does_not_hold_the_channel() -> None:
    skipped = _slot("a", 0, 30, "scheduled")  # never went live, never cancelled
    mine = _slot("b", 30, 30, "scheduled")
    now = T0 + timedelta(minutes=35)
    assert now_on([skipped, mine], now) == ["a", "b"]
    prompt = prompt_at(mine, [skipped, mine], now)
    assert prompt is not None and prompt.kind == "go_live"


def test_the_host_taking_a_slot_live_early_owes_its_people_go_live_at_once() -> None:
    early = _slot("b", 60, 30, "live")
    prompt = prompt_at(early, [early], T0)
    assert prompt is not None and prompt.kind == "go_live"
    assert prompt_at(_slot("b", 60, 30, "scheduled"), [], T0) is None
