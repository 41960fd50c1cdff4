"""Typed errors of the scheduling rules; ``api/errors.py`` maps each to an HTTP status once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

ConflictKind = Literal[
    "channel_overlap",
    "person_overlap",
    "changeover",
    "outside_availability",
    "invalid_transition",
    "channel_busy",
    "too_early",
    "stale_preview",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """One broken rule, with the ids a client needs to find what is in the way."""

    kind: ConflictKind
    message: str
    slot_id: str | None = None
    person_id: str | None = None
    conflicting_slot_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value is not None}


class SchedulingError(Exception):
    """Base of every rule the schedule refuses to break."""


class SchedulingConflict(SchedulingError):
    """The change would break one or more booking rules (HTTP 409)."""

    def __init__(self, conflicts: list[Conflict], *, detail: str = "scheduling conflict") -> None:
        self.conflicts = conflicts
        summary = "; ".join(conflict.message for conflict in conflicts)
        super().__init__(f"{detail}: {summary}")


class InvalidSchedule(SchedulingError, ValueError):
    """The request describes an impossible schedule, e.g. a slot ending before it starts (400)."""


class NotBookable(SchedulingError):
    """The person cannot take this role at all, e.g. a therapist without a valid licence (422)."""


class InvalidTransition(SchedulingError):
    """The slot or booking cannot move from its state by this command (HTTP 409)."""

    def __init__(
        self,
        message: str,
        *,
        slot_id: str | None = None,
        kind: ConflictKind = "invalid_transition",
    ) -> None:
        self.conflict = Conflict(kind=kind, message=message, slot_id=slot_id)
        super().__init__(message)


class StalePreview(SchedulingError):
    """A change was previewed at one seq of the event and applied at another (HTTP 409).

    ``preview`` is what the same request previews now, so the client can show it again.
    """

    def __init__(self, message: str, *, seq: int, preview: Mapping[str, Any]) -> None:
        self.conflict = Conflict(kind="stale_preview", message=message)
        self.seq = seq
        self.preview = preview
        super().__init__(message)


class NotFound(LookupError):
    """No such thing, or not one the caller may see (HTTP 404)."""

    def __init__(self, what: str, key: str) -> None:
        self.what = what
        self.key = key
        super().__init__(f"no {what} {key!r}")


class Gone(LookupError):
    """It existed and was retired on purpose, e.g. a rotated feed URL (HTTP 410)."""

    def __init__(self, what: str, key: str) -> None:
        self.what = what
        self.key = key
        super().__init__(f"the {what} {key!r} was retired; ask for the new one")


class AlreadyExists(Exception):
    """A unique name or a booking that is already taken (HTTP 409)."""


class InvalidDocument(ValueError):
    """An imported document breaks rules; ``problems`` lists each with its place (HTTP 400)."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(f"the document has {count} problem{'s' if count != 1 else ''}")


class InUse(Exception):
    """The thing is still in use, e.g. a channel with slots or a person with bookings (409)."""


class Forbidden(PermissionError):
    """The caller is known but may not do this to this thing (HTTP 403)."""
