"""run of show

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 09:00:00.000000

What happened on air (``actual_started_at``, ``actual_ended_at``), the end a slot held before it
ended early (``planned_ends_at``, for reopen), and tags and hashtags normalised: stored without
``#`` and each only once regardless of case.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import takeamoment.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("actual_started_at", "actual_ended_at", "planned_ends_at")


def normalised_tags(tags: Any) -> list[str]:
    """Without leading ``#`` or surrounding space, empty ones dropped, the first spelling kept."""
    result: list[str] = []
    seen: set[str] = set()
    for raw in tags if isinstance(tags, list) else []:
        tag = str(raw).strip().lstrip("#").strip()
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            result.append(tag)
    return result


def _normalise(table: str, column: str) -> None:
    rows = sa.table(table, sa.column("id", sa.String()), sa.column(column, sa.JSON()))
    connection = op.get_bind()
    for row_id, tags in connection.execute(sa.select(rows.c.id, rows.c[column])).all():
        cleaned = normalised_tags(tags)
        if cleaned != tags:
            connection.execute(rows.update().where(rows.c.id == row_id).values({column: cleaned}))


def upgrade() -> None:
    with op.batch_alter_table("slot", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(
                sa.Column(name, takeamoment.db.types.UTCDateTime(timezone=True), nullable=True)
            )
    _normalise("slot", "tags")
    _normalise("event", "hashtags")


def downgrade() -> None:
    # The tags stay normalised: their old spellings are not kept anywhere.
    with op.batch_alter_table("slot", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
