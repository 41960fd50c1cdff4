"""The life of a slot on air: ``scheduled → live → ended`` and ``scheduled → cancelled``.

A slot that ended or was cancelled is history; nothing moves it out of that state again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from takeamoment.domain.errors import Conflict, InvalidTransition

SlotStatus = Literal["scheduled", "live", "ended", "cancelled"]
SlotCommand = Literal["go_live", "end", "cancel"]

TRANSITIONS: Mapping[tuple[SlotStatus, SlotCommand], SlotStatus] = {
    ("scheduled", "go_live"): "live",
    ("live", "end"): "ended",
    ("scheduled", "cancel"): "cancelled",
}

# What each command is called in an error message a host reads.
_VERBS: Mapping[SlotCommand, str] = {"go_live": "go live", "end": "end", "cancel": "be cancelled"}


def apply(state: str, command: SlotCommand, *, slot_id: str | None = None) -> SlotStatus:
    """The state the command leads to; InvalidTransition when the table has no such move."""
    for (source, known_command), target in TRANSITIONS.items():
        if source == state and known_command == command:
            return target
    raise InvalidTransition(
        f"a {state} slot cannot {_VERBS.get(command, command)}", slot_id=slot_id
    )


def find_channel_busy(slot_id: str, live_slot_ids: Iterable[str]) -> list[Conflict]:
    """A conflict for each other slot of the channel on air: a channel runs one slot at a time."""
    return [
        Conflict(
            kind="channel_busy",
            message=f"slot {live_id} is still live on this channel; end it first",
            slot_id=slot_id,
            conflicting_slot_id=live_id,
        )
        for live_id in live_slot_ids
        if live_id != slot_id
    ]
