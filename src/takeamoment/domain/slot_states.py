"""The life of a slot on air: ``scheduled → live → ended``, ``scheduled → cancelled``, and back.

Mistakes are not final: an ended slot may be reopened (``reopen``, within ``REOPEN_WINDOW`` of
its end) and a cancelled one restored (``restore``). Going live far ahead of the start needs the
host to say so (``too_early``). What a slot's times may still do depends on its state: a live
slot's start never moves, and a finished slot's times are history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from takeamoment.domain.errors import Conflict, InvalidTransition
from takeamoment.domain.intervals import Interval
from takeamoment.domain.labels import moment_label

SlotStatus = Literal["scheduled", "live", "ended", "cancelled"]
SlotCommand = Literal["go_live", "end", "cancel", "reopen", "restore"]

# Not over yet: its times may still move, its people are still owed their notices.
OPEN_SLOT_STATUSES: tuple[SlotStatus, ...] = ("scheduled", "live")

TRANSITIONS: Mapping[tuple[SlotStatus, SlotCommand], SlotStatus] = {
    ("scheduled", "go_live"): "live",
    ("live", "end"): "ended",
    ("scheduled", "cancel"): "cancelled",
    ("ended", "reopen"): "live",
    ("cancelled", "restore"): "scheduled",
}

# Going live more than this before the start is a mistake unless the host confirms it.
EARLY_LIMIT = timedelta(minutes=60)
# How long after its end a slot ended by mistake may go back on air.
REOPEN_WINDOW = timedelta(minutes=15)
# A slot ended the moment it went live still shows as lasting this long (never zero).
SHORTEST_SHOWN = timedelta(seconds=1)

# What each command and state are called in a message a host reads.
_VERBS: Mapping[str, str] = {
    "go_live": "go live",
    "end": "end",
    "cancel": "be cancelled",
    "reopen": "be reopened",
    "restore": "be restored",
}
_STATES: Mapping[str, str] = {
    "scheduled": "is scheduled",
    "live": "is live",
    "ended": "has ended",
    "cancelled": "is cancelled",
}
_HINTS: Mapping[tuple[str, str], str] = {
    ("ended", "go_live"): " (reopen it instead, within 15 minutes of its end)",
    ("cancelled", "go_live"): " (restore it first)",
    ("live", "cancel"): " (end it instead)",
}


def apply(
    state: str, command: SlotCommand, *, slot_id: str | None = None, label: str | None = None
) -> SlotStatus:
    """The state the command leads to; InvalidTransition when the table has no such move.

    ``label`` names the slot in the message (its title and time); "the slot" without one.
    """
    for (source, known_command), target in TRANSITIONS.items():
        if source == state and known_command == command:
            return target
    subject = label or "the slot"
    words = _STATES.get(state, f"is {state}")
    verb = _VERBS.get(command, command)
    hint = _HINTS.get((state, command), "")
    raise InvalidTransition(f"{subject} {words}, so it cannot {verb}{hint}", slot_id=slot_id)


def check_not_too_early(
    starts_at: datetime,
    now: datetime,
    *,
    early: bool,
    slot_id: str | None = None,
    label: str | None = None,
) -> None:
    """Refuse (409 ``too_early``) going live more than ``EARLY_LIMIT`` ahead, unless ``early``."""
    ahead = starts_at - now
    if early or ahead <= EARLY_LIMIT:
        return
    raise InvalidTransition(
        f"{label or 'the slot'} starts in {duration_words(ahead)}, more than "
        f"{duration_words(EARLY_LIMIT)} from now; to go live this early, "
        'confirm it (body {"early": true})',
        slot_id=slot_id,
        kind="too_early",
    )


def check_reopen(
    ended_at: datetime | None,
    now: datetime,
    *,
    zone: str | tzinfo = UTC,
    slot_id: str | None = None,
    label: str | None = None,
) -> None:
    """Refuse reopening a slot that went off air more than ``REOPEN_WINDOW`` ago."""
    if ended_at is not None and now - ended_at <= REOPEN_WINDOW:
        return
    when = f" at {moment_label(ended_at, zone)}" if ended_at else ""
    raise InvalidTransition(
        f"{label or 'the slot'} ended{when}, more than {duration_words(REOPEN_WINDOW)} ago, "
        "so it can no longer be reopened",
        slot_id=slot_id,
    )


def check_edit(
    state: str,
    *,
    moves_start: bool,
    moves_end: bool,
    moves_channel: bool = False,
    slot_id: str | None = None,
    label: str | None = None,
) -> None:
    """Refuse a change of times or channel the slot's state does not allow.

    A scheduled slot may move; a live one may only change its end (its start and its channel are
    what happened on air); an ended or cancelled one keeps its times for the record (its text
    may still change).
    """
    subject = label or "the slot"
    if state == "live" and moves_channel:
        raise InvalidTransition(
            f"{subject} is live on its channel, so it cannot move to another one", slot_id=slot_id
        )
    moves_start = moves_start or moves_channel
    if state == "live" and moves_start:
        raise InvalidTransition(
            f"{subject} is live, so its start cannot move; change its end (or delay it) instead",
            slot_id=slot_id,
        )
    if state not in OPEN_SLOT_STATUSES and (moves_start or moves_end):
        words = _STATES.get(state, f"is {state}")
        raise InvalidTransition(
            f"{subject} {words}, so its times are history: only its text can change",
            slot_id=slot_id,
        )


def end_kept_after_air(starts_at: datetime, ends_at: datetime, ended_at: datetime) -> datetime:
    """The end a slot keeps once it goes off air at ``ended_at``.

    Ending early gives the rest of the slot's time back to its channel, so later slots can be
    pulled into it. Ending late keeps the scheduled end: the time after it belongs to the next
    slot, and what happened is recorded as ``actual_ended_at``. A slot that went live early and
    ended before its scheduled start keeps its times too (an empty slot cannot be held).
    """
    return ended_at if starts_at < ended_at < ends_at else ends_at


def end_after_reopen(
    ends_at: datetime, planned_ends_at: datetime | None, next_starts_at: datetime | None
) -> datetime:
    """The end a reopened slot gets back: its end before it ended early, as far as still free.

    Never earlier than the end it holds now, never into the next slot of its channel.
    """
    wanted = max(ends_at, planned_ends_at or ends_at)
    if next_starts_at is not None:
        wanted = min(wanted, max(next_starts_at, ends_at))
    return wanted


def is_overdue(status: str, starts_at: datetime, now: datetime) -> bool:
    """A scheduled slot whose start has passed without it going live: "starting soon"."""
    return status == "scheduled" and starts_at < now


def times_on_air(
    starts_at: datetime,
    ends_at: datetime,
    actual_started_at: datetime | None,
    actual_ended_at: datetime | None,
) -> Interval:
    """What a slot shows: what happened once known, the schedule until then.

    A live slot shows its real start and its scheduled end (or, if it went live after that end,
    as long as it was scheduled to last); an ended slot shows when it went on and off air.
    """
    start = actual_started_at or starts_at
    if actual_ended_at is not None:
        end = actual_ended_at
    else:
        end = ends_at if ends_at > start else start + (ends_at - starts_at)
    return Interval(starts_at=start, ends_at=max(end, start + SHORTEST_SHOWN))


def find_channel_busy(
    slot_id: str, live_slot_ids: Iterable[str], labels: Mapping[str, str] | None = None
) -> list[Conflict]:
    """A conflict for each other slot of the channel on air: a channel runs one slot at a time.

    ``labels`` names the slots on air (title and time) in the message.
    """
    names = labels or {}
    return [
        Conflict(
            kind="channel_busy",
            message=f"{names.get(live_id, 'another slot')} is still live on this channel; "
            "end it first",
            slot_id=slot_id,
            conflicting_slot_id=live_id,
        )
        for live_id in live_slot_ids
        if live_id != slot_id
    ]


def duration_words(span: timedelta) -> str:
    """A duration as a host says it: "3 days 2 hours", "45 minutes"."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{value} {unit}{'' if value == 1 else 's'}"
        for value, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if value
    ]
    return " ".join(parts[:2]) or "less than a minute"
