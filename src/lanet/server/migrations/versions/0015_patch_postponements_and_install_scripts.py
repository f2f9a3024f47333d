"""Patch postponements by customer administrators, the scripts around an install run, and the
Windows Update settings each scan found

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 13:03:37
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lanet.server.models.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patch_postponements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("update_id", sa.String(length=160), nullable=False),
        sa.Column("until", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("postponed_by", sa.String(length=255), nullable=False),
        sa.Column("postponed_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_patch_postponements_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patch_postponements")),
        sa.UniqueConstraint(
            "client_id", "update_id", name=op.f("uq_patch_postponements_client_id_update_id")
        ),
    )
    with op.batch_alter_table("patch_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "scripts",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default=sa.text("'[]'"),
                nullable=False,
            )
        )
    with op.batch_alter_table("patch_scans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "auto_update",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("patch_scans", schema=None) as batch_op:
        batch_op.drop_column("auto_update")
    with op.batch_alter_table("patch_reports", schema=None) as batch_op:
        batch_op.drop_column("scripts")
    op.drop_table("patch_postponements")
