"""Open ``/ws/me`` streams re-check their credentials together: one query round for all of a
process's streams, ending exactly those whose token was revoked or whose session ended.

Closing a stream on the wire after ``takeamoment token revoke`` in another process is pinned
down in ``tests/e2e/test_tokens_cli.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from takeamoment.db.engine import Database
from takeamoment.realtime.standing import Standing
from takeamoment.services.auth import IN_CHUNK, authenticate, issue_host_token
from takeamoment.services.host_tokens import revoke_token
from takeamoment.services.sessions import end_session, open_session

STREAMS = IN_CHUNK + 100  # more tokens than one IN (...) holds: two chunks


@contextmanager
def statements_run(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the database is sent while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    engine = db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_one_round_checks_every_open_stream_and_ends_only_those_revoked(
    db: Database,
) -> None:
    tokens = [await issue_host_token(db, f"Host {n}") for n in range(STREAMS)]
    principals = [await authenticate(db, token) for token in tokens]
    token_ids = [p.token_id for p in principals if p is not None]
    page = await open_session(db, principals[2], timedelta(hours=1))  # type: ignore[arg-type]
    signed_out = await open_session(db, principals[3], timedelta(hours=1))  # type: ignore[arg-type]
    standing = Standing(db, every_seconds=3600)
    with ExitStack() as streams:
        # Two streams on the first token, one on each other token, two on page sessions.
        on_token = [
            streams.enter_context(standing.watch(session_id=None, token_id=token_id))
            for token_id in [token_ids[0], *token_ids]
        ]
        on_page = streams.enter_context(standing.watch(session_id=page.id, token_id=""))
        on_signed_out = streams.enter_context(standing.watch(session_id=signed_out.id, token_id=""))
        assert standing.count() == STREAMS + 3

        await revoke_token(db, token_ids[0])
        await revoke_token(db, token_ids[-1])
        await end_session(db, signed_out.id)
        with statements_run(db) as statements:
            await standing.check()

        ended = [stream.is_set() for stream in on_token]
        assert ended == [True, True] + [False] * (STREAMS - 2) + [True]
        assert on_signed_out.is_set() and not on_page.is_set()
        # Two queries of tokens (two chunks) and one of sessions, for STREAMS + 3 streams.
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(reads) == 3, statements
        assert sum("FROM auth_session" in s for s in reads) == 1


async def test_a_revoked_token_ends_the_page_sessions_opened_with_it(db: Database) -> None:
    token = await issue_host_token(db, "Host")
    principal = await authenticate(db, token)
    assert principal is not None
    page = await open_session(db, principal, timedelta(hours=1))
    standing = Standing(db, every_seconds=3600)
    with standing.watch(session_id=page.id, token_id=principal.token_id) as revoked:
        await standing.check()
        assert not revoked.is_set()
        await revoke_token(db, principal.token_id)
        await standing.check()
        assert revoked.is_set()
    assert standing.count() == 0
