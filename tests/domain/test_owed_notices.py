"""Which notices a booking is owed: a confirmed one, in a slot not yet over; once on air, only
"you're on"."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.booking_states import BookingStatus
from takeamoment.domain.reminders import notices_for, notices_owed
from takeamoment.domain.slot_states import SlotStatus
from tests.domain.strategies import Grid, fast, grids, minutes

BOOKING_STATUSES = get_args(BookingStatus)
SLOT_STATUSES = get_args(SlotStatus)
reminder_minutes = st.lists(st.integers(0, 120), max_size=4)


@fast
@given(
    grid=grids,
    start=minutes,
    confirmed_before=st.integers(0, 180),
    reminders=reminder_minutes,
    booking=st.sampled_from(BOOKING_STATUSES),
    slot=st.sampled_from(SLOT_STATUSES),
)
def test_a_booking_is_owed_its_notices_only_while_confirmed_and_its_slot_is_not_over(
    grid: Grid,
    start: int,
    confirmed_before: int,
    reminders: list[int],
    booking: str,
    slot: str,
) -> None:
    starts_at = grid.at(start)
    confirmed_at = starts_at - timedelta(minutes=confirmed_before)

    owed = notices_owed(
        booking_status=booking,
        slot_status=slot,
        slot_starts_at=starts_at,
        reminder_minutes=reminders,
        confirmed_at=confirmed_at,
    )

    every = notices_for(starts_at, reminders, confirmed_at)
    if booking != "confirmed" or slot in ("ended", "cancelled"):
        assert owed == []
    elif slot == "live":
        assert owed == [notice for notice in every if notice.kind == "go_live"]
    else:
        assert owed == every
