"""Run Alembic from code: ``takeamoment serve`` and ``db upgrade`` migrate to head.

The migrations ship inside the package as ``takeamoment.migrations`` (setup.py maps the
repository's top-level ``migrations/`` there), so an installed wheel migrates with no source tree
and no ``alembic.ini``. Commands that only read or write rows (``token ...``) never migrate: they
check the schema with :func:`ensure_at_head` and refuse to touch an older one.
"""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine


class SchemaNotAtHead(RuntimeError):
    """The database's schema is not the one this version of the code needs."""


def migrations_dir() -> Path:
    """Where the migration scripts are: in the installed package, or the repository's
    ``migrations/`` in an editable install."""
    return Path(str(files("takeamoment.migrations")))


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema (blocking; not in a loop)."""
    command.upgrade(alembic_config(database_url), "head")


def upgrade_connection_to_head(connection: Connection) -> None:
    """Same, on an open connection (for ``AsyncConnection.run_sync`` in tests)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def _read_revisions(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revisions)
    finally:
        await engine.dispose()


def ensure_at_head(database_url: str) -> None:
    """Raise :class:`SchemaNotAtHead`, saying what to run, unless the database is at head.

    Reads only: a database that does not exist yet (SQLite) is reported, never created empty.
    """
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    url = make_url(database_url)
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).exists():
        raise SchemaNotAtHead(f"there is no database at {file}")
    current = asyncio.run(_read_revisions(database_url))
    if current != heads:
        found = ", ".join(sorted(current)) or "no schema"
        raise SchemaNotAtHead(
            f"the database {url.render_as_string(hide_password=True)} is at {found}, not at "
            f"{', '.join(sorted(heads))} (head)"
        )
