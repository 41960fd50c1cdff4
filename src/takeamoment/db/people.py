"""The people aggregate: hosts, creators and therapists, their tokens and availability."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, func
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow


class Host(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Person(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    handle: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)
    email: str | None = Field(default=None, max_length=320)
    timezone: str | None = Field(default=None, max_length=64)
    license_number: str | None = Field(default=None, max_length=100)
    license_issuer: str | None = Field(default=None, max_length=200)
    license_jurisdiction: str | None = Field(default=None, max_length=100)
    license_expires_on: date | None = None
    license_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    feed_token_hash: str = Field(unique=True, max_length=64)
    # The seq of the person's latest notification; bumping it also serialises their inbox.
    last_notification_seq: int = 0
    # Their own page's "what changed since your last visit" (``services/last_visit.py``): the
    # latest seq it showed, the seq the current visit lists notices after, the last page view.
    seen_notification_seq: int = 0
    visit_from_seq: int = 0
    page_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The channels beyond the stream the person wants (PATCH /api/me/preferences).
    email_enabled: bool = True
    push_enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# Handles are unique without regard to case, on every database and under concurrency: the index
# decides when two creates race. Handles are ASCII, which lower() folds the same everywhere.
Index("ux_person_handle_lower", func.lower(Person.handle), unique=True)


class ApiToken(SQLModel, table=True):
    """A bearer token, kept only as its SHA-256; it names a host or a person."""

    __tablename__ = "api_token"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)
    host_id: str | None = Field(default=None, foreign_key="host.id", index=True, max_length=32)
    person_id: str | None = Field(default=None, foreign_key="person.id", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AvailabilityWindow(SQLModel, table=True):
    __tablename__ = "availability_window"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=32)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)


class RetiredFeedToken(SQLModel, table=True):
    """A feed token that was rotated away, kept (hashed) so its URL answers 410 Gone, not 404."""

    __tablename__ = "retired_feed_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(max_length=32)
    retired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuthSession(SQLModel, table=True):
    """A browser session: what a session cookie names, so that signing out (or revoking the
    credential it was opened with) ends it on the server, not only in one browser.

    It stands for a host (the console) or a person (their own page); ``token_id`` is the bearer
    token it was opened with, if any, and revoking that token ends it too.
    """

    __tablename__ = "auth_session"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    role: str = Field(max_length=16)
    token_id: str | None = Field(
        default=None, foreign_key="api_token.id", index=True, max_length=32
    )
    host_id: str | None = Field(default=None, foreign_key="host.id", max_length=32)
    person_id: str | None = Field(default=None, foreign_key="person.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
