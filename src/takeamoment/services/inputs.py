"""What the use cases accept. The API validates request bodies against these at the edge.

Datetimes must carry an offset (a naive one is refused with a message saying so), lie between
1970 and 3000, and are kept in UTC from here on; time zones are IANA names checked against the
zone database; no text anywhere in a body may hold a NUL character. Every text and every list
has a maximum length, so one event cannot grow a calendar without bound. A field a body's model
does not declare is refused, never ignored: a typo must not pass for a change that was made.

Every URL a user stores — for now the safety resources' links, rendered on every viewer page and
in every calendar — is a :data:`StoredUrl`: ``http`` or ``https`` with a host, at most
:data:`MAX_URL_LENGTH` characters, so no ``javascript:`` or ``data:`` link can ever be written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)
from sqlmodel import SQLModel
from sqlmodel._compat import SQLModelConfig

# Wide enough for any schedule, and far from the ends of what ``datetime`` holds, so adding a
# changeover, a delay or a reminder to an accepted time can never overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def _to_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("the datetime is out of range") from error
    if not EARLIEST <= utc < LATEST:
        raise ValueError(
            f"datetimes must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}"
        )
    return utc


def _refuse_nul_characters(data: Any) -> None:
    """Raise if any string in the raw JSON holds a NUL, which PostgreSQL text cannot store."""
    pending = [data]
    while pending:  # a loop, not recursion: deeply nested bodies must not overflow the stack
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("text must not contain NUL (\\u0000) characters")
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


@cache
def _iana_zone_names() -> frozenset[str]:
    """The zone database's names, read once: looking a name up must never touch the files.

    ``ZoneInfo("America")`` raises IsADirectoryError, and other file names load as garbage.
    """
    return frozenset(available_timezones()) - {"localtime"}  # the host's own zone, not IANA


def _known_zone(name: str) -> str:
    if name not in _iana_zone_names():
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


def iana_zone_names() -> list[str]:
    """Every IANA zone name the service accepts, sorted (the editor's searchable list)."""
    return sorted(_iana_zone_names())


MAX_URL_LENGTH = 2000
URL_SCHEMES = frozenset({"http", "https"})


def _http_url(value: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host and nothing a browser would strip
    or reinterpret (whitespace, control characters, a backslash)."""
    if any(char.isspace() or not char.isprintable() or char == "\\" for char in value):
        raise ValueError("a URL must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as error:
        raise ValueError(f"not a valid URL: {error}") from error
    if parts.scheme.lower() not in URL_SCHEMES:
        raise ValueError("a URL must start with https:// or http://")
    if not host:
        raise ValueError("a URL must name a host, as in https://example.org/help")
    return value


def is_http_url(value: str) -> bool:
    """Whether ``value`` would pass as a :data:`StoredUrl` (pages link only such URLs)."""
    try:
        _http_url(value)
    except ValueError:
        return False
    return len(value) <= MAX_URL_LENGTH


StoredUrl = Annotated[
    str, Field(min_length=1, max_length=MAX_URL_LENGTH), AfterValidator(_http_url)
]
"""Any URL a user stores (a helpline's link, and later stream links and webhooks)."""

UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=5000)]


def _without_hash(value: str) -> str:
    tag = value.strip().lstrip("#").strip()
    if not tag:
        raise ValueError("a tag needs a word, not only '#' or spaces")
    return tag


def _distinct_tags(tags: list[str] | None) -> list[str] | None:
    """Each tag once regardless of case (``booktok`` is ``BookTok``), the first spelling kept."""
    if tags is None:
        return None
    seen: set[str] = set()
    kept = []
    for tag in tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            kept.append(tag)
    return kept


# Tags and hashtags are stored without "#" (pages and feeds add exactly one) and compared
# without regard to case.
Tag = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_without_hash)]
Minutes = Annotated[int, Field(ge=0, le=24 * 60)]
ReminderMinutes = Annotated[int, Field(ge=1, le=7 * 24 * 60)]
PersonRole = Literal["creator", "therapist"]


def _ordered(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")


class RequestBody(SQLModel):
    """Base of every request body: checks the raw JSON before any field is read, and refuses
    fields the body does not declare (400 naming the field)."""

    model_config = SQLModelConfig(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        _refuse_nul_characters(data)
        return data


class SafetyResourceInput(RequestBody):
    """A helpline: shown on every viewer page and in every calendar entry of the event."""

    name: Text200
    phone: Annotated[str, Field(max_length=40)] | None = None
    url: StoredUrl | None = None
    region: Annotated[str, Field(max_length=100)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None


class EventFields(RequestBody):
    title: Text200 | None = None
    description: LongText | None = None
    timezone: TimeZoneName | None = None
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    hashtags: Annotated[list[Tag], Field(max_length=50), AfterValidator(_distinct_tags)] | None = (
        None
    )
    changeover_minutes: Minutes | None = None
    reminder_minutes: Annotated[list[ReminderMinutes], Field(max_length=10)] | None = None
    safety_resources: Annotated[list[SafetyResourceInput], Field(max_length=20)] | None = None

    @field_validator("reminder_minutes")
    @classmethod
    def _distinct_descending(cls, value: list[int] | None) -> list[int] | None:
        return sorted(set(value), reverse=True) if value is not None else None

    @model_validator(mode="after")
    def _ends_after_start(self) -> EventFields:
        _ordered(self.starts_at, self.ends_at)
        return self


class EventUpdate(EventFields):
    """Any of the create fields but the slug."""


class EventCreate(EventFields):
    slug: Slug
    title: Text200
    timezone: TimeZoneName
    starts_at: UtcDatetime
    ends_at: UtcDatetime


class ChannelCreate(RequestBody):
    slug: Slug
    name: Text200
    stream_url: StoredUrl | None = None


class ChannelUpdate(RequestBody):
    """Rename, move to ``position`` (0 is first; the others shift), or set the stream link
    (``null`` removes it)."""

    name: Text200 | None = None
    position: Annotated[int, Field(ge=0, le=1000)] | None = None
    stream_url: StoredUrl | None = None


class LicenceInput(RequestBody):
    number: Annotated[str, Field(min_length=1, max_length=100)]
    issuer: Text200
    jurisdiction: Annotated[str, Field(min_length=1, max_length=100)]
    expires_on: date


class PersonCreate(RequestBody):
    name: Text200
    handle: Annotated[str, Field(pattern=r"^@?[A-Za-z0-9_.]{1,63}$")]
    role: PersonRole
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = (
        None
    )
    timezone: TimeZoneName | None = None
    license: LicenceInput | None = None

    @field_validator("handle")
    @classmethod
    def _without_at(cls, value: str) -> str:
        return value.removeprefix("@")


Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class PersonUpdate(RequestBody):
    """What may change about a person. The person themselves may change only ``name``,
    ``email`` and ``timezone``; ``null`` clears ``email``, ``timezone`` or the licence."""

    name: Text200 | None = None
    handle: Annotated[str, Field(pattern=r"^@?[A-Za-z0-9_.]{1,63}$")] | None = None
    email: Email | None = None
    timezone: TimeZoneName | None = None
    license: LicenceInput | None = None

    @field_validator("handle")
    @classmethod
    def _without_at(cls, value: str | None) -> str | None:
        return value.removeprefix("@") if value is not None else None


SELF_EDITABLE_PERSON_FIELDS = frozenset({"name", "email", "timezone"})


class AvailabilityInput(RequestBody):
    starts_at: UtcDatetime
    ends_at: UtcDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> AvailabilityInput:
        _ordered(self.starts_at, self.ends_at)
        return self


class SlotFields(RequestBody):
    title: Text200 | None = None
    description: LongText | None = None
    tags: Annotated[list[Tag], Field(max_length=20), AfterValidator(_distinct_tags)] | None = None
    kind: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    stream_url: StoredUrl | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> SlotFields:
        _ordered(self.starts_at, self.ends_at)
        return self


class SlotUpdate(SlotFields):
    """Title, description, tags, kind, times, stream link (``null`` removes it) and channel (its
    slug or id: the slot moves to that lane); every rule is checked again."""

    channel: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class SlotCreate(SlotFields):
    channel: Annotated[str, Field(min_length=1, max_length=64)]
    title: Text200
    starts_at: UtcDatetime
    ends_at: UtcDatetime


class BookingCreate(RequestBody):
    person_id: Annotated[str, Field(min_length=1, max_length=64)]
    role: PersonRole


def _json_integer(value: Any) -> Any:
    # Litestar validates bodies in lax mode, where "10", 10.0 and true would pass for 10 or 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a JSON integer")
    return value


def _json_boolean(value: Any) -> Any:
    # Lax mode would read "no", 0 or "off" as false; a flag such as force must be said plainly.
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError(
            "a delay of 0 minutes moves nothing: give minutes later (+) or earlier (-)"
        )
    return value


DelayMinutes = Annotated[
    int,
    Field(ge=-24 * 60, le=24 * 60),
    BeforeValidator(_json_integer),
    AfterValidator(_not_zero),
]
Flag = Annotated[bool, BeforeValidator(_json_boolean)]
Seq = Annotated[int, Field(ge=0, le=2**31 - 1), BeforeValidator(_json_integer)]


class DelayRequest(RequestBody):
    """Running late by ``minutes`` (1 to 1440), or early by negative ``minutes`` (-1 to -1440).

    ``cascade`` carries the move to the later slots of the channel; ``dry_run`` only answers what
    would happen; ``force`` applies the delay although people cannot follow (see
    ``services/delay.py`` for what that does to their bookings); ``seq`` is the event seq a
    preview was made at: when the event has changed since, nothing is applied (409
    ``stale_preview``, with the new preview).
    """

    minutes: DelayMinutes
    cascade: Flag = True
    dry_run: Flag = False
    force: Flag = False
    seq: Seq | None = None


class GoLiveRequest(RequestBody):
    """``early: true`` confirms going live more than 60 minutes before the slot's start."""

    early: Flag = False
