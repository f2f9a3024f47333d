"""agent identity proof, rotating refresh credentials, replacement assets

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lanet.server.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PRIMARY = "replaces_asset_id IS NULL AND retired_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "spent_refresh_digests",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "refresh_rotated_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("refresh_used_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("auth_epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("replaces_asset_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_assets_replaces_asset_id_assets"),
            "assets",
            ["replaces_asset_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_assets_replaces_asset_id"), ["replaces_asset_id"], unique=False)
        batch_op.drop_constraint(batch_op.f("uq_assets_client_id_fingerprint"), type_="unique")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(
            "uq_assets_client_id_fingerprint",
            ["client_id", "fingerprint"],
            unique=True,
            sqlite_where=sa.text(_PRIMARY),
            postgresql_where=sa.text(_PRIMARY),
        )


def downgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index("uq_assets_client_id_fingerprint")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_assets_client_id_fingerprint"), ["client_id", "fingerprint"]
        )
        batch_op.drop_index(batch_op.f("ix_assets_replaces_asset_id"))
        batch_op.drop_constraint(batch_op.f("fk_assets_replaces_asset_id_assets"), type_="foreignkey")
        batch_op.drop_column("replaces_asset_id")
        batch_op.drop_column("auth_epoch")
        batch_op.drop_column("refresh_used_at")
        batch_op.drop_column("refresh_rotated_at")
        batch_op.drop_column("spent_refresh_digests")
        batch_op.drop_column("identity_digest")
