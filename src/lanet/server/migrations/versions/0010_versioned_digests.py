"""keyed digests name the key that made them

A digest is now ``<key id>:<64 hex>`` (73 characters), so ``LANET_SECRET_KEY`` can be rotated while
the previous key still verifies what it made. Digests stored before stay valid as they are.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("agent_installation_tokens", "token_digest", False),
    ("api_keys", "key_digest", False),
    ("assets", "refresh_digest", True),
    ("assets", "identity_digest", True),
)


def upgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=64),
                type_=sa.String(length=80),
                existing_nullable=nullable,
            )


def downgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=80),
                type_=sa.String(length=64),
                existing_nullable=nullable,
            )
