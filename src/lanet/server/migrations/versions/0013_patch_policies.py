"""Patch policies per client, site and asset, technicians' decisions per client, install reports,
and "install now" on a scan request

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lanet.server.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patch_decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("update_id", sa.String(length=160), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=False),
        sa.Column("decided_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_patch_decisions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patch_decisions")),
        sa.UniqueConstraint("client_id", "update_id", name=op.f("uq_patch_decisions_client_id_update_id")),
    )
    op.create_table(
        "patch_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_patch_policies_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patch_policies")),
        sa.UniqueConstraint("scope", "scope_id", name=op.f("uq_patch_policies_scope_scope_id")),
    )
    with op.batch_alter_table("patch_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patch_policies_client_id"), ["client_id"], unique=False)

    op.create_table(
        "patch_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("plan_revision", sa.String(length=64), nullable=False),
        sa.Column(
            "results",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dry_run", sa.Text(), nullable=False),
        sa.Column("reboot_pending", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_patch_reports_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patch_reports")),
        sa.UniqueConstraint("report_id", name=op.f("uq_patch_reports_report_id")),
    )
    with op.batch_alter_table("patch_reports", schema=None) as batch_op:
        batch_op.create_index("ix_patch_reports_asset_id_at", ["asset_id", "at"], unique=False)

    with op.batch_alter_table("patch_scan_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("install_now", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("patch_scan_requests", schema=None) as batch_op:
        batch_op.drop_column("install_now")

    with op.batch_alter_table("patch_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_patch_reports_asset_id_at")

    op.drop_table("patch_reports")
    with op.batch_alter_table("patch_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patch_policies_client_id"))

    op.drop_table("patch_policies")
    op.drop_table("patch_decisions")
