"""When people are told: reminders before a slot, "you're on" at its start, and what is too late.

Pure arithmetic on aware datetimes; ``now`` is always a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from takeamoment.domain.slot_states import OPEN_SLOT_STATUSES

NoticeKind = Literal["reminder", "go_live"]
Verdict = Literal["wait", "send", "missed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DueNotice:
    """One notice a booked person is owed, and when."""

    kind: NoticeKind
    due_at: datetime
    minutes_before: int | None = None


def notices_for(
    slot_starts_at: datetime, reminder_minutes: Iterable[int], confirmed_at: datetime
) -> list[DueNotice]:
    """The notices of a confirmed booking, earliest first.

    A reminder whose time had already passed when the booking was confirmed is not owed: being
    told "15 minutes to go" five minutes before the start would be stale. "You're on" at the
    start is always owed.
    """
    reminders = [
        DueNotice(
            kind="reminder",
            due_at=slot_starts_at - timedelta(minutes=minutes),
            minutes_before=minutes,
        )
        for minutes in sorted(set(reminder_minutes), reverse=True)
        if minutes > 0 and slot_starts_at - timedelta(minutes=minutes) >= confirmed_at
    ]
    return [*reminders, DueNotice(kind="go_live", due_at=slot_starts_at)]


def still_owed(notice: DueNotice, slot_status: str) -> bool:
    """Whether a notice not yet sent is still worth sending while its slot is in that state.

    Before the slot goes live every notice is; once it is live only "you're on" is (a reminder
    of a start that already happened is noise); once it is over or cancelled, none is.
    """
    if slot_status == "live":
        return notice.kind == "go_live"
    return slot_status in OPEN_SLOT_STATUSES


def notices_owed(
    *,
    booking_status: str,
    slot_status: str,
    slot_starts_at: datetime,
    reminder_minutes: Iterable[int],
    confirmed_at: datetime,
) -> list[DueNotice]:
    """The notices a booking is owed, sent or not: none unless it is confirmed (an invitation
    is told once, when it is made); then ``notices_for`` as far as they are ``still_owed``."""
    if booking_status != "confirmed":
        return []
    notices = notices_for(slot_starts_at, reminder_minutes, confirmed_at)
    return [notice for notice in notices if still_owed(notice, slot_status)]


def verdict(due_at: datetime, now: datetime, grace: timedelta) -> Verdict:
    """Whether a notice should wait, go out now (possibly late, within ``grace``), or is missed."""
    if now < due_at:
        return "wait"
    return "send" if now - due_at <= grace else "missed"
