"""An asset's credentials over its life: refresh with rotation, revocation, retirement, and the
technician's verdict on a possible replacement (merge or reject).

Refresh follows OAuth 2.0's refresh-token rotation (RFC 9700 §4.14): every use hands out a new
credential and the used one stops working. The one just replaced is accepted once more, at any
time, because the answer carrying its successor can be lost on the way to the agent (a timeout, a
server restart, the agent stopped before it saved it); the successor that answer carried is then
counted among the replaced. Any replaced credential presented otherwise means two parties hold the
asset's credentials: all of them are revoked and the event is audited. A credential unused for the
configured idle time expires (OWASP's session guidance: idle and absolute lifetimes).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from lanet.protocol.errors import ErrorCode
from lanet.server.models import (
    AgentLog,
    Alert,
    Asset,
    AssetService,
    AssetSoftware,
    Command,
    ConfigOverride,
    MetricSample,
    Ticket,
    TokenUsage,
)
from lanet.server.models.assets import ALERT_OPEN, ALERT_RESOLVED
from lanet.server.models.base import table_of
from lanet.server.services import audit, config_push, timeseries
from lanet.server.services.credentials import Keys, Purpose, new_refresh_token, next_epoch

#: Replaced refresh credentials remembered per asset, so presenting an old one is noticed.
SPENT_KEPT = 16


class LifecycleError(Exception):
    """A change that does not apply to this asset (already retired, not a replacement, ...)."""


@dataclass(frozen=True)
class Refreshed:
    asset: Asset
    refresh_token: str


@dataclass(frozen=True)
class RefreshRefused:
    code: ErrorCode
    message: str


def refresh(
    session: Session,
    keys: Keys,
    asset_id: str,
    presented: str,
    now: datetime,
    *,
    idle: timedelta,
    identity_secret: str | None = None,
    ip_address: str | None = None,
) -> Refreshed | RefreshRefused:
    """Trade ``presented`` for a new refresh credential (the JWT is issued by the caller)."""
    asset = session.scalars(select(Asset).where(Asset.id == asset_id).with_for_update()).first()
    invalid = RefreshRefused(ErrorCode.REFRESH_INVALID, "The refresh credential is not valid for this asset")
    if asset is None:
        return invalid
    if asset.retired_at is not None:
        return RefreshRefused(ErrorCode.ASSET_RETIRED, "This asset was retired; register the machine again")
    spent = list(asset.spent_refresh_digests or [])
    current = keys.matches(Purpose.REFRESH_TOKEN, presented, asset.refresh_digest)
    spent_at = next(
        (i for i, old in enumerate(spent) if keys.matches(Purpose.REFRESH_TOKEN, presented, old)), None
    )
    if not current and spent_at is None:
        return invalid
    # The predecessor of the current credential may come back once: the answer that carried the
    # current one was lost (a timeout, a restart), so the agent never saw it. Anything else replaced
    # means two parties hold the asset's credentials.
    lost_answer = spent_at == 0 and not asset.refresh_grace_used
    if spent_at is not None and not lost_answer:
        revoke_credentials(asset, now)
        audit.record(
            session,
            actor=f"agent:{asset.id}",
            action="agent.refresh_reused",
            target_type="asset",
            target_id=asset.id,
            client_id=asset.client_id,
            ip_address=ip_address,
            outcome="revoked",
            details={"reason": "a replaced refresh credential was presented again"},
        )
        return invalid
    if asset.refresh_used_at is not None and now - asset.refresh_used_at > idle:
        revoke_credentials(asset, now)
        return RefreshRefused(
            ErrorCode.REFRESH_INVALID, "The refresh credential expired unused; register the machine again"
        )
    token = new_refresh_token()
    if current:
        asset.spent_refresh_digests = [asset.refresh_digest, *spent][:SPENT_KEPT]
        asset.refresh_grace_used = False
    else:
        # The undelivered credential joins the replaced ones: should it ever appear, it was stolen.
        undelivered = [asset.refresh_digest] if asset.refresh_digest else []
        asset.spent_refresh_digests = [spent[0], *undelivered, *spent[1:]][:SPENT_KEPT]
        asset.refresh_grace_used = True
    asset.refresh_digest = keys.refresh_digest(token)
    asset.refresh_rotated_at = asset.refresh_used_at = now
    if identity_secret and (
        asset.identity_digest is None
        or (
            not keys.is_current(asset.identity_digest)
            and keys.matches(Purpose.AGENT_IDENTITY, identity_secret, asset.identity_digest)
        )
    ):
        asset.identity_digest = keys.identity_digest(identity_secret)  # made, or moved to the current key
    return Refreshed(asset, token)


def revoke_credentials(asset: Asset, now: datetime) -> None:
    """No refresh credential works any more and every JWT issued so far is refused."""
    asset.refresh_digest = None
    asset.spent_refresh_digests = None
    asset.refresh_grace_used = False
    asset.auth_epoch = next_epoch(asset.auth_epoch or 0, now)


def retire(session: Session, asset: Asset, actor: str, now: datetime) -> None:
    """Take an asset out of service: refused on every agent endpoint, hidden from the lists, history
    kept. Registering the machine again makes a new asset."""
    if asset.retired_at is not None:
        raise LifecycleError("this asset is already retired")
    asset.retired_at = now
    revoke_credentials(asset, now)
    audit.record(
        session,
        actor=actor,
        action="asset.retire",
        target_type="asset",
        target_id=asset.id,
        client_id=asset.client_id,
        details={"computer_name": asset.computer_name},
    )


def merge(session: Session, newcomer: Asset, actor: str, now: datetime) -> Asset:
    """Accept ``newcomer`` as the machine it may be replacing: it takes over the old asset's history
    (metrics, logs, alerts, tickets, commands, registrations) and its place, and the old asset goes.
    The newcomer keeps its id, so its agent carries on with the credentials it has."""
    old = _replaced(session, newcomer)
    moved: dict[str, int] = {}
    # The newcomer's own open alerts stand; the old ones cannot stay open beside them.
    session.execute(
        update(table_of(Alert))
        .where(table_of(Alert).c.asset_id == old.id, table_of(Alert).c.status == ALERT_OPEN)
        .values(status=ALERT_RESOLVED, resolved_at=now)
    )
    for history in (MetricSample, AgentLog, Alert, Ticket, Command, TokenUsage):
        table = table_of(history)
        result = session.execute(update(table).where(table.c.asset_id == old.id).values(asset_id=newcomer.id))
        moved[history.__tablename__] = cast(CursorResult[Any], result).rowcount
    moved["rollups"] = timeseries.move_rollups(session, old.id, newcomer.id)
    for inventory in (AssetSoftware, AssetService):  # the newcomer's inventory is the current one
        session.execute(table_of(inventory).delete().where(table_of(inventory).c.asset_id == old.id))
    # Other machines that claimed to be the old asset now claim to be the newcomer: still waiting for
    # a technician, never silently taken for ordinary assets.
    session.execute(
        update(table_of(Asset))
        .where(table_of(Asset).c.replaces_asset_id == old.id, table_of(Asset).c.id != newcomer.id)
        .values(replaces_asset_id=newcomer.id)
    )
    # The old asset's own configuration follows it, unless the newcomer has its own for that key.
    overrides = table_of(ConfigOverride)
    own = select(overrides.c.key).where(overrides.c.scope == "asset", overrides.c.scope_id == newcomer.id)
    session.execute(
        overrides.delete().where(
            overrides.c.scope == "asset", overrides.c.scope_id == old.id, overrides.c.key.in_(own)
        )
    )
    session.execute(
        update(overrides)
        .where(overrides.c.scope == "asset", overrides.c.scope_id == old.id)
        .values(scope_id=newcomer.id)
    )
    fingerprint, registered_at = old.fingerprint, old.registered_at
    session.delete(old)
    session.flush()
    newcomer.fingerprint = fingerprint
    newcomer.registered_at = min(registered_at, newcomer.registered_at)
    newcomer.replaces_asset_id = None
    # What now applies to the newcomer (the overrides it took over) reaches its agent.
    effective = config_push.effective_overrides(
        session.connection(), newcomer.client_id, newcomer.site_id, newcomer.id
    )
    newcomer.config_revision_pending = max(
        newcomer.config_revision_pending, config_push.max_revision(effective)
    )
    audit.record(
        session,
        actor=actor,
        action="asset.merge",
        target_type="asset",
        target_id=newcomer.id,
        client_id=newcomer.client_id,
        details={"replaced": old.id, "computer_name": newcomer.computer_name, "moved": moved},
    )
    return newcomer


def reject(session: Session, newcomer: Asset, actor: str, now: datetime) -> None:
    """Refuse ``newcomer`` as a replacement: it is retired; the asset it claimed to be is untouched."""
    old = _replaced(session, newcomer)
    newcomer.retired_at = now
    revoke_credentials(newcomer, now)
    audit.record(
        session,
        actor=actor,
        action="asset.reject_replacement",
        target_type="asset",
        target_id=newcomer.id,
        client_id=newcomer.client_id,
        details={"claimed": old.id, "computer_name": newcomer.computer_name},
    )


def _replaced(session: Session, newcomer: Asset) -> Asset:
    if newcomer.retired_at is not None:
        raise LifecycleError("this asset is retired")
    if newcomer.replaces_asset_id is None:
        raise LifecycleError("this asset is not waiting to be merged or rejected")
    old = session.get(Asset, newcomer.replaces_asset_id)
    if old is None:
        raise LifecycleError("the asset it would replace no longer exists")
    return old
