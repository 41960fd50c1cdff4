"""Run Alembic from code: ``takeamoment serve`` and ``db upgrade`` migrate to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
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
