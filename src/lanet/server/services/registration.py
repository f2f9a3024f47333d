"""``POST /agents/register-with-token``: the seed's registration flow.

Every attempt, good or refused, is written to ``agent_token_usage_history`` and to the audit log in
the same transaction as its outcome. The same machine (same fingerprint within the token's client,
proven by the identity secret its agent made) gets its existing asset back with fresh credentials,
never a duplicate; one that only looks the same gets a new asset marked as a possible replacement.
"""

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lanet.protocol.errors import ErrorCode
from lanet.protocol.registration import RegisterRequest, RegisterResponse
from lanet.protocol.tokens import token_hint, validate_token_format
from lanet.server.db import Database
from lanet.server.models import Asset, InstallToken, TokenUsage
from lanet.server.models.base import utcnow
from lanet.server.services import audit, config_push
from lanet.server.services.credentials import (
    Keys,
    Purpose,
    issue_agent_jwt,
    new_refresh_token,
    next_epoch,
)
from lanet.server.services.inventory import apply_inventory, fingerprint
from lanet.server.services.tokens import token_state

_REFUSALS = {
    "inactive": ErrorCode.TOKEN_INACTIVE,
    "expired": ErrorCode.TOKEN_EXPIRED,
    "used": ErrorCode.TOKEN_USED,
}


@dataclass(frozen=True)
class Caller:
    ip_address: str | None
    user_agent: str | None


class RegistrationRefusedError(Exception):
    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


def _record_attempt(
    session: Session,
    token: InstallToken | None,
    attempt: "_Request",
    outcome: str,
    asset_id: str | None = None,
) -> None:
    hint = token_hint(attempt.token)
    computer_name = attempt.body.hardware_info.computer_name[:255]
    session.add(
        TokenUsage(
            token_id=token.id if token else None,
            token_hint=hint,
            ip_address=attempt.caller.ip_address,
            user_agent=(attempt.caller.user_agent or "")[:512] or None,
            computer_name=computer_name,
            outcome=outcome,
            asset_id=asset_id,
        )
    )
    audit.record(
        session,
        actor=f"agent:{asset_id}" if asset_id else "agent:unregistered",
        action="agent.register",
        target_type="install_token",
        target_id=token.id if token else None,
        client_id=token.client_id if token else None,
        ip_address=attempt.caller.ip_address,
        outcome=outcome,
        details={"token_hint": hint, "computer_name": computer_name},
    )


@dataclass(frozen=True)
class _Request:
    """One registration attempt: what the agent sent and what the server adds."""

    body: RegisterRequest
    caller: Caller
    backend_url: str
    default_interval: int

    @property
    def token(self) -> str:
        return self.body.token.strip()


def register(
    db: Database,
    keys: Keys,
    body: RegisterRequest,
    caller: Caller,
    *,
    backend_url: str,
    default_interval: int,
) -> RegisterResponse:
    """Register (or re-register) a machine; raises :class:`RegistrationRefusedError` on refusal.

    A refusal is committed (usage history and audit) before it is raised.
    """
    attempt = _Request(body, caller, backend_url, default_interval)
    try:
        outcome = _attempt(db, keys, attempt)
    except IntegrityError:
        # Two first registrations of one machine raced; the loser now finds the winner's asset.
        outcome = _attempt(db, keys, attempt)
    if isinstance(outcome, ErrorCode):
        raise RegistrationRefusedError(outcome)
    return outcome


def _attempt(db: Database, keys: Keys, attempt: _Request) -> RegisterResponse | ErrorCode:
    with db.session() as session:
        if not validate_token_format(attempt.token):
            _record_attempt(session, None, attempt, ErrorCode.TOKEN_MALFORMED)
            return ErrorCode.TOKEN_MALFORMED
        return _register_with_token(session, keys, attempt)


def _register_with_token(session: Session, keys: Keys, attempt: _Request) -> RegisterResponse | ErrorCode:
    hw = attempt.body.hardware_info
    # FOR UPDATE serialises concurrent uses of one token on PostgreSQL (usage_count vs max_uses);
    # SQLite's BEGIN IMMEDIATE already serialises writers.
    token = session.scalars(
        select(InstallToken)
        .where(InstallToken.token_digest.in_(keys.candidates(Purpose.INSTALL_TOKEN, attempt.token)))
        .with_for_update()
    ).first()
    if token is None:
        _record_attempt(session, None, attempt, ErrorCode.TOKEN_INVALID)
        return ErrorCode.TOKEN_INVALID
    if not keys.is_current(token.token_digest):
        token.token_digest = keys.install_digest(attempt.token)  # moves to the current key

    fp = fingerprint(hw)
    now = utcnow()
    secret = attempt.body.identity_secret
    identity = keys.identity_digest(secret) if secret else None
    asset, disputed = _known_machine(session, keys, token.client_id, fp, secret)
    state = token_state(token, now)
    # A machine repeating the registration that used up a single-use token (its first answer was
    # lost on the way back) is not refused: it gets its own asset again, if it proves it is that one.
    repeat_of_last_use = state == "used" and asset is not None and _last_asset_of(session, token) == asset.id
    if state != "active" and not repeat_of_last_use:
        code = _REFUSALS[state]
        _record_attempt(session, token, attempt, code)
        return code

    reregistered = asset is not None
    if asset is None:
        asset = Asset(
            client_id=token.client_id,
            site_id=token.site_id,
            # A disputed machine waits for a technician under a placeholder fingerprint of its own:
            # the real one stays with the asset it may be replacing.
            fingerprint=fp if disputed is None else _placeholder_fingerprint(),
            computer_name=hw.computer_name,
            heartbeat_interval=attempt.default_interval,
            identity_digest=identity,
            replaces_asset_id=disputed.id if disputed is not None else None,
        )
        session.add(asset)
    else:
        asset.site_id = token.site_id
    asset.agent_version = attempt.body.agent_version
    asset.ip_address = attempt.caller.ip_address
    apply_inventory(session, asset, hw, now)
    refresh = new_refresh_token()
    asset.refresh_digest = keys.refresh_digest(refresh)
    asset.spent_refresh_digests = None
    asset.refresh_grace_used = False
    asset.refresh_rotated_at = asset.refresh_used_at = now
    # Every JWT issued before this registration stops working.
    asset.auth_epoch = next_epoch(asset.auth_epoch or 0, now)
    session.flush()

    effective = config_push.effective_overrides(
        session.connection(), token.client_id, token.site_id, asset.id
    )
    asset.config_revision_pending = config_push.max_revision(effective)
    if "heartbeat_interval" in effective:
        asset.heartbeat_interval = int(effective["heartbeat_interval"][0])

    if not repeat_of_last_use:
        token.usage_count += 1
    token.last_used_at = now
    outcome = "reregistered" if reregistered else ("possible_replacement" if disputed else "registered")
    _record_attempt(session, token, attempt, outcome, asset.id)
    agent_token, expires = issue_agent_jwt(
        keys,
        asset_id=asset.id,
        client_id=asset.client_id,
        site_id=asset.site_id,
        computer_name=asset.computer_name,
        now=now,
        auth_epoch=asset.auth_epoch,
    )
    config = config_push.registration_config(
        session.connection(),
        token.client,
        token.site,
        asset_id=asset.id,
        backend_url=attempt.backend_url,
        interval=asset.heartbeat_interval,
    )
    return RegisterResponse(
        asset_id=asset.id,
        client_id=asset.client_id,
        site_id=asset.site_id,
        agent_token=agent_token,
        config=config,
        registered_at=asset.registered_at,
        client_name=token.client.name,
        site_name=token.site.name,
        refresh_token=refresh,
        token_expires_at=expires,
        existing_asset=reregistered,
        replaces_asset_id=asset.replaces_asset_id,
    )


def _known_machine(
    session: Session, keys: Keys, client_id: str, fp: str, secret: str | None
) -> tuple[Asset | None, Asset | None]:
    """The asset this machine proves to be, and otherwise the live asset it only looks like.

    Proof is the identity secret the agent made before its first registration. Public identifiers
    (machine id, serial number, MAC: shown on the portal, readable by any local user) only say
    which asset a newcomer may be replacing: osquery/Fleet's enrollment secret plays the same role.
    The agent's own earlier disputed registrations (it has a secret by then) are found by that secret.
    """
    live = select(Asset).where(Asset.client_id == client_id, Asset.retired_at.is_(None))
    primary = session.scalars(
        live.where(Asset.fingerprint == fp, Asset.replaces_asset_id.is_(None)).with_for_update()
    ).first()
    if secret is not None:
        if primary is not None and keys.matches(Purpose.AGENT_IDENTITY, secret, primary.identity_digest):
            return _identity_current(keys, primary, secret), None
        candidates = keys.candidates(Purpose.AGENT_IDENTITY, secret)
        pending = session.scalars(
            live.where(Asset.replaces_asset_id.is_not(None), Asset.identity_digest.in_(candidates))
        ).first()
        if pending is not None:
            return _identity_current(keys, pending, secret), None
    return None, primary


def _identity_current(keys: Keys, asset: Asset, secret: str) -> Asset:
    """A proven asset's identity digest, moved to the current key."""
    if not keys.is_current(asset.identity_digest):
        asset.identity_digest = keys.identity_digest(secret)
    return asset


def _placeholder_fingerprint() -> str:
    return "pending:" + secrets.token_hex(28)


def _last_asset_of(session: Session, token: InstallToken) -> str | None:
    return session.scalars(
        select(TokenUsage.asset_id)
        .where(TokenUsage.token_id == token.id, TokenUsage.asset_id.is_not(None))
        .order_by(TokenUsage.id.desc())
        .limit(1)
    ).first()
