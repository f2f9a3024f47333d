"""OS updates per asset: every scan received, the latest state of each update, its history, the
technicians' requests for a scan now, the patch policies and the technicians' decisions."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from lanet.server.models.base import Base, JSONType, utcnow, uuid_pk


class PatchScanRecord(Base):
    """One scan as the agent sent it (the items go to ``asset_patches``), kept as history."""

    __tablename__ = "patch_scans"
    __table_args__ = (Index("ix_patch_scans_asset_id_received_at", "asset_id", "received_at"),)

    id: Mapped[str] = uuid_pk()
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    scan_id: Mapped[str] = mapped_column(String(36), unique=True, doc="the agent's, kept across retries")
    source: Mapped[str | None] = mapped_column(String(16))
    scanned_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applicable: Mapped[int] = mapped_column(Integer, default=0)
    security: Mapped[int] = mapped_column(Integer, default=0, doc="security and critical updates")
    reboot_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    reboot_sources: Mapped[list[str]] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    #: The PC's own Windows Update settings as the agent left them (``AutoUpdateState``), Windows only.
    auto_update: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class AssetPatch(Base):
    """One update on one asset: what the latest scan said of it, and where it is."""

    __tablename__ = "asset_patches"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    kb: Mapped[list[str]] = mapped_column(JSONType, default=list)
    package: Mapped[str | None] = mapped_column(String(128))
    current_version: Mapped[str | None] = mapped_column(String(128))
    available_version: Mapped[str | None] = mapped_column(String(128))
    classification: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    reboot_required: Mapped[bool] = mapped_column(Boolean, default=False)
    downloaded: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="available")
    reason: Mapped[str | None] = mapped_column(Text)
    #: Listed by the asset's latest scan (an update installed some other way drops out of it).
    applicable: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PatchEvent(Base):
    """A change of one update on one asset: seen, decided, installed, failed, gone."""

    __tablename__ = "patch_events"
    __table_args__ = (Index("ix_patch_events_asset_id_at", "asset_id", "at"),)

    id: Mapped[str] = uuid_pk()
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    update_id: Mapped[str] = mapped_column(String(160))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class PatchScanRequest(Base):
    """A technician's "scan now" for an asset, until a scan arrives after it."""

    __tablename__ = "patch_scan_requests"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(255))
    #: When a heartbeat's answer last carried it (sent again if no scan came back for a while).
    delivered_at: Mapped[datetime | None] = mapped_column()
    #: "Install now": the plan that answers the scan lets the agent install outside its window.
    install_now: Mapped[bool] = mapped_column(Boolean, default=False)


class PatchPolicy(Base):
    """One scope's patch settings (``services.patches.policy.SETTING_NAMES``): a client's, a site's or
    an asset's; the narrower scope's setting wins."""

    __tablename__ = "patch_policies"
    __table_args__ = (UniqueConstraint("scope", "scope_id"),)

    id: Mapped[str] = uuid_pk()
    scope: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255))


class PatchDecision(Base):
    """A technician's approve or deny of one update for one client (all its machines)."""

    __tablename__ = "patch_decisions"
    __table_args__ = (UniqueConstraint("client_id", "update_id"),)

    id: Mapped[str] = uuid_pk()
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    update_id: Mapped[str] = mapped_column(String(160))
    decision: Mapped[str] = mapped_column(String(8), doc="approve or deny")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class PatchPostponement(Base):
    """A customer administrator's "not yet" for one update of their client: held until ``until``,
    where the MSP lets the client co-approve (``customer_may_approve``)."""

    __tablename__ = "patch_postponements"
    __table_args__ = (UniqueConstraint("client_id", "update_id"),)

    id: Mapped[str] = uuid_pk()
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    update_id: Mapped[str] = mapped_column(String(160))
    until: Mapped[datetime] = mapped_column()
    postponed_by: Mapped[str] = mapped_column(String(255))
    postponed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PatchReportRecord(Base):
    """One install run as the agent reported it: the dry run, each update's outcome, the reboot."""

    __tablename__ = "patch_reports"
    __table_args__ = (Index("ix_patch_reports_asset_id_at", "asset_id", "at"),)

    id: Mapped[str] = uuid_pk()
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    report_id: Mapped[str] = mapped_column(String(36), unique=True, doc="the agent's, kept across retries")
    at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    plan_revision: Mapped[str] = mapped_column(String(64))
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    dry_run: Mapped[str] = mapped_column(Text, default="")
    reboot_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The reboot step this report is about (``PatchReboot``), if any.
    reboot: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    #: The policy's pre- and post-install scripts as they ran (``PatchScriptRun``), in order.
    scripts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
