"""Patch reports keep the reboot step they are about (asked, deferred, restarting, rebooted)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:59:31
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patch_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reboot",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("patch_reports", schema=None) as batch_op:
        batch_op.drop_column("reboot")
