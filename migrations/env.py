"""Alembic environment: async engines, batch mode on SQLite, connection sharing for tests."""

import asyncio
import warnings

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import create_async_engine

from takeamoment.db.tables import metadata
from takeamoment.settings import get_settings

config = context.config


# Batch mode on SQLite reflects the tables it copies and those they reference; SQLAlchemy cannot
# reflect an expression index such as person's lower(handle) and says so. Copying another table
# leaves that index alone; a batch operation on ``person`` itself would drop it, so a migration
# that batch-alters ``person`` must create ``ux_person_handle_lower`` again.
warnings.filterwarnings(
    "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        _run(shared)
        return
    url = config.attributes.get("database_url") or get_settings().database_url
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    context.configure(
        url=config.attributes.get("database_url") or get_settings().database_url,
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
