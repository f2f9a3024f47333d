"""Lean heartbeat rows: the replay check moves from an all-time unique index over the samples to
the asset's last message ids; the columns every heartbeat writes on ``assets`` lose their indexes
(so the update is made in place); on PostgreSQL ``metric_samples`` and ``agent_logs`` become
partitioned by day, the rows they held going to the default partition, where they age out

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 18:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, time column, index on (asset_id, time)): the tables partitioned by day.
PARTITIONED = (
    ("metric_samples", "sampled_at", "ix_metric_samples_asset_id_sampled_at"),
    ("agent_logs", "logged_at", "ix_agent_logs_asset_id_logged_at"),
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("recent_messages", sa.String(length=600), nullable=True))
        batch.add_column(
            sa.Column("last_beat_replayed", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        for column in ("agent_status", "last_seen", "offline_deadline"):
            batch.drop_index(f"ix_assets_{column}")
    with op.batch_alter_table("metric_samples") as batch:
        batch.drop_constraint("uq_metric_samples_asset_id_message_id", type_="unique")
        batch.drop_column("message_id")
    if not postgres:
        return
    # Room on each page for the heartbeat's new row version beside the old one (a HOT update).
    op.execute("ALTER TABLE assets SET (fillfactor = 70)")
    for table, column, index in PARTITIONED:
        _rebuild(table, column, index, partitioned=True)


def _rebuild(table: str, column: str, index: str, *, partitioned: bool) -> None:
    """Make ``table`` again, partitioned by day of ``column`` (into a default partition) or plain,
    with the same columns, keys, index and id sequence, and its rows."""
    old = f"{table}_{'unpartitioned' if partitioned else 'partitioned'}"
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT fk_{table}_asset_id_assets TO fk_{old}_asset_id_assets")
    op.execute(f"ALTER INDEX {index} RENAME TO {index}_{old.rsplit('_', 1)[1]}")
    by_day = f" PARTITION BY RANGE ({column})" if partitioned else ""
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){by_day}")
    key = f"id, {column}" if partitioned else "id"
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_asset_id_assets FOREIGN KEY (asset_id) "
        "REFERENCES assets (id) ON DELETE CASCADE"
    )
    op.execute(f"CREATE INDEX {index} ON {table} (asset_id, {column})")
    if partitioned:
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.execute(f"DROP TABLE {old} CASCADE")  # with its day partitions, when it had them


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for table, column, index in PARTITIONED:
            _rebuild(table, column, index, partitioned=False)
        op.execute("ALTER TABLE assets RESET (fillfactor)")
    with op.batch_alter_table("metric_samples") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=36), nullable=True))
        batch.create_unique_constraint("uq_metric_samples_asset_id_message_id", ["asset_id", "message_id"])
    with op.batch_alter_table("assets") as batch:
        for column in ("agent_status", "last_seen", "offline_deadline"):
            batch.create_index(f"ix_assets_{column}", [column])
        batch.drop_column("last_beat_replayed")
        batch.drop_column("recent_messages")
