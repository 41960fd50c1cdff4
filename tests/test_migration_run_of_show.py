"""Migration 0009 (run of show) normalises stored tags and hashtags: no "#", once in any case."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from takeamoment.db.migrate import alembic_config
from tests.conftest import PG_ADMIN_DSN, _pg_admin, _pg_url, skip_or_fail

EVENT = (
    "INSERT INTO event (id, slug, title, description, timezone, starts_at, ends_at, hashtags,"
    " changeover_minutes, reminder_minutes, safety_resources, status, last_seq, created_at,"
    " updated_at) VALUES ('e1', 'old', 'Old', '', 'UTC', :t, :t, :hashtags, 5, '[15, 5]', '[]',"
    " 'draft', 0, :t, :t)"
)
CHANNEL = (
    "INSERT INTO channel (id, event_id, slug, name, created_at) VALUES ('c1', 'e1', 'm', 'M', :t)"
)
SLOT = (
    "INSERT INTO slot (id, event_id, channel_id, title, description, tags, kind, starts_at,"
    " ends_at, status, sequence, created_at, updated_at) VALUES ('s1', 'e1', 'c1', 'S', '',"
    " :tags, 'session', :t, :t, 'scheduled', 0, :t, :t)"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not migrated): SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    name = f"tam_mig_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except OSError as error:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {error}")
    yield _pg_url(PG_ADMIN_DSN, name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _seed_and_read(url: str, seed: bool) -> tuple[list[str], list[str]] | None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            if seed:
                moment: object = "2030-10-10 10:00:00"
                if url.startswith("postgresql"):  # asyncpg takes datetimes, not strings
                    moment = datetime(2030, 10, 10, 10, tzinfo=UTC)
                hashtags = json.dumps(["#BookTok", "booktok", "##MentalHealth", " #SelfCare ", "#"])
                tags = json.dumps(["#BookTok", "BOOKTOK", "calm"])
                await connection.execute(text(EVENT), {"t": moment, "hashtags": hashtags})
                await connection.execute(text(CHANNEL), {"t": moment})
                await connection.execute(text(SLOT), {"t": moment, "tags": tags})
                return None
            hashtags = (await connection.execute(text("SELECT hashtags FROM event"))).scalar_one()
            tags = (await connection.execute(text("SELECT tags FROM slot"))).scalar_one()
    finally:
        await engine.dispose()
    decode = json.loads if isinstance(hashtags, str) else (lambda value: value)
    return decode(hashtags), decode(tags)


def test_upgrading_to_0009_normalises_existing_tags_and_hashtags(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "0004")
    asyncio.run(_seed_and_read(empty_url, seed=True))
    command.upgrade(config, "0009")
    found = asyncio.run(_seed_and_read(empty_url, seed=False))
    assert found == (["BookTok", "MentalHealth", "SelfCare"], ["BookTok", "calm"])
