"""Technicians' API keys: create (shown once), check, revoke."""

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lanet.server.models import ApiKey
from lanet.server.models.base import utcnow
from lanet.server.services import audit
from lanet.server.services.credentials import Keys, Purpose

PREFIX = "lak_"


def create_key(session: Session, keys: Keys, name: str, actor: str) -> tuple[ApiKey, str]:
    name = name.strip()
    if not name:
        raise ValueError("the key needs a name")
    if session.scalars(select(ApiKey).where(ApiKey.name == name)).first() is not None:
        raise ValueError(f"a key named {name!r} exists already")
    plain = PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(name=name, key_digest=keys.api_key_digest(plain), created_by=actor)
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="apikey.create",
        target_type="api_key",
        target_id=record.id,
        details={"name": name, "role": record.role},
    )
    return record, plain


def check_key(session: Session, keys: Keys, presented: str, now: datetime | None = None) -> ApiKey | None:
    if not presented.startswith(PREFIX):
        return None
    record = session.scalars(
        select(ApiKey).where(ApiKey.key_digest.in_(keys.candidates(Purpose.API_KEY, presented)))
    ).first()
    if record is None or record.revoked_at is not None:
        return None
    if not keys.is_current(record.key_digest):
        record.key_digest = keys.api_key_digest(presented)  # moves to the current key
    record.last_used_at = now or utcnow()
    return record


def revoke_key(session: Session, ref: str, actor: str) -> ApiKey | None:
    record = session.get(ApiKey, ref) or session.scalars(select(ApiKey).where(ApiKey.name == ref)).first()
    if record is None:
        return None
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="apikey.revoke",
            target_type="api_key",
            target_id=record.id,
            details={"name": record.name},
        )
    return record
