"""one grace per refresh rotation; failed logins of addresses without an account

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lanet.server.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refresh_grace_used", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    op.create_table(
        "unknown_logins",
        sa.Column("email_digest", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email_digest", name=op.f("pk_unknown_logins")),
    )
    with op.batch_alter_table("unknown_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unknown_logins_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("unknown_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unknown_logins_updated_at"))
    op.drop_table("unknown_logins")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("refresh_grace_used")
