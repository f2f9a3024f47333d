"""Clients (the MSP's customers) and their sites: the tenancy tree client -> site -> asset."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lanet.server.models.base import Base, utcnow, uuid_pk


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    code: Mapped[str] = mapped_column(String(4), unique=True, doc="Four [A-Z0-9] in install tokens")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sites: Mapped[list["Site"]] = relationship(back_populates="client", cascade="all, delete-orphan")


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("client_id", "name"),
        UniqueConstraint("client_id", "code"),
    )

    id: Mapped[str] = uuid_pk()
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship(back_populates="sites")
