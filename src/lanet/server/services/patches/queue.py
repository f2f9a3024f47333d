"""The approval queue: every update waiting for a decision, once per client across its machines,
so a technician approves ``openssl`` for forty PCs in one click instead of forty pages.

An update waits when no one decided it and no auto-approval rule approves it yet (it may show when
one will), or when a customer administrator postponed it. Approved, denied and installed updates
are not in the queue.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lanet.server.models import Asset, AssetPatch, Client
from lanet.server.services.patches import decisions
from lanet.server.services.patches.policy import SEVERITY_ORDER
from lanet.server.services.tenancy import Tenancy


@dataclass
class Waiting:
    client_id: str
    client: str
    update_id: str
    title: str
    classification: str
    severity: str
    first_seen: datetime
    #: When an auto-approval rule (or the end of a postponement) approves it on the first machine.
    approves_at: datetime | None
    postponed: bool
    machines: list[tuple[str, str]] = field(default_factory=list)  # (asset id, computer name)


def _rank(row: Waiting) -> tuple[int, int, str, str]:
    security = 0 if row.classification in ("critical", "security") else 1
    return (security, SEVERITY_ORDER.index(row.severity), row.client, row.title)


def waiting(
    session: Session, tenancy: Tenancy, now: datetime, *, client_id: str | None = None
) -> list[Waiting]:
    """The queue the reader may see (one client's with ``client_id``): security and critical
    updates first, then by severity."""
    query = (
        select(Asset, AssetPatch, Client.name)
        .join(AssetPatch, AssetPatch.asset_id == Asset.id)
        .join(Client, Client.id == Asset.client_id)
        .where(Asset.retired_at.is_(None), AssetPatch.applicable.is_(True))
        .where(AssetPatch.state.not_in(decisions.DONE_STATES))
        .order_by(Asset.computer_name)
    )
    query = tenancy.limit(query, Asset.client_id)
    if client_id is not None:
        query = query.where(Asset.client_id == client_id)
    by_asset: dict[str, tuple[Asset, str, list[AssetPatch]]] = {}
    for asset, patch, client in session.execute(query):
        by_asset.setdefault(asset.id, (asset, client, []))[2].append(patch)
    queue: dict[tuple[str, str], Waiting] = {}
    decided: dict[str, decisions.Decided] = {}  # each client's, read once for all its machines
    for asset, client, patches in by_asset.values():
        if asset.client_id not in decided:
            decided[asset.client_id] = decisions.client_decisions(session, asset.client_id)
        planned = decisions.decisions_for(session, asset, now, rows=patches, decided=decided[asset.client_id])
        for patch, plan in zip(patches, planned, strict=True):
            if plan.decision.state != "available":
                continue
            row = queue.get((asset.client_id, patch.update_id))
            if row is None:
                row = queue[(asset.client_id, patch.update_id)] = Waiting(
                    asset.client_id,
                    client,
                    patch.update_id,
                    patch.title,
                    patch.classification,
                    patch.severity,
                    patch.first_seen,
                    plan.decision.approves_at,
                    plan.decision.postponed,
                )
            row.machines.append((asset.id, asset.computer_name))
            row.first_seen = min(row.first_seen, patch.first_seen)
            if plan.decision.approves_at is not None:
                row.approves_at = min(row.approves_at or plan.decision.approves_at, plan.decision.approves_at)
    return sorted(queue.values(), key=_rank)
