"""The slot state machine: five moves allowed (three forward, two undos), every other one refused
with invalid_transition; going live too early, late reopens and edits a state forbids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takeamoment.domain.errors import InvalidTransition
from takeamoment.domain.slot_states import (
    EARLY_LIMIT,
    REOPEN_WINDOW,
    TRANSITIONS,
    SlotCommand,
    SlotStatus,
    apply,
    check_edit,
    check_not_too_early,
    check_reopen,
    duration_words,
    end_after_reopen,
    end_kept_after_air,
    find_channel_busy,
    is_overdue,
    times_on_air,
)
from tests.domain.strategies import fast

STATES: tuple[SlotStatus, ...] = get_args(SlotStatus)
COMMANDS: tuple[SlotCommand, ...] = get_args(SlotCommand)

# The contract in words, written out again so the table cannot drift from it unnoticed.
ALLOWED = {
    ("scheduled", "go_live"): "live",
    ("live", "end"): "ended",
    ("scheduled", "cancel"): "cancelled",
    ("ended", "reopen"): "live",
    ("cancelled", "restore"): "scheduled",
}

states = st.one_of(st.sampled_from(STATES), st.text(max_size=12))
commands = st.sampled_from(COMMANDS)
T0 = datetime(2030, 10, 10, 18, tzinfo=UTC)
minutes = st.integers(-3 * 24 * 60, 3 * 24 * 60).map(lambda m: timedelta(minutes=m))
seconds = st.integers(-7200, 7200).map(lambda s: timedelta(seconds=s))


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
        apply(state, command, slot_id=slot_id, label="“Tips” (Thu 10 Oct 19:00–19:30 BST)")
    assert refused.value.conflict.kind == "invalid_transition"
    assert refused.value.conflict.slot_id == slot_id
    assert state in str(refused.value)
    assert str(refused.value).startswith("“Tips” (Thu 10 Oct 19:00–19:30 BST) ")


@pytest.mark.parametrize(
    ("state", "command", "message"),
    [
        ("ended", "go_live", "the slot has ended, so it cannot go live (reopen it instead"),
        ("ended", "end", "the slot has ended, so it cannot end"),
        ("live", "cancel", "the slot is live, so it cannot be cancelled (end it instead)"),
        ("cancelled", "go_live", "the slot is cancelled, so it cannot go live (restore it first)"),
        ("scheduled", "reopen", "the slot is scheduled, so it cannot be reopened"),
    ],
)
def test_refusals_read_as_sentences(state: str, command: SlotCommand, message: str) -> None:
    with pytest.raises(InvalidTransition) as refused:
        apply(state, command)
    assert str(refused.value).startswith(message)
    assert " a ended " not in str(refused.value)


@fast
@given(script=st.lists(commands, max_size=12))
def test_every_undo_leads_back_to_a_state_a_slot_had(script: list[SlotCommand]) -> None:
    state: SlotStatus = "scheduled"
    seen = {state}
    for command in script:
        try:
            following = apply(state, command)
        except InvalidTransition:
            continue
        if command in ("reopen", "restore"):
            assert following in seen, "an undo went somewhere the slot never was"
        assert (state, command) in ALLOWED
        seen.add(following)
        state = following


def test_a_live_slot_cannot_be_cancelled_only_ended() -> None:
    with pytest.raises(InvalidTransition, match="is live, so it cannot be cancelled"):
        apply("live", "cancel")
    assert apply("live", "end") == "ended"


@fast
@given(ahead=minutes, early=st.booleans())
def test_going_live_more_than_an_hour_ahead_needs_early(ahead: timedelta, early: bool) -> None:
    starts_at = T0 + ahead
    if ahead > EARLY_LIMIT and not early:
        with pytest.raises(InvalidTransition) as refused:
            check_not_too_early(starts_at, T0, early=early, slot_id="s1", label="“Tips”")
        assert refused.value.conflict.kind == "too_early"
        assert refused.value.conflict.slot_id == "s1"
        assert '"early": true' in str(refused.value) and "“Tips”" in str(refused.value)
    else:
        check_not_too_early(starts_at, T0, early=early)


def test_a_week_early_says_how_early() -> None:
    with pytest.raises(InvalidTransition, match="starts in 7 days 2 hours, more than 1 hour"):
        check_not_too_early(T0 + timedelta(days=7, hours=2), T0, early=False)


@fast
@given(since_end=seconds)
def test_reopen_only_within_fifteen_minutes_of_the_end(since_end: timedelta) -> None:
    now = T0 + since_end
    if timedelta(0) <= since_end <= REOPEN_WINDOW or since_end < timedelta(0):
        check_reopen(T0, now)
    else:
        with pytest.raises(InvalidTransition, match="more than 15 minutes ago"):
            check_reopen(T0, now, zone="Europe/London", label="“Tips”")
    with pytest.raises(InvalidTransition):
        check_reopen(None, now)  # never went off air: nothing to reopen


@pytest.mark.parametrize(
    ("state", "moves_start", "moves_end", "allowed"),
    [
        ("scheduled", True, True, True),
        ("live", False, True, True),
        ("live", True, False, False),
        ("live", True, True, False),
        ("ended", False, True, False),
        ("cancelled", True, False, False),
        ("ended", False, False, True),
        ("cancelled", False, False, True),
    ],
)
def test_what_an_edit_may_change_depends_on_the_state(
    state: str, moves_start: bool, moves_end: bool, allowed: bool
) -> None:
    if allowed:
        check_edit(state, moves_start=moves_start, moves_end=moves_end)
        return
    with pytest.raises(InvalidTransition) as refused:
        check_edit(state, moves_start=moves_start, moves_end=moves_end, slot_id="s1")
    assert refused.value.conflict.slot_id == "s1"


@pytest.mark.parametrize(
    ("state", "allowed"), [("scheduled", True), ("live", False), ("ended", False)]
)
def test_only_a_scheduled_slot_changes_channel(state: str, allowed: bool) -> None:
    if allowed:
        check_edit(state, moves_start=False, moves_end=False, moves_channel=True)
        return
    with pytest.raises(InvalidTransition):
        check_edit(state, moves_start=False, moves_end=False, moves_channel=True)


@fast
@given(start=minutes, length=st.integers(1, 240), ended=minutes)
def test_ending_early_gives_the_rest_back_and_nothing_else_changes_the_end(
    start: timedelta, length: int, ended: timedelta
) -> None:
    starts_at, ends_at = T0 + start, T0 + start + timedelta(minutes=length)
    ended_at = T0 + ended
    kept = end_kept_after_air(starts_at, ends_at, ended_at)
    assert starts_at < kept <= ends_at
    assert kept == (ended_at if starts_at < ended_at < ends_at else ends_at)


@fast
@given(
    end=minutes,
    planned=st.none() | minutes,
    next_start=st.none() | minutes,
)
def test_a_reopened_slot_gets_back_what_is_still_free_of_its_planned_end(
    end: timedelta, planned: timedelta | None, next_start: timedelta | None
) -> None:
    ends_at = T0 + end
    planned_at = None if planned is None else T0 + planned
    following = None if next_start is None else max(ends_at, T0 + next_start)
    got = end_after_reopen(ends_at, planned_at, following)
    assert got >= ends_at
    if planned_at is not None:
        assert got <= max(planned_at, ends_at)
    if following is not None:
        assert got <= following


@fast
@given(start=minutes, length=st.integers(1, 240), went_live=st.none() | minutes, off=minutes)
def test_shown_times_follow_what_happened_and_never_run_backwards(
    start: timedelta, length: int, went_live: timedelta | None, off: timedelta
) -> None:
    starts_at, ends_at = T0 + start, T0 + start + timedelta(minutes=length)
    actual_start = None if went_live is None else T0 + went_live
    actual_end = None if actual_start is None else max(actual_start, actual_start + off)
    shown = times_on_air(starts_at, ends_at, actual_start, actual_end)
    assert shown.starts_at == (actual_start or starts_at)
    assert shown.ends_at > shown.starts_at
    if actual_end is not None and actual_end > shown.starts_at:
        assert shown.ends_at == actual_end
    if actual_start is None:
        assert shown.ends_at == ends_at


@fast
@given(status=states, start=minutes)
def test_overdue_is_a_scheduled_slot_whose_start_has_passed(status: str, start: timedelta) -> None:
    assert is_overdue(status, T0 + start, T0) == (status == "scheduled" and start < timedelta(0))


@fast
@given(live=st.lists(st.sampled_from(["s1", "s2", "s3"]), unique=True))
def test_channel_busy_names_every_other_live_slot(live: list[str]) -> None:
    labels = {slot_id: f"“Title {slot_id}”" for slot_id in live}
    conflicts = find_channel_busy("s1", live, labels)
    assert [c.conflicting_slot_id for c in conflicts] == [i for i in live if i != "s1"]
    assert all(c.kind == "channel_busy" and c.slot_id == "s1" for c in conflicts)
    assert all(labels[c.conflicting_slot_id or ""] in c.message for c in conflicts)


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(minutes=61), "1 hour 1 minute"),
        (timedelta(days=2, minutes=5), "2 days 5 minutes"),
        (timedelta(seconds=30), "less than a minute"),
        (timedelta(minutes=15), "15 minutes"),
    ],
)
def test_durations_read_as_words(span: timedelta, words: str) -> None:
    assert duration_words(span) == words
