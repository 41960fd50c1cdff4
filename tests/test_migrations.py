"""The Alembic migrations produce exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import create_async_engine

from takeamoment.db.migrate import alembic_config
from takeamoment.db.tables import metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    with warnings.catch_warnings():
        # SQLAlchemy cannot reflect SQLite's expression indexes (lower(handle)); it says so and
        # skips them. test_handles_are_unique_without_regard_to_case_in_the_database checks it.
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = create_async_engine(db_url)
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    await engine.dispose()
    assert differences == []


@pytest.mark.postgres
async def test_postgres_backs_overlap_rules_with_exclusion_constraints(
    pg_database: str,
) -> None:
    engine = create_async_engine(pg_database)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT conname FROM pg_constraint WHERE contype = 'x' ORDER BY conname")
        )
        names = [row[0] for row in rows]
    await engine.dispose()
    assert names == ["ex_booking_person_overlap", "ex_slot_channel_overlap"]


def test_migrations_downgrade_to_nothing_and_back(tmp_path: Path) -> None:
    config = alembic_config(f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}")
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
