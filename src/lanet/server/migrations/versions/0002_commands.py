"""commands

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 18:51:30.539696
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lanet.server.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "commands",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column(
            "arguments",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("queued_by", sa.String(length=255), nullable=False),
        sa.Column("queued_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("stdout", sa.Text(), nullable=True),
        sa.Column("stderr", sa.Text(), nullable=True),
        sa.Column("stdout_truncated", sa.Boolean(), nullable=False),
        sa.Column("stderr_truncated", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_commands_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_commands_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index("ix_commands_asset_id_status", ["asset_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_commands_client_id"), ["client_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commands_client_id"))
        batch_op.drop_index("ix_commands_asset_id_status")

    op.drop_table("commands")
