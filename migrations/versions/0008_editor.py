"""editor

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-28 21:00:00.000000

What the browser editor needs: channels in an order of the host's choosing, stream links on
channels and slots, and notifications that outlive a deleted slot (their slot and booking ids
become NULL; the payload keeps what the person was told).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

URL_LENGTH = 2000


def upgrade() -> None:
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column(
                "stream_url", sqlmodel.sql.sqltypes.AutoString(length=URL_LENGTH), nullable=True
            )
        )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "stream_url", sqlmodel.sql.sqltypes.AutoString(length=URL_LENGTH), nullable=True
            )
        )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column(
            "booking_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
        )
        batch_op.alter_column(
            "slot_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
        )
    # Existing channels keep the order they were shown in: by creation.
    channel = sa.table(
        "channel",
        sa.column("id", sa.String),
        sa.column("event_id", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column("position", sa.Integer),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(channel.c.id, channel.c.event_id).order_by(
            channel.c.event_id, channel.c.created_at, channel.c.id
        )
    ).all()
    counters: dict[str, int] = {}
    for channel_id, event_id in rows:
        position = counters.get(event_id, 0)
        counters[event_id] = position + 1
        connection.execute(
            sa.update(channel).where(channel.c.id == channel_id).values(position=position)
        )


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column(
            "slot_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        )
        batch_op.alter_column(
            "booking_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_column("stream_url")
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.drop_column("stream_url")
        batch_op.drop_column("position")
