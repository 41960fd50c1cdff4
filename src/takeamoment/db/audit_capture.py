"""What a write transaction changed, captured for the audit log by session events.

Write sessions are ``AuditedSession``s. While an actor is bound (``db/audit.py``), every flush
notes the tracked rows that are new, changed or deleted, with the values they had before the
transaction; ``before_commit`` reads the values after, and adds one ``AuditEntry`` to the same
transaction. So the entry commits exactly when the change does: a failed or rolled-back write
leaves none, and a retried transaction (a new session each attempt) leaves one.

Never recorded: columns that hold secrets (any name with ``token``, ``hash`` or ``secret``: only
the fact that they changed, under ``redacted``), bookkeeping columns (``last_seq``,
``updated_at``…), and the change log and notification tables, which are logs themselves.
ORM bulk DELETEs of a tracked table are captured by reading the rows they are about to delete;
ORM bulk UPDATEs are not (the only one bumps ``event.last_seq``, which is bookkeeping).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from takeamoment.db.audit import Actor, AuditEntry, current_actor
from takeamoment.db.events import Change
from takeamoment.db.people import Host, Person
from takeamoment.db.slots import Slot
from takeamoment.db.types import utcnow

TRACKED_TABLES = frozenset(
    {"event", "channel", "slot", "booking", "person", "availability_window", "api_token", "host"}
)
BOOKKEEPING_COLUMNS = frozenset(
    {
        "last_seq",
        "last_notification_seq",
        "seen_notification_seq",
        "visit_from_seq",
        "page_seen_at",
        "updated_at",
        "created_at",
    }
)
_SECRET_MARKERS = ("token", "hash", "secret")
_CAPTURE_KEY = "takeamoment_audit_capture"

Op = Literal["created", "updated", "deleted"]


class AuditedSession(Session):
    """The write transactions' session: it records audit entries for the bound actor."""


def is_secret(column: str) -> bool:
    """Whether a column's values must never be copied into the audit log."""
    return any(marker in column for marker in _SECRET_MARKERS)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()  # one spelling per instant, so equal compares
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return copy.deepcopy(value)  # a snapshot: the row may still change the object it holds
    return value


@dataclass(slots=True)
class _Touched:
    """One row the transaction touched; ``before`` holds only the columns that changed."""

    entity: str
    id: str
    op: Op
    before: dict[str, Any] = field(default_factory=dict)
    row: Any = None  # the ORM object whose state is "after"; None once deleted

    def as_change(self) -> dict[str, Any] | None:
        """The JSON of this change without secrets or bookkeeping, or None if nothing is left."""
        after: dict[str, Any] = {}
        if self.op == "created":
            after = _column_values(self.row)
        elif self.op == "updated":
            after = {key: _jsonable(getattr(self.row, key)) for key in self.before}
        keys = set(self.before) | set(after)
        changed = [key for key in keys if self.before.get(key) != after.get(key)]
        if self.op == "updated":
            keys = set(changed)
        redacted = sorted(key for key in keys if is_secret(key) and key in changed)
        shown = {key for key in keys if not is_secret(key) and key not in BOOKKEEPING_COLUMNS}
        if self.op == "updated" and not shown and not redacted:
            return None
        return {
            "entity": self.entity,
            "id": self.id,
            "op": self.op,
            "before": None if self.op == "created" else _pick(self.before, shown),
            "after": None if self.op == "deleted" else _pick(after, shown),
            "redacted": redacted,
        }


def _pick(values: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: values[key] for key in sorted(keys) if key in values}


@dataclass(slots=True)
class _Capture:
    touched: dict[tuple[str, str], _Touched] = field(default_factory=dict)
    # Events named by the change log rows the transaction wrote, in order.
    event_ids: list[str] = field(default_factory=list)
    closed: bool = False


def _column_values(row: Any) -> dict[str, Any]:
    return {
        attr.key: _jsonable(getattr(row, attr.key)) for attr in inspect(row).mapper.column_attrs
    }


def _table_of(row: Any) -> str:
    return str(inspect(row).mapper.local_table.description)


def _capture_of(session: Session) -> _Capture | None:
    """The open capture of this transaction, or None when no actor is bound or it was written."""
    capture: _Capture | None = session.info.get(_CAPTURE_KEY)
    if capture is None and current_actor() is not None:
        capture = session.info[_CAPTURE_KEY] = _Capture()
    return None if capture is None or capture.closed else capture


def _collect(session: Session, capture: _Capture) -> None:
    """Note the pending new, changed and deleted rows with their values before the change."""
    for row in session.new:
        _note_created(capture, row)
    for row in session.dirty:
        _note_updated(capture, row)
    for row in session.deleted:
        if (table := _table_of(row)) in TRACKED_TABLES:
            _note_deleted(capture, (table, str(row.id)), _column_values(row))


def _note_created(capture: _Capture, row: Any) -> None:
    if isinstance(row, Change) and row.event_id not in capture.event_ids:
        capture.event_ids.append(row.event_id)
    table = _table_of(row)
    if table in TRACKED_TABLES:
        key = (table, str(row.id))
        capture.touched.setdefault(key, _Touched(table, key[1], "created", row=row))


def _note_updated(capture: _Capture, row: Any) -> None:
    """Keep each changed column's value from before its first change in this transaction."""
    table = _table_of(row)
    if table not in TRACKED_TABLES:
        return
    key = (table, str(row.id))
    touched = capture.touched.setdefault(key, _Touched(table, key[1], "updated", row=row))
    if touched.op != "updated":
        return
    state = inspect(row)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes() and attr.key not in touched.before:
            touched.before[attr.key] = _jsonable(history.deleted[0] if history.deleted else None)


def _note_deleted(capture: _Capture, key: tuple[str, str], current: dict[str, Any]) -> None:
    earlier = capture.touched.pop(key, None)
    if earlier is not None and earlier.op == "created":
        return  # born and gone in one transaction: nothing to tell
    before = {**current, **(earlier.before if earlier else {})}
    capture.touched[key] = _Touched(key[0], key[1], "deleted", before=before)


def _event_id_of(session: Session, capture: _Capture) -> str | None:
    """The event the transaction belongs to: from its change log rows, else from its rows."""
    if capture.event_ids:
        return capture.event_ids[0]
    for touched in capture.touched.values():
        values = _column_values(touched.row) if touched.row is not None else touched.before
        if touched.entity == "event":
            return touched.id
        if touched.entity in {"channel", "slot"}:
            return str(values["event_id"])
        if touched.entity == "booking":
            slot = session.get(Slot, values["slot_id"])
            if slot is not None:
                return slot.event_id
    return None


def _actor_name(session: Session, actor: Actor) -> str | None:
    if actor.name is not None or actor.id is None:
        return actor.name
    who: Host | Person | None = (
        session.get(Host, actor.id) if actor.role == "host" else session.get(Person, actor.id)
    )
    return None if who is None else who.name


def _target_of(actor: Actor, changes: list[dict[str, Any]]) -> str | None:
    if actor.target is not None:
        return actor.target
    # The row the action created, else the first it changed ("event:<id>" for a publish).
    first = sorted(changes, key=lambda change: change["op"] != "created")[0]
    return f"{first['entity']}:{first['id']}"


@event.listens_for(AuditedSession, "before_flush")
def _before_flush(session: Session, _flush_context: Any, _instances: Any) -> None:
    capture = _capture_of(session)
    if capture is not None:
        _collect(session, capture)


@event.listens_for(AuditedSession, "do_orm_execute")
def _before_bulk_delete(state: ORMExecuteState) -> None:
    """Read the rows an ORM bulk DELETE of a tracked table is about to remove."""
    mapper = state.bind_mapper
    if not state.is_delete or mapper is None:
        return
    table = mapper.local_table
    if table.description not in TRACKED_TABLES or (capture := _capture_of(state.session)) is None:
        return
    where = state.statement.whereclause  # type: ignore[attr-defined]
    query = select(table) if where is None else select(table).where(where)
    for row in state.session.execute(query).mappings():
        values = {key: _jsonable(value) for key, value in row.items()}
        _note_deleted(capture, (str(table.description), str(values["id"])), values)


@event.listens_for(AuditedSession, "before_commit")
def _add_entry(session: Session) -> None:
    capture, actor = _capture_of(session), current_actor()
    if capture is None or actor is None:
        return
    with session.no_autoflush:
        _collect(session, capture)
        changes = [c for t in capture.touched.values() if (c := t.as_change()) is not None]
        if not changes:
            return
        entry = AuditEntry(
            at=utcnow(),
            actor_role=actor.role,
            actor_id=actor.id,
            actor_name=_actor_name(session, actor),
            token_id=actor.token_id,
            action=actor.action,
            event_id=_event_id_of(session, capture),
            target=_target_of(actor, changes),
            changes=changes,
        )
    capture.closed = True
    session.add(entry)


@event.listens_for(AuditedSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CAPTURE_KEY, None)
