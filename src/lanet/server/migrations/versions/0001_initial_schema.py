"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 17:53:11.970608
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lanet.server.models.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("created_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("code", name=op.f("uq_clients_code")),
        sa.UniqueConstraint("name", name=op.f("uq_clients_name")),
    )
    op.create_table(
        "config_changes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "old_value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "new_value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("changed_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_changes")),
    )
    op.create_table(
        "config_overrides",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_overrides")),
        sa.UniqueConstraint("scope", "scope_id", "key", name=op.f("uq_config_overrides_scope_scope_id_key")),
    )
    with op.batch_alter_table("config_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_config_overrides_scope_id"), ["scope_id"], unique=False)

    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("window_start", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=36), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_audit_log_client_id_clients"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_client_id"), ["client_id"], unique=False)
        batch_op.create_index("ix_audit_log_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("created_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_sites_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("client_id", "code", name=op.f("uq_sites_client_id_code")),
        sa.UniqueConstraint("client_id", "name", name=op.f("uq_sites_client_id_name")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_client_id"), ["client_id"], unique=False)

    op.create_table(
        "agent_installation_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=36), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("expires_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("last_used_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("revoked_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_agent_installation_tokens_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_agent_installation_tokens_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_installation_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_agent_installation_tokens_token_digest")),
    )
    with op.batch_alter_table("agent_installation_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_installation_tokens_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agent_installation_tokens_site_id"), ["site_id"], unique=False)

    op.create_table(
        "assets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=36), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("computer_name", sa.String(length=255), nullable=False),
        sa.Column("os", sa.String(length=255), nullable=True),
        sa.Column("os_version", sa.String(length=128), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("assigned_user", sa.String(length=255), nullable=True),
        sa.Column(
            "hardware",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "updates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("inventory_digest", sa.String(length=64), nullable=True),
        sa.Column("inventory_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("agent_version", sa.String(length=32), nullable=True),
        sa.Column("registered_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refresh_digest", sa.String(length=64), nullable=True),
        sa.Column("agent_status", sa.String(length=16), nullable=False),
        sa.Column("last_seen", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_interval", sa.Integer(), nullable=False),
        sa.Column("offline_deadline", sa.BigInteger(), nullable=True),
        sa.Column("cpu_usage", sa.Float(), nullable=True),
        sa.Column("memory_usage", sa.Float(), nullable=True),
        sa.Column("disk_usage", sa.Float(), nullable=True),
        sa.Column("uptime", sa.BigInteger(), nullable=True),
        sa.Column("last_boot", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "services_status",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("open_alerts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("config_revision_pending", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("config_revision_applied", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rate_window_start", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rate_window_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_assets_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_assets_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("client_id", "fingerprint", name=op.f("uq_assets_client_id_fingerprint")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_agent_status"), ["agent_status"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_offline_deadline"), ["offline_deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_site_id"), ["site_id"], unique=False)

    op.create_table(
        "agent_logs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("logged_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("logger", sa.String(length=128), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_agent_logs_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_logs")),
    )
    with op.batch_alter_table("agent_logs", schema=None) as batch_op:
        batch_op.create_index("ix_agent_logs_asset_id_logged_at", ["asset_id", "logged_at"], unique=False)

    op.create_table(
        "agent_token_usage_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_id", sa.String(length=36), nullable=True),
        sa.Column("token_hint", sa.String(length=32), nullable=False),
        sa.Column("used_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("computer_name", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_agent_token_usage_history_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["agent_installation_tokens.id"],
            name=op.f("fk_agent_token_usage_history_token_id_agent_installation_tokens"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_token_usage_history")),
    )
    with op.batch_alter_table("agent_token_usage_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_token_usage_history_token_id"), ["token_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agent_token_usage_history_used_at"), ["used_at"], unique=False)

    op.create_table(
        "alerts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("current_value", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("opened_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_alerts_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_asset_type_resource",
            ["asset_id", "type", "resource"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "asset_services",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("startup", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_services_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_services")),
    )
    with op.batch_alter_table("asset_services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_services_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "asset_software",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=True),
        sa.Column("publisher", sa.String(length=255), nullable=True),
        sa.Column("install_date", sa.String(length=64), nullable=True),
        sa.Column("size", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_software_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_software")),
    )
    with op.batch_alter_table("asset_software", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_software_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "metric_samples",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("sampled_at", lanet.server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cpu_usage", sa.Float(), nullable=True),
        sa.Column("memory_usage", sa.Float(), nullable=True),
        sa.Column("disk_usage", sa.Float(), nullable=True),
        sa.Column("network_usage", sa.Float(), nullable=True),
        sa.Column("uptime", sa.BigInteger(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("processes_count", sa.Integer(), nullable=True),
        sa.Column("threads_count", sa.Integer(), nullable=True),
        sa.Column(
            "extra",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_metric_samples_asset_id_assets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_samples")),
        sa.UniqueConstraint("asset_id", "message_id", name=op.f("uq_metric_samples_asset_id_message_id")),
    )
    with op.batch_alter_table("metric_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metric_samples_asset_id_sampled_at", ["asset_id", "sampled_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("metric_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_samples_asset_id_sampled_at")

    op.drop_table("metric_samples")
    with op.batch_alter_table("asset_software", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_software_asset_id"))

    op.drop_table("asset_software")
    with op.batch_alter_table("asset_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_services_asset_id"))

    op.drop_table("asset_services")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_open_asset_type_resource",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index(batch_op.f("ix_alerts_asset_id"))

    op.drop_table("alerts")
    with op.batch_alter_table("agent_token_usage_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_token_usage_history_used_at"))
        batch_op.drop_index(batch_op.f("ix_agent_token_usage_history_token_id"))

    op.drop_table("agent_token_usage_history")
    with op.batch_alter_table("agent_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_logs_asset_id_logged_at")

    op.drop_table("agent_logs")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_site_id"))
        batch_op.drop_index(batch_op.f("ix_assets_offline_deadline"))
        batch_op.drop_index(batch_op.f("ix_assets_last_seen"))
        batch_op.drop_index(batch_op.f("ix_assets_client_id"))
        batch_op.drop_index(batch_op.f("ix_assets_agent_status"))

    op.drop_table("assets")
    with op.batch_alter_table("agent_installation_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_installation_tokens_site_id"))
        batch_op.drop_index(batch_op.f("ix_agent_installation_tokens_client_id"))

    op.drop_table("agent_installation_tokens")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_client_id"))

    op.drop_table("sites")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_target")
        batch_op.drop_index(batch_op.f("ix_audit_log_client_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
    op.drop_table("rate_limits")
    with op.batch_alter_table("config_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_config_overrides_scope_id"))

    op.drop_table("config_overrides")
    op.drop_table("config_changes")
    op.drop_table("clients")
