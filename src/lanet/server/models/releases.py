"""Agent releases, their rollouts, and where each asset is with each release.

The signed metadata itself lives in the TUF repository on disk (``services.releases.repository``);
these rows are what the operator and the heartbeat need to decide who is offered what.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lanet.server.models.base import Base, utcnow, uuid_pk


class Release(Base):
    """A package signed with the offline targets key and published in the repository."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("version", "platform"),)

    id: Mapped[str] = uuid_pk()
    version: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(160), unique=True, doc="the TUF target path")
    length: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    rollback: Mapped[bool] = mapped_column(Boolean, default=False, doc="signed as a rollback")
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(255))


class Rollout(Base):
    """A release offered to a share of the fleet, or of one client or site."""

    __tablename__ = "rollouts"
    __table_args__ = (UniqueConstraint("release_id", "client_id", "site_id"),)

    id: Mapped[str] = uuid_pk()
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    percent: Mapped[int] = mapped_column(Integer)
    #: Outside the agents' update windows too.
    now: Mapped[bool] = mapped_column(Boolean, default=False)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    #: Percent of the assets offered this release that may fail before the rollout pauses itself.
    failure_threshold: Mapped[float] = mapped_column(Float, default=2.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    release: Mapped[Release] = relationship()


class AssetUpdate(Base):
    """One asset with one release: the last state its agent reported (``offered`` is the server's)."""

    __tablename__ = "asset_updates"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    from_version: Mapped[str | None] = mapped_column(String(32))
    last_report_id: Mapped[str | None] = mapped_column(String(36))
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
