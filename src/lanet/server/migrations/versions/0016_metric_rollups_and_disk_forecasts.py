"""Metric roll-ups (5 minutes, 1 hour, per asset and per disk), the disks' latest forecasts, and the
marks where the roll-up and prediction passes stand

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 17:12:47
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lanet.server.models.base

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeseries_marks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_timeseries_marks")),
    )
    op.create_table(
        "disk_forecasts",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("mount", sa.String(length=512), nullable=False),
        sa.Column("computed_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used", sa.REAL(), nullable=True),
        sa.Column("slope", sa.REAL(), nullable=True),
        sa.Column("eta_hours", sa.REAL(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_disk_forecasts_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("asset_id", "mount", name=op.f("pk_disk_forecasts")),
    )
    op.create_table(
        "disk_rollups_1h",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("mount", sa.String(length=512), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("used_avg", sa.REAL(), nullable=True),
        sa.Column("used_min", sa.REAL(), nullable=True),
        sa.Column("used_max", sa.REAL(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_disk_rollups_1h_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("asset_id", "mount", "bucket", name=op.f("pk_disk_rollups_1h")),
    )
    op.create_table(
        "disk_rollups_5m",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("mount", sa.String(length=512), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("used_avg", sa.REAL(), nullable=True),
        sa.Column("used_min", sa.REAL(), nullable=True),
        sa.Column("used_max", sa.REAL(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_disk_rollups_5m_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("asset_id", "mount", "bucket", name=op.f("pk_disk_rollups_5m")),
    )
    op.create_table(
        "metric_rollups_1h",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("cpu_avg", sa.REAL(), nullable=True),
        sa.Column("cpu_min", sa.REAL(), nullable=True),
        sa.Column("cpu_max", sa.REAL(), nullable=True),
        sa.Column("memory_avg", sa.REAL(), nullable=True),
        sa.Column("memory_min", sa.REAL(), nullable=True),
        sa.Column("memory_max", sa.REAL(), nullable=True),
        sa.Column("disk_avg", sa.REAL(), nullable=True),
        sa.Column("disk_min", sa.REAL(), nullable=True),
        sa.Column("disk_max", sa.REAL(), nullable=True),
        sa.Column("network_avg", sa.REAL(), nullable=True),
        sa.Column("network_max", sa.REAL(), nullable=True),
        sa.Column("temperature_avg", sa.REAL(), nullable=True),
        sa.Column("temperature_max", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_metric_rollups_1h_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("asset_id", "bucket", name=op.f("pk_metric_rollups_1h")),
    )
    op.create_table(
        "metric_rollups_5m",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("cpu_avg", sa.REAL(), nullable=True),
        sa.Column("cpu_min", sa.REAL(), nullable=True),
        sa.Column("cpu_max", sa.REAL(), nullable=True),
        sa.Column("memory_avg", sa.REAL(), nullable=True),
        sa.Column("memory_min", sa.REAL(), nullable=True),
        sa.Column("memory_max", sa.REAL(), nullable=True),
        sa.Column("disk_avg", sa.REAL(), nullable=True),
        sa.Column("disk_min", sa.REAL(), nullable=True),
        sa.Column("disk_max", sa.REAL(), nullable=True),
        sa.Column("network_avg", sa.REAL(), nullable=True),
        sa.Column("network_max", sa.REAL(), nullable=True),
        sa.Column("temperature_avg", sa.REAL(), nullable=True),
        sa.Column("temperature_max", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_metric_rollups_5m_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("asset_id", "bucket", name=op.f("pk_metric_rollups_5m")),
    )


def downgrade() -> None:
    op.drop_table("metric_rollups_5m")
    op.drop_table("metric_rollups_1h")
    op.drop_table("disk_rollups_5m")
    op.drop_table("disk_rollups_1h")
    op.drop_table("disk_forecasts")
    op.drop_table("timeseries_marks")
