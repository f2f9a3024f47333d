"""Install tokens: creation, listing and revocation (CLI and, later, the technicians' portal)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from lanet.protocol.tokens import new_token, token_hint, validate_token_format
from lanet.server.models import InstallToken, TokenUsage
from lanet.server.models.base import utcnow
from lanet.server.services import audit
from lanet.server.services.credentials import Keys, Purpose, expires_after
from lanet.server.services.tenancy import ensure_client, ensure_site


@dataclass(frozen=True)
class CreatedToken:
    token: str
    record: InstallToken


def create_token(
    session: Session,
    keys: Keys,
    *,
    client_name: str,
    site_name: str,
    actor: str,
    max_uses: int | None = None,
    expires_days: int | None = None,
    description: str | None = None,
) -> CreatedToken:
    """Create a token for a client and site, creating either when missing. The plain token is
    returned once; only its digest is stored."""
    if max_uses is not None and max_uses < 1:
        raise ValueError("max uses must be at least 1")
    if expires_days is not None and expires_days < 1:
        raise ValueError("expiry must be at least 1 day")
    client, client_created = ensure_client(session, client_name)
    site, site_created = ensure_site(session, client, site_name)
    now = utcnow()
    while True:
        token = new_token(client.code, site.code)
        digest = keys.install_digest(token)
        if (
            session.scalars(select(InstallToken.id).where(InstallToken.token_digest == digest)).first()
            is None
        ):
            break
    record = InstallToken(
        client_id=client.id,
        site_id=site.id,
        token_digest=digest,
        hint=token_hint(token),
        description=description,
        expires_at=expires_after(now, expires_days),
        max_uses=max_uses,
        created_by=actor,
        created_at=now,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.create",
        target_type="install_token",
        target_id=record.id,
        client_id=client.id,
        details={
            "hint": record.hint,
            "site_id": site.id,
            "max_uses": max_uses,
            "expires_at": record.expires_at.isoformat() if record.expires_at else None,
            "client_created": client_created,
            "site_created": site_created,
        },
    )
    return CreatedToken(token, record)


def find_token(session: Session, keys: Keys, ref: str) -> InstallToken | None:
    """A token by its plain value or by its id."""
    ref = ref.strip()
    if validate_token_format(ref):
        return session.scalars(
            select(InstallToken).where(
                InstallToken.token_digest.in_(keys.candidates(Purpose.INSTALL_TOKEN, ref))
            )
        ).first()
    return session.get(InstallToken, ref)


def revoke_token(session: Session, record: InstallToken, actor: str) -> bool:
    """Deactivate a token; returns False when it was already inactive."""
    if not record.is_active:
        return False
    record.is_active = False
    record.revoked_at = utcnow()
    record.revoked_by = actor
    audit.record(
        session,
        actor=actor,
        action="token.revoke",
        target_type="install_token",
        target_id=record.id,
        client_id=record.client_id,
        details={"hint": record.hint},
    )
    return True


def token_state(record: InstallToken, now: datetime) -> str:
    """What a registration with this token would meet: active, inactive, expired or used."""
    if not record.is_active:
        return "inactive"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    if record.max_uses is not None and record.usage_count >= record.max_uses:
        return "used"
    return "active"


def list_tokens(session: Session, client_id: str | None = None) -> list[InstallToken]:
    query = select(InstallToken).options(joinedload(InstallToken.client), joinedload(InstallToken.site))
    if client_id:
        query = query.where(InstallToken.client_id == client_id)
    return list(session.scalars(query.order_by(InstallToken.created_at)))


def usage_of(session: Session, record: InstallToken, limit: int = 200) -> list[TokenUsage]:
    """The token's registrations, newest first."""
    return list(
        session.scalars(
            select(TokenUsage)
            .where(TokenUsage.token_id == record.id)
            .order_by(TokenUsage.used_at.desc())
            .limit(limit)
        )
    )
