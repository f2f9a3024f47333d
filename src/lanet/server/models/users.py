"""People who log in to the portal, and their server-side sessions.

``role`` is one of :data:`ROLES`. The MSP's staff (``superadmin``, ``technician``) see every client;
``client_admin`` and ``solicitante`` belong to one client (``client_id``) and see only its sites,
assets and tickets.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lanet.server.models.base import Base, utcnow, uuid_pk
from lanet.server.models.tenancy import Client

ROLE_SUPERADMIN = "superadmin"
ROLE_TECHNICIAN = "technician"
ROLE_CLIENT_ADMIN = "client_admin"
ROLE_REQUESTER = "solicitante"
ROLES = (ROLE_SUPERADMIN, ROLE_TECHNICIAN, ROLE_CLIENT_ADMIN, ROLE_REQUESTER)
STAFF_ROLES = frozenset({ROLE_SUPERADMIN, ROLE_TECHNICIAN})


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = uuid_pk()
    email: Mapped[str] = mapped_column(String(254), unique=True, doc="Stored lower-cased")
    name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="es", server_default=text("'es'"))
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None]
    last_login: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client | None] = relationship()

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class PortalSession(Base):
    """One logged-in browser. The cookie holds a random token; only its digest is stored here."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, doc="sha256 of the cookie token")
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship()


class UnknownLogin(Base):
    """Failed logins for an address that has no account, kept the way ``User`` keeps its own
    (count, then a 15-minute lock), so the answers never tell which addresses have accounts."""

    __tablename__ = "unknown_logins"

    email_digest: Mapped[str] = mapped_column(String(64), primary_key=True, doc="sha256 of the address")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
