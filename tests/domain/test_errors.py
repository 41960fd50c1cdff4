"""The domain's typed errors carry what a client needs to find what is in the way."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.errors import (
    Conflict,
    ConflictKind,
    InvalidSchedule,
    InvalidTransition,
    SchedulingConflict,
)
from tests.domain.strategies import fast

KINDS: tuple[ConflictKind, ...] = (
    "channel_overlap",
    "person_overlap",
    "changeover",
    "outside_availability",
    "invalid_transition",
    "channel_busy",
)
ids = st.none() | st.text(min_size=1, max_size=8)
conflicts = st.builds(
    Conflict,
    kind=st.sampled_from(KINDS),
    message=st.text(max_size=20),
    slot_id=ids,
    person_id=ids,
    conflicting_slot_id=ids,
)


@fast
@given(conflict=conflicts)
def test_a_conflict_as_a_dict_has_its_kind_and_only_the_ids_that_apply(
    conflict: Conflict,
) -> None:
    shown = conflict.as_dict()

    assert shown["kind"] == conflict.kind
    assert shown["message"] == conflict.message
    for key in ("slot_id", "person_id", "conflicting_slot_id"):
        assert shown.get(key) == getattr(conflict, key)


@fast
@given(found=st.lists(conflicts, min_size=1, max_size=4))
def test_a_scheduling_conflict_keeps_every_conflict_and_names_them(found: list[Conflict]) -> None:
    error = SchedulingConflict(found)

    assert error.conflicts == found
    for conflict in found:
        assert conflict.message in str(error)


def test_an_invalid_schedule_is_a_value_error() -> None:
    assert isinstance(InvalidSchedule("ends_at must be after starts_at"), ValueError)


def test_an_invalid_transition_carries_its_conflict_with_the_slot_id() -> None:
    error = InvalidTransition("an ended slot cannot go live", slot_id="s1")

    assert error.conflict.as_dict() == {
        "kind": "invalid_transition",
        "message": "an ended slot cannot go live",
        "slot_id": "s1",
    }
