"""The life of a booking: invited, then confirmed or declined, and the ways it ends.

``invited`` and ``confirmed`` are active: they hold the person's time, so the booking rules count
them. Every other status is kept for the record and holds no time: ``declined`` (the person said
no), ``removed`` (the host took them off), ``cancelled`` (the slot was cancelled; restoring the
slot brings the booking back as it was), ``conflicted`` (a forced delay moved the slot where the
person could not follow).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast

from takeamoment.domain.errors import InvalidTransition

BookingStatus = Literal["invited", "confirmed", "declined", "removed", "cancelled", "conflicted"]
BookingCommand = Literal["accept", "decline", "remove", "cancel_slot", "release"]

ACTIVE_BOOKING_STATUSES: tuple[BookingStatus, ...] = ("invited", "confirmed")
# Taken off the slot by the host or by a forced delay (not by the person, not by a cancellation).
TAKEN_OFF_STATUSES: tuple[BookingStatus, ...] = ("removed", "conflicted")

TRANSITIONS: Mapping[tuple[BookingStatus, BookingCommand], BookingStatus] = {
    ("invited", "accept"): "confirmed",
    ("invited", "decline"): "declined",
    ("confirmed", "decline"): "declined",
    **{
        (status, "remove"): "removed"
        for status in ("invited", "confirmed", "declined", "cancelled", "conflicted")
    },
    ("invited", "cancel_slot"): "cancelled",
    ("confirmed", "cancel_slot"): "cancelled",
    ("invited", "release"): "conflicted",
    ("confirmed", "release"): "conflicted",
}

# What the command makes of a booking, in a message a person reads.
_RESULTS: Mapping[str, str] = {
    "accept": "confirmed",
    "decline": "declined",
    "remove": "removed",
    "cancel_slot": "cancelled",
    "release": "released",
}


def is_active(status: str) -> bool:
    """True while the booking holds the person's time (invited or confirmed)."""
    return status in ACTIVE_BOOKING_STATUSES


def apply_booking(
    status: str,
    command: BookingCommand,
    *,
    slot_id: str | None = None,
    who: str | None = None,
    slot_label: str | None = None,
) -> BookingStatus:
    """The status the command leads to; answering or removing twice leads where it already is.

    InvalidTransition otherwise, naming the person (``who``) and the slot (``slot_label``).
    """
    for (source, known), target in TRANSITIONS.items():
        if source == status and known == command:
            return target
    if _RESULTS[command] == status:  # the same answer again is harmless
        return cast(BookingStatus, status)
    booking = f"{who}'s booking" if who else "the booking"
    where = f" in {slot_label}" if slot_label else ""
    raise InvalidTransition(
        f"{booking}{where} is {status}, so it cannot be {_RESULTS[command]}", slot_id=slot_id
    )


def status_after_restore(was_confirmed: bool) -> BookingStatus:
    """A booking released by its slot's cancellation comes back as it stood: confirmed or invited.

    A booking is confirmed exactly when the person accepted it (``confirmed_at`` is set), and the
    only way out of ``confirmed`` that a restore undoes is the cancellation.
    """
    return "confirmed" if was_confirmed else "invited"
