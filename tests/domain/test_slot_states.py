"""The slot state machine: three moves allowed, every other one refused with invalid_transition."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.errors import InvalidTransition
from takeamoment.domain.slot_states import (
    TRANSITIONS,
    SlotCommand,
    SlotStatus,
    apply,
    find_channel_busy,
)
from tests.domain.strategies import fast

STATES: tuple[SlotStatus, ...] = get_args(SlotStatus)
COMMANDS: tuple[SlotCommand, ...] = get_args(SlotCommand)

# The contract in words, written out again so the table cannot drift from it unnoticed.
ALLOWED = {
    ("scheduled", "go_live"): "live",
    ("live", "end"): "ended",
    ("scheduled", "cancel"): "cancelled",
}

states = st.one_of(st.sampled_from(STATES), st.text(max_size=12))
commands = st.sampled_from(COMMANDS)


def test_the_table_is_exactly_the_contract() -> None:
    assert dict(TRANSITIONS) == ALLOWED


@fast
@given(state=states, command=commands, slot_id=st.sampled_from(["s1", None]))
def test_apply_follows_the_table_and_refuses_everything_else(
    state: str, command: SlotCommand, slot_id: str | None
) -> None:
    expected = ALLOWED.get((state, command))
    if expected is not None:
        assert apply(state, command, slot_id=slot_id) == expected
        return
    with pytest.raises(InvalidTransition) as refused:
        apply(state, command, slot_id=slot_id)
    assert refused.value.conflict.kind == "invalid_transition"
    assert refused.value.conflict.slot_id == slot_id
    assert state in str(refused.value)


@fast
@given(script=st.lists(commands, max_size=8))
def test_a_slot_only_ever_moves_forward_and_history_is_final(script: list[SlotCommand]) -> None:
    order = {"scheduled": 0, "live": 1, "ended": 2, "cancelled": 2}
    state: SlotStatus = "scheduled"
    for command in script:
        try:
            following = apply(state, command)
        except InvalidTransition:
            continue
        assert state not in ("ended", "cancelled"), "a finished slot changed state"
        assert order[following] > order[state]
        state = following


@pytest.mark.parametrize("state", ["ended", "cancelled"])
def test_no_command_leaves_an_ended_or_cancelled_slot(state: SlotStatus) -> None:
    for command in COMMANDS:
        with pytest.raises(InvalidTransition):
            apply(state, command)


def test_a_live_slot_cannot_be_cancelled_only_ended() -> None:
    with pytest.raises(InvalidTransition, match="live slot cannot be cancelled"):
        apply("live", "cancel")
    assert apply("live", "end") == "ended"


@fast
@given(live=st.lists(st.sampled_from(["s1", "s2", "s3"]), unique=True))
def test_channel_busy_names_every_other_live_slot(live: list[str]) -> None:
    conflicts = find_channel_busy("s1", live)
    assert [c.conflicting_slot_id for c in conflicts] == [i for i in live if i != "s1"]
    assert all(c.kind == "channel_busy" and c.slot_id == "s1" for c in conflicts)
