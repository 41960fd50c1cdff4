"""A booking's status as a domain type: every transition in one table, answers idempotent."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.booking_states import (
    ACTIVE_BOOKING_STATUSES,
    TRANSITIONS,
    BookingCommand,
    BookingStatus,
    apply_booking,
    is_active,
    status_after_restore,
)
from takeamoment.domain.errors import InvalidTransition
from tests.domain.strategies import fast

STATUSES: tuple[BookingStatus, ...] = get_args(BookingStatus)
COMMANDS: tuple[BookingCommand, ...] = get_args(BookingCommand)


def test_only_invited_and_confirmed_hold_time() -> None:
    assert ACTIVE_BOOKING_STATUSES == ("invited", "confirmed")
    assert [s for s in STATUSES if is_active(s)] == ["invited", "confirmed"]


@fast
@given(status=st.sampled_from(STATUSES), command=st.sampled_from(COMMANDS))
def test_every_move_is_in_the_table_or_refused_naming_the_person(
    status: BookingStatus, command: BookingCommand
) -> None:
    try:
        following = apply_booking(status, command, who="Ana", slot_label="“Tips”")
    except InvalidTransition as refused:
        assert (status, command) not in TRANSITIONS
        assert "Ana's booking in “Tips”" in str(refused)
        return
    assert following == TRANSITIONS.get((status, command), status)


@fast
@given(script=st.lists(st.sampled_from(COMMANDS), max_size=10))
def test_only_an_active_booking_becomes_active_again_never_a_finished_one(
    script: list[BookingCommand],
) -> None:
    status: BookingStatus = "invited"
    for command in script:
        try:
            following = apply_booking(status, command)
        except InvalidTransition:
            continue
        if is_active(following):
            assert is_active(status), f"{status} came back as {following}"
        status = following


@pytest.mark.parametrize("command", ["accept", "decline", "remove"])
def test_the_same_answer_twice_is_harmless(command: BookingCommand) -> None:
    once = apply_booking("invited", command)
    assert apply_booking(once, command) == once


def test_restoring_a_cancelled_slot_brings_each_booking_back_as_it_stood() -> None:
    assert status_after_restore(was_confirmed=True) == "confirmed"
    assert status_after_restore(was_confirmed=False) == "invited"
