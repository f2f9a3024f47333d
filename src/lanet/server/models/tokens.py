"""Install tokens and every attempt to use them.

A token is stored only as an HMAC digest keyed with the server secret (see ``services.secrets``);
``hint`` keeps enough of it (client and site codes, last two characters) for a person to tell tokens
apart in a list.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lanet.server.models.base import DIGEST_LENGTH, Base, utcnow, uuid_pk
from lanet.server.models.tenancy import Client, Site


class InstallToken(Base):
    __tablename__ = "agent_installation_tokens"

    id: Mapped[str] = uuid_pk()
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    hint: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int | None] = mapped_column(Integer)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(255))

    client: Mapped[Client] = relationship()
    site: Mapped[Site] = relationship()


class TokenUsage(Base):
    """One registration attempt (good or refused). ``token_id`` is null for unknown tokens."""

    __tablename__ = "agent_token_usage_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_id: Mapped[str | None] = mapped_column(
        ForeignKey("agent_installation_tokens.id", ondelete="SET NULL"), index=True
    )
    token_hint: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    computer_name: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(32), doc="'registered', 'reregistered' or an ErrorCode")
    asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
