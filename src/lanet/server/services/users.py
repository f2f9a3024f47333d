"""Portal users: creation, login with lockout, and server-side sessions.

A login that fails five times in a row locks the account for fifteen minutes; every attempt, good or
bad, is an audit entry. Sessions live in ``portal_sessions``: the browser holds a random token, the
database its SHA-256, so a leaked database does not hand out sessions. A session ends after two idle
hours or twelve hours in all, whichever comes first, and at logout.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lanet.i18n import LANGUAGES
from lanet.server.models import PortalSession, UnknownLogin, User
from lanet.server.models.base import utcnow
from lanet.server.models.users import ROLES, STAFF_ROLES
from lanet.server.services import audit
from lanet.server.services.passwords import dummy_hash, hash_password, password_problem, verify_password
from lanet.server.services.tenancy import get_client

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)

IDLE_TIMEOUT = timedelta(hours=2)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
_TOUCH_EVERY = timedelta(minutes=1)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


def create_user(
    session: Session,
    *,
    email: str,
    role: str,
    password: str,
    actor: str,
    client_ref: str | None = None,
    name: str | None = None,
    language: str = "es",
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise UserError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    client = None
    if role in STAFF_ROLES:
        if client_ref:
            raise UserError(f"a {role} sees every client; do not give --client")
    else:
        if not client_ref:
            raise UserError(f"a {role} belongs to one client: give --client")
        client = get_client(session, client_ref)
        if client is None:
            raise UserError(f"no client {client_ref!r}")
    problem = password_problem(password, email=email)
    if problem:
        raise UserError(problem)
    if language not in LANGUAGES:
        raise UserError(f"language must be one of {', '.join(LANGUAGES)}")
    if session.scalars(select(User.id).where(User.email == email)).first() is not None:
        raise UserError(f"a user {email} already exists")
    user = User(
        email=email,
        role=role,
        client_id=client.id if client else None,
        name=name,
        password_hash=hash_password(password),
        language=language,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        client_id=user.client_id,
        details={"email": email, "role": role},
    )
    return user


def set_password(session: Session, email: str, password: str, actor: str) -> User:
    """Replace a user's password, unlock the account and end its sessions."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise UserError(f"no user {email.strip().lower()}")
    problem = password_problem(password, email=user.email)
    if problem:
        raise UserError(problem)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(PortalSession).where(PortalSession.user_id == user.id))
    audit.record(
        session,
        actor=actor,
        action="user.password",
        target_type="user",
        target_id=user.id,
        client_id=user.client_id,
    )
    return user


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    #: ``ok``, ``bad_credentials``, ``locked`` or ``inactive``
    outcome: str
    locked_until: datetime | None = None


def authenticate(session: Session, email: str, password: str, ip: str | None) -> LoginResult:
    """Check a login and record it in the audit log; the caller commits."""
    email = email.strip().lower()[:254]
    now = utcnow()
    # The row stays locked while the password is checked: parallel guesses at one account are
    # counted one after the other, so the lockout comes after exactly MAX_FAILURES checks.
    user = session.scalars(select(User).where(User.email == email).with_for_update()).first()
    if user is None:
        return _unknown_address(session, email, password, ip, now)
    if user.locked_until is not None and user.locked_until > now:
        verify_password(password, dummy_hash())  # a locked account answers as slowly as any other
        _audit_login(session, email, ip, "locked", user)
        return LoginResult(None, "locked", user.locked_until)
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins < MAX_FAILURES:
            _audit_login(session, email, ip, "bad_password", user)
            return LoginResult(None, "bad_credentials")
        user.locked_until = now + LOCK_FOR
        user.failed_logins = 0
        _audit_login(session, email, ip, "locked_now", user)
        return LoginResult(None, "locked", user.locked_until)
    if not user.active:
        _audit_login(session, email, ip, "inactive", user)
        return LoginResult(None, "inactive")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login = now
    _audit_login(session, email, ip, "ok", user)
    return LoginResult(user, "ok")


def _unknown_address(
    session: Session, email: str, password: str, ip: str | None, now: datetime
) -> LoginResult:
    """An address with no account fails, counts and locks exactly as an account does (the same
    answers, the same timing: the password is checked against a dummy hash), so the login page
    never tells an attacker which addresses have accounts (OWASP's authentication guidance)."""
    verify_password(password, dummy_hash())
    digest = _digest(email)
    record = session.get(UnknownLogin, digest, with_for_update=True)
    if record is None:
        record = UnknownLogin(email_digest=digest, failed_logins=0)
        session.add(record)
    record.updated_at = now
    if record.locked_until is not None and record.locked_until > now:
        _audit_login(session, email, ip, "unknown_user_locked")
        return LoginResult(None, "locked", record.locked_until)
    record.failed_logins = (record.failed_logins or 0) + 1
    if record.failed_logins < MAX_FAILURES:
        _audit_login(session, email, ip, "unknown_user")
        return LoginResult(None, "bad_credentials")
    record.failed_logins = 0
    record.locked_until = now + LOCK_FOR
    _audit_login(session, email, ip, "unknown_user_locked")
    return LoginResult(None, "locked", record.locked_until)


def _audit_login(
    session: Session, email: str, ip: str | None, outcome: str, user: User | None = None
) -> None:
    audit.record(
        session,
        actor=f"user:{email}",
        action="portal.login",
        target_type="user" if user else None,
        target_id=user.id if user else None,
        client_id=user.client_id if user else None,
        ip_address=ip,
        outcome=outcome,
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, ip: str | None, user_agent: str | None) -> str:
    """Open a session; returns the cookie token (shown once, stored only as its digest)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PortalSession(
            id=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
            ip_address=ip,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    return token


def load_session(session: Session, token: str) -> PortalSession | None:
    """The live session for a cookie token, touched; None when unknown, expired or its user is gone."""
    if not token or len(token) > 128:
        return None
    record = session.get(PortalSession, _digest(token))
    now = utcnow()
    if record is None:
        return None
    if record.expires_at <= now or record.last_seen + IDLE_TIMEOUT <= now or not record.user.active:
        session.delete(record)
        return None
    if now - record.last_seen >= _TOUCH_EVERY:
        record.last_seen = now
    return record


def end_session(session: Session, token: str) -> PortalSession | None:
    record = session.get(PortalSession, _digest(token)) if token else None
    if record is not None:
        session.delete(record)
    return record


def purge_sessions(session: Session, now: datetime | None = None) -> int:
    """Delete sessions past their absolute expiry, and failed-login records of addresses without an
    account that have been quiet for a day (maintenance)."""
    now = now or utcnow()
    result = session.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
    session.execute(delete(UnknownLogin).where(UnknownLogin.updated_at < now - timedelta(days=1)))
    return int(getattr(result, "rowcount", 0) or 0)
