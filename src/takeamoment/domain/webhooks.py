"""Webhook rules: which change types a webhook may ask for, and when a failed message is tried
again."""

from __future__ import annotations

from typing import Literal, get_args

# Every type the change log writes (services/*.py call record_change with these).
ChangeType = Literal[
    "slot.created",
    "slot.updated",
    "slot.rescheduled",
    "slot.live",
    "slot.ended",
    "slot.cancelled",
    "slot.deleted",
    "slot.overrun",
    "booking.confirmed",
    "booking.declined",
    "booking.removed",
    "channel.updated",
    "channel.deleted",
    "event.updated",
    "notice.missed",
]
CHANGE_TYPES: frozenset[str] = frozenset(get_args(ChangeType))

RETRY_FACTOR = 4.0


def retry_delay_seconds(attempts: int, first_delay_s: float) -> float:
    """Seconds between try ``attempts`` (which failed) and the next: ``first_delay_s`` times
    4 for each earlier try. From 30 s: 30 s, 2 min, 8 min, 32 min, 2 h 8 min, 8 h 32 min.
    """
    return first_delay_s * RETRY_FACTOR ** max(attempts - 1, 0)


def gives_up(attempts: int, max_attempts: int) -> bool:
    """Whether a message that failed its ``attempts``-th try is not tried again."""
    return attempts >= max_attempts
