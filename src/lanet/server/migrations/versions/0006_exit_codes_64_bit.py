"""exit codes as 64-bit integers

Windows exit codes are unsigned 32-bit (0xC0000005 is 3221225477): a 32-bit signed column refused
them on PostgreSQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.alter_column(
            "exit_code", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.alter_column(
            "exit_code", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True
        )
