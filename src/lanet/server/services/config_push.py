"""Configuration pushed to agents by technicians (``lanet-server config set``).

Precedence is asset over site over client. Each change bumps ``config_revision_pending`` on every
asset in its scope; the heartbeat offers the overrides newer than the revision the agent last applied
(``config_revision_applied``) until the agent echoes the new revision back.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.orm import Session

from lanet.protocol.config_updates import validate_config_value
from lanet.protocol.registration import RegistrationConfig
from lanet.server.models import Asset, Client, ConfigChange, ConfigOverride, Site
from lanet.server.models.base import table_of, utcnow
from lanet.server.services import audit
from lanet.server.services.tenancy import get_client

_PRECEDENCE = {"client": 0, "site": 1, "asset": 2}


class ScopeNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class Scope:
    kind: str
    id: str
    client_id: str


def resolve_scope(session: Session, kind: str, ref: str) -> Scope:
    """Find the client (by id or name), site or asset a change is aimed at."""
    if kind == "client":
        client = get_client(session, ref)
        if client is None:
            raise ScopeNotFoundError(f"no client with id or name {ref!r}")
        return Scope("client", client.id, client.id)
    if kind == "site":
        site = session.get(Site, ref)
        if site is None:
            raise ScopeNotFoundError(f"no site with id {ref!r}")
        return Scope("site", site.id, site.client_id)
    if kind == "asset":
        asset = session.get(Asset, ref)
        if asset is None:
            raise ScopeNotFoundError(f"no asset with id {ref!r}")
        return Scope("asset", asset.id, asset.client_id)
    raise ValueError(f"scope must be client, site or asset, not {kind!r}")


def _scope_filter(scope: Scope) -> Any:
    column = {"client": Asset.client_id, "site": Asset.site_id, "asset": Asset.id}[scope.kind]
    return column == scope.id


def set_override(session: Session, scope: Scope, key: str, value: Any, actor: str) -> int:
    """Validate and store one override; returns its revision. Raises ValidationError or KeyError."""
    canonical = validate_config_value(key, value)
    existing = session.scalars(
        select(ConfigOverride).where(
            ConfigOverride.scope == scope.kind, ConfigOverride.scope_id == scope.id, ConfigOverride.key == key
        )
    ).first()
    change = ConfigChange(
        scope=scope.kind,
        scope_id=scope.id,
        key=key,
        old_value=existing.value if existing else None,
        new_value={"v": canonical},
        changed_by=actor,
    )
    session.add(change)
    session.flush()
    revision = change.id
    if existing is None:
        session.add(
            ConfigOverride(
                scope=scope.kind,
                scope_id=scope.id,
                key=key,
                value={"v": canonical},
                revision=revision,
                updated_by=actor,
            )
        )
    else:
        existing.value = {"v": canonical}
        existing.revision = revision
        existing.updated_at = utcnow()
        existing.updated_by = actor
    session.flush()
    session.execute(update(Asset).where(_scope_filter(scope)).values(config_revision_pending=revision))
    if key == "heartbeat_interval":
        # The server's own view of the interval (next_heartbeat, offline detection) follows the
        # effective value, which an override at a narrower scope may still mask.
        for asset in session.scalars(select(Asset).where(_scope_filter(scope))):
            effective = effective_overrides(session.connection(), asset.client_id, asset.site_id, asset.id)
            if "heartbeat_interval" in effective:
                asset.heartbeat_interval = int(effective["heartbeat_interval"][0])
    audit.record(
        session,
        actor=actor,
        action="config.set",
        target_type=scope.kind,
        target_id=scope.id,
        client_id=scope.client_id,
        details={"key": key, "value": canonical, "old": change.old_value, "revision": revision},
    )
    return revision


def list_overrides(session: Session, scope: Scope) -> list[ConfigOverride]:
    return list(
        session.scalars(
            select(ConfigOverride)
            .where(ConfigOverride.scope == scope.kind, ConfigOverride.scope_id == scope.id)
            .order_by(ConfigOverride.key)
        )
    )


def effective_overrides(
    conn: Connection, client_id: str, site_id: str, asset_id: str | None
) -> dict[str, tuple[Any, int]]:
    """key -> (value, revision) after precedence."""
    table = table_of(ConfigOverride)
    conditions = [
        (table.c.scope == "client") & (table.c.scope_id == client_id),
        (table.c.scope == "site") & (table.c.scope_id == site_id),
    ]
    if asset_id is not None:
        conditions.append((table.c.scope == "asset") & (table.c.scope_id == asset_id))
    rows = sorted(
        conn.execute(
            select(table.c.scope, table.c.key, table.c.value, table.c.revision).where(or_(*conditions))
        ),
        key=lambda row: _PRECEDENCE[row.scope],
    )
    return {row.key: (row.value["v"], int(row.revision)) for row in rows}


def max_revision(effective: dict[str, tuple[Any, int]]) -> int:
    return max((rev for _, rev in effective.values()), default=0)


def pending_updates(
    conn: Connection, client_id: str, site_id: str, asset_id: str, applied: int
) -> tuple[dict[str, Any], int]:
    """The overrides newer than ``applied``, flat as the seed's ``config_updates``, and the revision
    the agent should echo once it has applied them."""
    effective = effective_overrides(conn, client_id, site_id, asset_id)
    updates = {key: value for key, (value, rev) in effective.items() if rev > applied}
    return updates, max_revision(effective)


def registration_config(
    conn: Connection, client: Client, site: Site, *, asset_id: str | None, backend_url: str, interval: int
) -> RegistrationConfig:
    """The seed's registration ``config``: server defaults with the effective overrides applied."""
    effective = effective_overrides(conn, client.id, site.id, asset_id)
    values: dict[str, Any] = {"backend_url": backend_url, "heartbeat_interval": interval}
    for key in RegistrationConfig.model_fields:
        if key in effective:
            values[key] = effective[key][0]
    return RegistrationConfig.model_validate(values)


def recent_changes(session: Session, limit: int = 50) -> list[ConfigChange]:
    """The latest pushed changes, newest first."""
    return list(session.scalars(select(ConfigChange).order_by(ConfigChange.id.desc()).limit(limit)))
