"""OS updates: scans, each asset's updates and their history, scan requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lanet.server.models.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "asset_patches",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("update_id", sa.String(length=160), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column(
            "kb",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("package", sa.String(length=128), nullable=True),
        sa.Column("current_version", sa.String(length=128), nullable=True),
        sa.Column("available_version", sa.String(length=128), nullable=True),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("reboot_required", sa.Boolean(), nullable=False),
        sa.Column("downloaded", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("applicable", sa.Boolean(), nullable=False),
        sa.Column("first_seen", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_patches_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("asset_id", "update_id", name=op.f("pk_asset_patches")),
    )
    op.create_table(
        "patch_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("update_id", sa.String(length=160), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_patch_events_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patch_events")),
    )
    with op.batch_alter_table("patch_events", schema=None) as batch_op:
        batch_op.create_index("ix_patch_events_asset_id_at", ["asset_id", "at"], unique=False)

    op.create_table(
        "patch_scan_requests",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("requested_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("delivered_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_patch_scan_requests_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_patch_scan_requests")),
    )
    op.create_table(
        "patch_scans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("scan_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("scanned_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applicable", sa.Integer(), nullable=False),
        sa.Column("security", sa.Integer(), nullable=False),
        sa.Column("reboot_pending", sa.Boolean(), nullable=False),
        sa.Column(
            "reboot_sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_patch_scans_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patch_scans")),
        sa.UniqueConstraint("scan_id", name=op.f("uq_patch_scans_scan_id")),
    )
    with op.batch_alter_table("patch_scans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patch_scans_asset_id_received_at", ["asset_id", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("patch_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_patch_scans_asset_id_received_at")

    op.drop_table("patch_scans")
    op.drop_table("patch_scan_requests")
    with op.batch_alter_table("patch_events", schema=None) as batch_op:
        batch_op.drop_index("ix_patch_events_asset_id_at")

    op.drop_table("patch_events")
    op.drop_table("asset_patches")
