"""Configuration pushed by technicians to a client, a site or one asset.

Every change gets a revision number (the id of its ``config_changes`` row); assets in scope record the
newest revision that applies to them, and the heartbeat keeps offering the overrides newer than the
revision the agent says it applied.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lanet.server.models.assets import BigId
from lanet.server.models.base import Base, utcnow

SCOPES = ("client", "site", "asset")


class ConfigOverride(Base):
    __tablename__ = "config_overrides"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[str] = mapped_column(String(36), index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[dict[str, Any]] = mapped_column(doc="{'v': <json value>}")
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255))


class ConfigChange(Base):
    """History of overrides; its id is the revision counter."""

    __tablename__ = "config_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(8))
    scope_id: Mapped[str] = mapped_column(String(36))
    key: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[dict[str, Any] | None]
    new_value: Mapped[dict[str, Any] | None]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(255))
