"""Assets (the machines running the agent), their inventory, telemetry, alerts and agent logs.

``assets`` holds the current state of each machine, written by every heartbeat; history goes to
``metric_samples``. The telemetry tables (``metric_samples``, ``agent_logs``) are only reached through
``services.telemetry``, so moving them to a time-series engine changes one module.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lanet.server.models.base import DIGEST_LENGTH, Base, JSONType, utcnow, uuid_pk
from lanet.server.models.tenancy import Client, Site

BigId = BigInteger().with_variant(Integer, "sqlite")

# Agent status values shown to technicians and customers.
STATUS_ONLINE = "online"
STATUS_WARNING = "warning"
STATUS_OFFLINE = "offline"
STATUS_NEVER = "registered"


_PRIMARY = "replaces_asset_id IS NULL AND retired_at IS NULL"


class Asset(Base):
    """One machine. A machine that registers again without proving it is the one registered before
    (its identity secret) becomes a new asset that ``replaces_asset_id`` the old one, until a
    technician merges it (it takes over the old asset's history) or rejects it (it is retired). So
    a fingerprint is unique among the live, undisputed assets of a client, not among all."""

    __tablename__ = "assets"
    __table_args__ = (
        Index(
            "uq_assets_client_id_fingerprint",
            "client_id",
            "fingerprint",
            unique=True,
            sqlite_where=text(_PRIMARY),
            postgresql_where=text(_PRIMARY),
        ),
    )

    id: Mapped[str] = uuid_pk()
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), doc="sha256 of the machine's stable identity")
    computer_name: Mapped[str] = mapped_column(String(255))
    os: Mapped[str | None] = mapped_column(String(255))
    os_version: Mapped[str | None] = mapped_column(String(128))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    assigned_user: Mapped[str | None] = mapped_column(String(255))
    hardware: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="Latest hardware_info, sans lists")
    updates: Mapped[dict[str, Any] | None]
    inventory_digest: Mapped[str | None] = mapped_column(String(64))
    inventory_at: Mapped[datetime | None]
    agent_version: Mapped[str | None] = mapped_column(String(32))
    #: The package the agent runs from (``windows-x64``, ``linux-deb``); None: it cannot update itself.
    update_platform: Mapped[str | None] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    refresh_digest: Mapped[str | None] = mapped_column(String(DIGEST_LENGTH))

    # Credentials. The identity secret is made by the agent before its first registration and proves
    # a later one (public identifiers never do). The refresh credential rotates on every use; the one
    # it replaced works once more within a short grace (a lost answer), and any replaced one presented
    # after that revokes the asset's credentials.
    # A JWT whose ``iat`` is before ``auth_epoch`` (a newer registration, a retirement, a revocation)
    # is refused.
    identity_digest: Mapped[str | None] = mapped_column(String(DIGEST_LENGTH))
    spent_refresh_digests: Mapped[list[Any] | None] = mapped_column(
        JSONType, doc="digests of the last refresh credentials replaced, newest first"
    )
    refresh_rotated_at: Mapped[datetime | None]
    refresh_used_at: Mapped[datetime | None]
    refresh_grace_used: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    auth_epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    replaces_asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )

    # Current state, written by each heartbeat.
    # Not indexed, none of them: a heartbeat that changes no indexed column is updated in place
    # (a heap-only tuple on PostgreSQL), writing no index entry at all. The readers that filter on
    # them read the assets of one client or the whole table, which a scan does.
    agent_status: Mapped[str] = mapped_column(String(16), default=STATUS_NEVER)
    last_seen: Mapped[datetime | None]
    heartbeat_interval: Mapped[int] = mapped_column(Integer, default=60)
    offline_deadline: Mapped[int | None] = mapped_column(
        BigInteger, doc="Unix time after which the asset counts as offline (3 missed beats)"
    )
    cpu_usage: Mapped[float | None] = mapped_column(Float)
    memory_usage: Mapped[float | None] = mapped_column(Float)
    disk_usage: Mapped[float | None] = mapped_column(Float)
    uptime: Mapped[int | None] = mapped_column(BigInteger)
    last_boot: Mapped[datetime | None]
    services_status: Mapped[list[Any] | None] = mapped_column(JSONType)
    open_alerts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    # Pushed configuration: the newest revision that applies to this asset, and the one it applied.
    config_revision_pending: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    config_revision_applied: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    # The last message ids of its heartbeats, newest first, comma-separated: the replay check
    # (``services.telemetry.REPLAY_WINDOW``); and whether the latest heartbeat was one of them.
    recent_messages: Mapped[str | None] = mapped_column(String(600))
    last_beat_replayed: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    # Per-asset fixed-window request counter, kept on the row the heartbeat updates anyway.
    rate_window_start: Mapped[datetime | None]
    rate_window_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    client: Mapped[Client] = relationship()
    site: Mapped[Site] = relationship()


class AssetSoftware(Base):
    __tablename__ = "asset_software"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str | None] = mapped_column(String(128))
    publisher: Mapped[str | None] = mapped_column(String(255))
    install_date: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[str | None] = mapped_column(String(64))


class AssetService(Base):
    __tablename__ = "asset_services"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    startup: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)


class MetricSample(Base):
    """One heartbeat's metrics. On PostgreSQL the table is partitioned by day of ``sampled_at``
    (its primary key is then ``(id, sampled_at)``), and a day past its retention is dropped whole
    (``services.timeseries``). A replayed heartbeat is caught before it gets here
    (``assets.recent_messages``)."""

    __tablename__ = "metric_samples"
    __table_args__ = (Index("ix_metric_samples_asset_id_sampled_at", "asset_id", "sampled_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    sampled_at: Mapped[datetime]
    cpu_usage: Mapped[float | None] = mapped_column(Float)
    memory_usage: Mapped[float | None] = mapped_column(Float)
    disk_usage: Mapped[float | None] = mapped_column(Float)
    network_usage: Mapped[float | None] = mapped_column(Float)
    uptime: Mapped[int | None] = mapped_column(BigInteger)
    temperature: Mapped[float | None] = mapped_column(Float)
    processes_count: Mapped[int | None] = mapped_column(Integer)
    threads_count: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any] | None] = mapped_column(doc="disks and top processes, when sent")


ALERT_OPEN = "open"
ALERT_RESOLVED = "resolved"


class Alert(Base):
    """At most one open alert per asset, type and resource (a partial unique index enforces it)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_asset_type_resource",
            "asset_id",
            "type",
            "resource",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(255), default="")
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    threshold: Mapped[float | None] = mapped_column(Float)
    current_value: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=ALERT_OPEN)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]

    asset: Mapped[Asset] = relationship()


class AgentLog(Base):
    """Partitioned by day of ``logged_at`` on PostgreSQL, as ``metric_samples`` is."""

    __tablename__ = "agent_logs"
    __table_args__ = (Index("ix_agent_logs_asset_id_logged_at", "asset_id", "logged_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    logged_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(16))
    logger: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
