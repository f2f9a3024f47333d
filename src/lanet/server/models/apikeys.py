"""API keys for the technicians' API: stored as an HMAC digest, shown once at creation."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lanet.server.models.base import DIGEST_LENGTH, Base, utcnow, uuid_pk


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    key_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(32), default="technician")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
