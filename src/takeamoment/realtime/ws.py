"""The WebSocket routes: ``/ws/events/{slug}`` for viewers, ``/ws/me`` for creators/therapists."""

from __future__ import annotations

import logging
from typing import Any

from litestar import WebSocket, websocket
from litestar.params import FromPath

from takeamoment.connection.auth_limits import TooManyAuthFailures, authenticate_attempt
from takeamoment.connection.credentials import bearer_token, principal_of
from takeamoment.connection.session import session_id
from takeamoment.db.engine import Database
from takeamoment.domain.errors import NotFound
from takeamoment.realtime.hub import Hub, Outgoing
from takeamoment.realtime.limits import within_connection_limit
from takeamoment.realtime.protocol import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_MANY_FAILURES,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
)
from takeamoment.realtime.snapshots import Snapshots
from takeamoment.realtime.standing import Standing
from takeamoment.realtime.stream import LoadAfter, pump
from takeamoment.services.auth import Principal
from takeamoment.services.changes import MAX_SEQ, changes_after, event_topic
from takeamoment.services.notifications import notifications_since, person_topic
from takeamoment.services.schedule import snapshot_message
from takeamoment.services.sessions import session_principal
from takeamoment.settings import Settings

logger = logging.getLogger(__name__)

Socket = WebSocket[Any, Any, Any]


BAD_SINCE = f"since must be a seq: an integer from 0 to {MAX_SEQ}"


def _since(socket: Socket) -> int | None:
    """``?since=N`` as a seq (0 to MAX_SEQ, as ``?since=`` on HTTP); raises ValueError for
    anything else, before any query sees it: a number beyond the column's range is no seq."""
    raw = socket.query_params.get("since")
    if raw is None:
        return None
    value = int(raw)
    if not 0 <= value <= MAX_SEQ:
        raise ValueError(BAD_SINCE)
    return value


def _origin_allowed(socket: Socket, settings: Settings, authenticated: bool = False) -> bool:
    """CORS does not cover WebSocket handshakes: check the Origin against our own allow-list.

    Without a configured list a public stream takes any origin, and an authenticated one only
    the origin of ``public_url`` (another site's page must not ride on a ``?token=`` it holds).
    No Origin header means no browser (``takeamoment watch``, scripts): nothing to check.
    """
    allowed = settings.ws_allowed_origins
    if not allowed and authenticated:
        allowed = [settings.public_origin]
    origin = _origin(socket)
    return not allowed or origin is None or origin in allowed


async def _host_from_our_origin(socket: Socket) -> bool:
    if not _origin_allowed(socket, socket.app.state.settings, authenticated=True):
        return False
    try:
        principal = await principal_of(socket)
    except TooManyAuthFailures:
        return False
    return principal is not None and principal.is_host


def _origin(socket: Socket) -> str | None:
    """The Origin header, read from the scope: ``socket.headers`` would parse every header
    into a mapping that stays in the scope for the connection's life (~1 KiB an idle viewer)."""
    for name, value in socket.scope["headers"]:
        if name.lower() == b"origin":
            return bytes(value).decode("latin-1")
    return None


async def _all_after(load_after: LoadAfter, since: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while page := await load_after(since):
        messages += page
        since = page[-1]["seq"]
    return messages


async def _refuse(socket: Socket, code: int, reason: str) -> None:
    await socket.accept()
    await socket.close(code=code, reason=reason)


async def _event_start(
    db: Database, snapshots: Snapshots | None, slug: str, since: int | None
) -> tuple[list[Outgoing], int]:
    """What a viewer gets first: the replay after ``since`` when we can, else a snapshot.

    Without ``snapshots`` (a host watching a draft) the snapshot is built for this one stream.
    """
    snapshot = (
        await snapshots.current(slug)  # also raises NotFound for drafts
        if snapshots is not None
        else Outgoing.of(await snapshot_message(db, slug, drafts=True))
    )
    if since is None or since > snapshot.seq:
        return [snapshot], snapshot.seq
    replay = await _all_after(lambda after: changes_after(db, slug, after), since)
    if replay and replay[0]["seq"] != since + 1:  # the log no longer reaches back that far
        return [snapshot], snapshot.seq
    return [Outgoing.of(m) for m in replay], replay[-1]["seq"] if replay else since


@websocket("/ws/events/{slug:str}")
async def event_stream(socket: Socket, slug: FromPath[str]) -> None:
    """A snapshot (or the changes after ``?since=N``), then every change in seq order."""
    await within_connection_limit(socket, lambda: _event_stream(socket, slug))


async def _event_stream(socket: Socket, slug: str) -> None:
    db: Database = socket.app.state.db
    hub: Hub = socket.app.state.hub
    if not _origin_allowed(socket, socket.app.state.settings):
        return await _refuse(socket, CLOSE_FORBIDDEN, "origin not allowed")
    try:
        since = _since(socket)
    except ValueError:
        return await _refuse(socket, CLOSE_BAD_REQUEST, BAD_SINCE)
    # Subscribe before reading the starting point, so nothing committed meanwhile is missed.
    with hub.subscribe(event_topic(slug)) as subscription:
        try:
            try:
                start, last_seq = await _event_start(db, socket.app.state.snapshots, slug, since)
            except NotFound:
                # A host (bearer token or console session) may follow a draft, from our origin.
                if not await _host_from_our_origin(socket):
                    raise
                start, last_seq = await _event_start(db, None, slug, since)
        except NotFound:
            return await _refuse(socket, CLOSE_NOT_FOUND, f"no published event {slug!r}")
        except Exception:  # e.g. the database is restarting: say "try again", not a bare 403
            logger.exception("could not start the stream of %s", slug)
            return await _refuse(socket, CLOSE_TRY_AGAIN, "temporarily unavailable; reconnect")
        await socket.accept()
        await pump(socket, subscription, start, last_seq, lambda s: changes_after(db, slug, s))
    return None


@websocket("/ws/me")
async def my_stream(socket: Socket) -> None:
    """A creator's or therapist's notifications after ``?since=N`` (all by default), then live."""
    await within_connection_limit(socket, lambda: _my_stream(socket))


async def _my_stream(socket: Socket) -> None:
    db: Database = socket.app.state.db
    hub: Hub = socket.app.state.hub
    standing: Standing = socket.app.state.standing
    if not _origin_allowed(socket, socket.app.state.settings, authenticated=True):
        return await _refuse(socket, CLOSE_FORBIDDEN, "origin not allowed")
    token = bearer_token(socket) or socket.query_params.get("token")
    opened_with: str | None = None  # the page's session, when no token opens the stream
    if token:
        try:
            principal = await authenticate_attempt(socket, token)
        except TooManyAuthFailures as refused:
            return await _refuse(socket, CLOSE_TOO_MANY_FAILURES, refused.detail)
    else:  # a person's own page: its session cookie, from our own origin only
        principal, opened_with = await _session_of(socket, db)
    if principal is None:
        return await _refuse(
            socket, CLOSE_UNAUTHORIZED, "a valid token or page session is required"
        )
    person_id = principal.person_id
    if person_id is None:
        return await _refuse(socket, CLOSE_FORBIDDEN, "only creators and therapists have one")
    try:
        since = _since(socket) or 0
    except ValueError:
        return await _refuse(socket, CLOSE_BAD_REQUEST, BAD_SINCE)

    def load_after(after: int) -> Any:
        return notifications_since(db, person_id, after)

    # Until the credential no longer stands: this process re-checks all of its streams' together.
    with (
        standing.watch(session_id=opened_with, token_id=principal.token_id) as revoked,
        hub.subscribe(person_topic(person_id)) as subscription,
    ):
        start = [Outgoing.of(m) for m in await _all_after(load_after, since)]
        await socket.accept()
        last_seq = start[-1].seq if start else since
        await pump(socket, subscription, start, last_seq, load_after, revoked.wait)
    return None


async def _session_of(socket: Socket, db: Database) -> tuple[Principal | None, str | None]:
    """The person a browser session cookie stands for, and the session's id.

    Only a handshake whose Origin is our own counts: a browser always sends one, and another
    site's page must not open a stream on the cookie the browser would attach for it.
    """
    current = session_id(socket)
    if current is None or _origin(socket) != socket.app.state.settings.public_origin:
        return None, None
    return await session_principal(db, current), current
