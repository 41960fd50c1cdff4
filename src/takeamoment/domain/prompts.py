"""Telling people they are on by the state of their channel, not only by the clock.

At a slot's start its people are owed a prompt. If the channel is free they get ``go_live``
("you're on"); if it is still busy they get ``standby`` with the start to expect, and ``go_live``
follows the moment the channel frees or the host takes their slot live. A person is never told
"you're on" while another slot is live on their channel.

A channel is busy exactly while another of its slots is live. An earlier slot that is overdue
(its start passed and it never went live) does not hold the channel: a host who skips it takes
the next one live, and its people must not wait on a slot nobody is running.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from takeamoment.domain.intervals import Interval

PromptKind = Literal["go_live", "standby"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSlot:
    """A slot of a channel as prompts see it: where it sits and what state it is in."""

    slot_id: str
    interval: Interval
    status: str

    @property
    def starts_at(self) -> datetime:
        return self.interval.starts_at


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """What the people of a slot are told now, and when their slot is expected to start."""

    kind: PromptKind
    expected_start: datetime


def ahead_of(slot: ChannelSlot, channel: Iterable[ChannelSlot]) -> list[ChannelSlot]:
    """The channel's other slots that hold it now: the live ones, by start."""
    live = [other for other in channel if other.slot_id != slot.slot_id and other.status == "live"]
    return sorted(live, key=lambda s: s.starts_at)


def expected_start(slot: ChannelSlot, ahead: Iterable[ChannelSlot], now: datetime) -> datetime:
    """When the slot may start: once the live slots ahead of it are due to end."""
    moment = max([now, *(other.interval.ends_at for other in ahead)])
    return max(moment, slot.starts_at)


def prompt_at(slot: ChannelSlot, channel: Iterable[ChannelSlot], now: datetime) -> Prompt | None:
    """What the slot's people are owed at ``now``; None before the start of a slot not on air.

    A live slot's people are owed ``go_live`` (the host took it live, early or late). A scheduled
    slot whose start has passed owes ``go_live`` when nothing holds its channel, else ``standby``.
    Ended and cancelled slots owe nothing.
    """
    if slot.status == "live":
        return Prompt(kind="go_live", expected_start=now)
    if slot.status != "scheduled" or now < slot.starts_at:
        return None
    ahead = ahead_of(slot, channel)
    if not ahead:
        return Prompt(kind="go_live", expected_start=now)
    return Prompt(kind="standby", expected_start=expected_start(slot, ahead, now))


def now_on(channel: Iterable[ChannelSlot], now: datetime) -> list[str]:
    """The slots of the channel whose people are owed ``go_live`` at ``now`` (by start time).

    After a change of the channel (a slot ended, was cancelled or moved), these are the people to
    tell "you're on" at once.
    """
    slots = list(channel)
    owed = [slot for slot in slots if (p := prompt_at(slot, slots, now)) and p.kind == "go_live"]
    return [slot.slot_id for slot in sorted(owed, key=lambda s: (s.starts_at, s.slot_id))]
