"""me page

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 00:40:00

What a person has seen on their own page (``/me``), so that it can show what changed since
their last visit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import takeamoment.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, not a batch copy: on SQLite a copy of ``person`` would drop
    # its expression index on lower(handle), which reflection cannot see.
    op.add_column(
        "person",
        sa.Column("seen_notification_seq", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "person", sa.Column("visit_from_seq", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "person",
        sa.Column("page_seen_at", takeamoment.db.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("page_seen_at")
        batch_op.drop_column("visit_from_seq")
        batch_op.drop_column("seen_notification_seq")
    if op.get_bind().dialect.name == "sqlite":  # the batch copy lost the expression index
        op.create_index("ux_person_handle_lower", "person", [sa.text("lower(handle)")], unique=True)
