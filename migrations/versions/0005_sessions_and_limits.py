"""sessions and limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 21:00:00.000000

Browser sessions kept on the server (signing out ends them for every copy of the cookie), and
handles unique without regard to case (an index on ``lower(handle)``, so two creates that race
cannot both win).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import takeamoment.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_session",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("token_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("host_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("person_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", takeamoment.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", takeamoment.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", takeamoment.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"]),
        sa.ForeignKeyConstraint(["host_id"], ["host.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_session_token_id"), ["token_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_auth_session_expires_at"), ["expires_at"], unique=False
        )
    # Handles that differ only by case were accepted before this: the index would refuse to
    # build over them, so say which to rename rather than fail with a bare integrity error.
    duplicates = op.get_bind().execute(
        sa.text("SELECT lower(handle) FROM person GROUP BY lower(handle) HAVING count(*) > 1")
    )
    clashing = [row[0] for row in duplicates]
    if clashing:
        raise RuntimeError(
            "handles must be unique without regard to case; rename all but one person of each "
            f"of these handles, then migrate again: {', '.join(clashing)}"
        )
    op.create_index("ux_person_handle_lower", "person", [sa.text("lower(handle)")], unique=True)


def downgrade() -> None:
    op.drop_index("ux_person_handle_lower", table_name="person")
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_auth_session_token_id"))
    op.drop_table("auth_session")
