"""The audit log over HTTP: who is acting is bound per request, and hosts read the entries.

``bind_audit_actor`` is the app's ``before_request`` hook: for every request that may write (any
method but GET, HEAD and OPTIONS) from a known caller, bearer token or host console session, it
binds the caller and the route (``"POST /api/slots/{slot_id}/live"``) as the actor of the
request's write transactions. Guards run before the hook, so the principal is already resolved
and cached; the hook costs no query. Anonymous requests bind nothing and are never audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias

from litestar import Controller, Request, get
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from takeamoment.api.auth import host_only
from takeamoment.api.deps import Db, PathKey
from takeamoment.api.errors import AUTH_ERRORS, NOT_FOUND_ERRORS
from takeamoment.connection.credentials import principal_of
from takeamoment.db.audit import Actor, bind_actor
from takeamoment.services import audit
from takeamoment.services.audit import AuditEntryPublic

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The path parameters that name one row, and the entity each names.
_TARGET_PARAMS = {"slot_id": "slot", "booking_id": "booking", "person_id": "person"}

AfterCursor: TypeAlias = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[^\x00-\x1f\x7f]{1,200}$",
        description="the id of the last entry already read; the page starts after it",
    ),
]
Since: TypeAlias = Annotated[
    datetime | None,
    QueryParameter(description="only entries at or after this moment (RFC 3339, with offset)"),
]
Limit: TypeAlias = Annotated[
    int, QueryParameter(ge=1, le=audit.MAX_PAGE, description="at most this many entries")
]
AUDIT_ERRORS = [*AUTH_ERRORS, *NOT_FOUND_ERRORS, ValidationException]


def _target(request: Request[Any, Any, Any]) -> str | None:
    for param, entity in _TARGET_PARAMS.items():
        if param in request.path_params:
            return f"{entity}:{request.path_params[param]}"
    return None


async def bind_audit_actor(request: Request[Any, Any, Any]) -> None:
    """Bind the caller and the route as the actor of this request's writes (see module doc)."""
    if request.method in READ_ONLY_METHODS:
        return
    principal = await principal_of(request)
    if principal is None:
        return
    template = request.scope.get("path_template") or request.url.path
    bind_actor(
        Actor(
            role=principal.role,
            action=f"{request.method} {template}",
            id=principal.host_id if principal.is_host else principal.person_id,
            token_id=principal.token_id,
            target=_target(request),
        )
    )


def _aware(since: datetime | None) -> datetime | None:
    """``since`` in UTC; a naive time, or one that UTC cannot hold, is a 400 that says why."""
    if since is None:
        return None
    if since.tzinfo is None:
        raise ValidationException(
            detail="since must carry an offset, e.g. 2030-10-10T09:00:00Z (a naive time is refused)"
        )
    try:
        return since.astimezone(UTC)
    except OverflowError as error:
        raise ValidationException(detail="since is out of range") from error


class AuditController(Controller):
    """Hosts only: the audit log, oldest first, a page at a time (pass ``after`` to go on)."""

    path = "/api"
    tags = ["audit"]
    guards = [host_only]

    @get(
        "/events/{slug:str}/audit",
        summary="The event's audit log, oldest first",
        raises=AUDIT_ERRORS,
    )
    async def event_audit(
        self,
        db: Db,
        slug: PathKey,
        after: AfterCursor = None,
        since: Since = None,
        limit: Limit = audit.DEFAULT_PAGE,
    ) -> list[AuditEntryPublic]:
        return await audit.event_audit(db, slug, after=after, since=_aware(since), limit=limit)

    @get(
        "/audit",
        summary="Every audit entry (every event, people, licences), oldest first",
        raises=AUDIT_ERRORS,
    )
    async def all_audit(
        self,
        db: Db,
        after: AfterCursor = None,
        since: Since = None,
        limit: Limit = audit.DEFAULT_PAGE,
    ) -> list[AuditEntryPublic]:
        return await audit.all_audit(db, after=after, since=_aware(since), limit=limit)
