"""Remote commands queued by technicians for one asset, and their results."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lanet.protocol.values import COMMAND_PRIORITIES, PENDING_COMMAND_STATUSES
from lanet.server.models.assets import Asset
from lanet.server.models.base import Base, JSONType, utcnow, uuid_pk

#: Rank of each priority when commands are offered (lowest first): high before normal before low.
PRIORITY_ORDER = {priority: rank for rank, priority in enumerate(reversed(COMMAND_PRIORITIES))}
PENDING = PENDING_COMMAND_STATUSES


class Command(Base):
    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_asset_id_status", "asset_id", "status"),)

    id: Mapped[str] = uuid_pk()
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    script: Mapped[str] = mapped_column(Text)
    arguments: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    timeout: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    priority_rank: Mapped[int] = mapped_column(Integer, default=1)
    queued_by: Mapped[str] = mapped_column(String(255))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    delivered_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(BigInteger, doc="POSIX signed, Windows unsigned 32-bit")
    stdout: Mapped[str | None] = mapped_column(Text)
    stderr: Mapped[str | None] = mapped_column(Text)
    stdout_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    stderr_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)

    asset: Mapped[Asset] = relationship()
