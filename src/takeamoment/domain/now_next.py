"""What a channel shows at a moment: the slots on air ("on now") and the one up next.

One rule for the viewer page, the host console and ``takeamoment watch`` (the pages' script,
``web/static/slots.js``, mirrors it in the browser):

- on now: every live slot of the channel, by start. A channel runs one slot at a time, so this
  is at most one slot unless something slipped past that rule; then none is hidden.
- up next: the first scheduled slot, by start, that has not yet ended. An overdue one (its start
  passed without it going live) is still up next, shown as "starting soon", until its scheduled
  end passes; a slot whose whole time went by without it going on air is not up next any more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar


class SlotOnChannel(Protocol):
    """What the rule reads of a slot; pages, the console and ``watch`` each have their own."""

    @property
    def status(self) -> str: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime: ...


S = TypeVar("S", bound=SlotOnChannel)


@dataclass(frozen=True, slots=True)
class NowAndNext(Generic[S]):
    """A channel at a moment: its slots on air by start, and the one up next (or None)."""

    live: tuple[S, ...]
    next: S | None


def now_and_next(slots: Iterable[S], now: datetime) -> NowAndNext[S]:
    """The slots of one channel on now and up next at ``now`` (see the module for the rule).

    Slots that start at the same instant keep the order they came in.
    """
    # Instants in UTC: two times written in one zone compare by wall clock, wrong in a fold.
    ordered = sorted(slots, key=lambda slot: slot.starts_at.astimezone(UTC))
    live = tuple(slot for slot in ordered if slot.status == "live")
    at = now.astimezone(UTC)
    upcoming = (
        slot for slot in ordered if slot.status == "scheduled" and slot.ends_at.astimezone(UTC) > at
    )
    return NowAndNext(live=live, next=next(upcoming, None))
