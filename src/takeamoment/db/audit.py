"""The audit log: who did what to which rows, when, with the values before and after.

One ``AuditEntry`` is written per committed write transaction made on behalf of an actor (a host,
a creator or therapist, or the command line). The actor is bound for the current task with
``acting_as``; ``db/audit_capture.py`` collects the rows the transaction touches and adds the entry
in the same transaction, so a rolled-back or retried transaction leaves exactly what committed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from takeamoment.db.types import UTCDateTime, new_id, utcnow


class AuditEntry(SQLModel, table=True):
    """One committed action: its actor, the route or command, and the rows it changed."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_event_at", "event_id", "at"),
        Index("ix_audit_entry_at", "at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_role: str = Field(max_length=16)
    # The host's or the person's id; none for the command line.
    actor_id: str | None = Field(default=None, max_length=32)
    actor_name: str | None = Field(default=None, max_length=200)
    token_id: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=300)
    # No foreign key: an audit entry must outlive whatever it describes.
    event_id: str | None = Field(default=None, max_length=32)
    target: str | None = Field(default=None, max_length=300)
    changes: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who is acting and through what: bound for a request or a command, read at commit."""

    role: str
    action: str
    # The host's id for a host, the person's id for a creator or therapist.
    id: str | None = None
    token_id: str | None = None
    # Looked up from ``id`` at commit when not given.
    name: str | None = None
    # What the action names ("slot:<id>"); else the row it created, or else the first it changed.
    target: str | None = None


@dataclass(frozen=True, slots=True)
class _Binding:
    actor: Actor
    task: weakref.ref[asyncio.Task[Any]] | None


# Tasks copy the context they are created in, so a task started during a request (re-arming the
# scheduler, a reminder job it arms) would inherit the caller. A binding therefore holds only in
# the task that made it: what runs later on its own is not the caller's action. A binding made
# outside any event loop (a command line, around ``asyncio.run``) holds for everything it runs.
_BINDING: ContextVar[_Binding | None] = ContextVar("takeamoment_audit_actor", default=None)


def _running_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return None


def current_actor() -> Actor | None:
    """The actor bound in this very task, or None: writes without an actor are not audited."""
    binding = _BINDING.get()
    if binding is None:
        return None
    if binding.task is None:  # bound outside any event loop (a command, before asyncio.run)
        return binding.actor
    return binding.actor if binding.task() is _running_task() else None


def _binding(actor: Actor | None) -> _Binding | None:
    if actor is None:
        return None
    task = _running_task()
    return _Binding(actor, weakref.ref(task) if task is not None else None)


def bind_actor(actor: Actor | None) -> None:
    """Bind ``actor`` for the rest of the current task (a request runs in its own task)."""
    _BINDING.set(_binding(actor))


@contextmanager
def acting_as(actor: Actor | None) -> Iterator[None]:
    """Bind ``actor`` for the block only, for callers that outlive one action (the CLI, tests)."""
    token = _BINDING.set(_binding(actor))
    try:
        yield
    finally:
        _BINDING.reset(token)
