"""Patch policies and technicians' decisions, stored and applied: what each of an asset's updates
should be now (approved, denied, waiting), from :mod:`.policy`'s rules.

Policies are settings per client, site or asset (a narrower scope's setting wins); the window's
default start is the asset's effective ``update_schedule``. Decisions are per client and update: a
technician approves or denies ``openssl=3.0.15-1~deb12u1`` (or a Windows ``UpdateID``) for all of
that client's machines. Every change is audited.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lanet.protocol.patches import PatchPlan
from lanet.server.models import (
    Asset,
    AssetPatch,
    Client,
    PatchDecision,
    PatchEvent,
    PatchPolicy,
    PatchPostponement,
)
from lanet.server.services import audit
from lanet.server.services.config_push import Scope, effective_overrides
from lanet.server.services.patches.policy import (
    DEFAULT_START,
    Decision,
    Policy,
    PolicyError,
    check_settings,
    evaluate,
    resolve,
)
from lanet.server.services.patches.requests import request_scan

_PRECEDENCE = ("client", "site", "asset")
#: Settings of the client as a whole: co-approval is decided per client, not per site or machine.
CLIENT_ONLY = ("customer_may_approve", "customer_defer_days")


def _layers(session: Session, asset: Asset) -> list[dict[str, Any]]:
    ids = {"client": asset.client_id, "site": asset.site_id, "asset": asset.id}
    rows = {
        row.scope: row.settings
        for row in session.scalars(
            select(PatchPolicy).where(
                PatchPolicy.client_id == asset.client_id, PatchPolicy.scope_id.in_(ids.values())
            )
        )
        if row.scope_id == ids[row.scope]
    }
    return [rows.get(scope, {}) for scope in _PRECEDENCE]


def schedule_start(session: Session, asset: Asset) -> str:
    """The asset's effective ``update_schedule``: where its window starts unless a policy says."""
    effective = effective_overrides(session.connection(), asset.client_id, asset.site_id, asset.id)
    return str(effective.get("update_schedule", (DEFAULT_START, 0))[0])


def effective_policy(session: Session, asset: Asset) -> Policy:
    return resolve(_layers(session, asset), default_start=schedule_start(session, asset))


def inherited_policy(session: Session, scope: Scope) -> Policy:
    """What the scope gets where it sets nothing itself: its broader scopes' policy (for an
    asset, starting at its ``update_schedule``)."""
    if scope.kind == "client":
        return resolve([])
    layers = [_layers_of(session, "client", scope.client_id)]
    if scope.kind == "site":
        return resolve(layers)
    asset = session.get(Asset, scope.id)
    if asset is None:
        raise LookupError(f"no asset with id {scope.id!r}")
    layers.append(_layers_of(session, "site", asset.site_id))
    return resolve(layers, default_start=schedule_start(session, asset))


def client_policy(session: Session, client_id: str) -> Policy:
    """The client's own policy (no site or asset layer): what decides whether its customer
    administrators co-approve, and for how long they may postpone."""
    return resolve([_layers_of(session, "client", client_id)])


def _layers_of(session: Session, kind: str, scope_id: str) -> dict[str, Any]:
    row = session.scalars(
        select(PatchPolicy).where(PatchPolicy.scope == kind, PatchPolicy.scope_id == scope_id)
    ).first()
    return dict(row.settings) if row else {}


def policy_json(policy: Policy) -> dict[str, Any]:
    """The effective policy as plain JSON (lists, not tuples), for the CLI and the API."""
    plain: dict[str, Any] = json.loads(json.dumps(asdict(policy)))
    return plain


def policy_settings(session: Session, scope: Scope) -> dict[str, Any]:
    return _layers_of(session, scope.kind, scope.id)


def set_policy(
    session: Session, scope: Scope, changes: dict[str, Any], *, actor: str, now: datetime
) -> dict[str, Any]:
    """Merge ``changes`` into the scope's settings (a ``None`` value removes a setting, so the
    broader scope's applies again); validated whole before anything is stored."""
    row = session.scalars(
        select(PatchPolicy).where(PatchPolicy.scope == scope.kind, PatchPolicy.scope_id == scope.id)
    ).first()
    settings = {**(row.settings if row else {}), **changes}
    settings = {k: v for k, v in settings.items() if v is not None}
    if scope.kind != "client":
        for name in CLIENT_ONLY:
            if name in settings:
                raise PolicyError(f"{name}: a client's setting (its sites and machines follow the client)")
    check_settings(settings)
    if row is None:
        row = PatchPolicy(scope=scope.kind, scope_id=scope.id, client_id=scope.client_id, updated_by=actor)
        session.add(row)
    row.settings, row.updated_at, row.updated_by = settings, now, actor
    # The scope's machines learn their new plan (window, approvals, reboot) at their next heartbeat.
    column = {"client": Asset.client_id, "site": Asset.site_id, "asset": Asset.id}[scope.kind]
    for asset in session.scalars(select(Asset).where(column == scope.id, Asset.retired_at.is_(None))):
        request_scan(session, asset, actor=actor, now=now, audited=False)
    audit.record(
        session,
        actor=actor,
        action="patches.policy_changed",
        target_type=scope.kind,
        target_id=scope.id,
        client_id=scope.client_id,
        details={"changes": changes},
    )
    return settings


def decide(
    session: Session,
    client: Client,
    update_id: str,
    verdict: str,
    *,
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    """Approve or deny one update for all the client's machines (audited, and on each machine's
    history). An approval lifts a customer's postponement; a technician's decision replaces it."""
    if verdict not in ("approve", "deny"):
        raise ValueError(f"a decision is approve or deny, not {verdict!r}")
    row = session.scalars(
        select(PatchDecision).where(
            PatchDecision.client_id == client.id, PatchDecision.update_id == update_id
        )
    ).first()
    if row is None:
        row = PatchDecision(client_id=client.id, update_id=update_id, decision=verdict, decided_by=actor)
        session.add(row)
    row.decision, row.reason, row.decided_by, row.decided_at = verdict, reason, actor, now
    postponed = _postponement(session, client.id, update_id)
    if postponed is not None and verdict == "approve":
        session.delete(postponed)
    state = "approved" if verdict == "approve" else "denied"
    _tell_machines(session, client, update_id, state, reason or f"{verdict} by {actor}", actor, now)
    audit.record(
        session,
        actor=actor,
        action=f"patches.{verdict}",
        target_type="client",
        target_id=client.id,
        client_id=client.id,
        details={"update_id": update_id, "reason": reason},
    )


def _postponement(session: Session, client_id: str, update_id: str) -> PatchPostponement | None:
    return session.scalars(
        select(PatchPostponement).where(
            PatchPostponement.client_id == client_id, PatchPostponement.update_id == update_id
        )
    ).first()


def postpone(
    session: Session, client: Client, update_id: str, until: datetime, *, actor: str, now: datetime
) -> None:
    """Hold one update on all the client's machines until ``until`` (a customer administrator's
    "not yet"; :mod:`.coapproval` checks they may). Audited, and on each machine's history."""
    row = _postponement(session, client.id, update_id)
    if row is None:
        row = PatchPostponement(client_id=client.id, update_id=update_id, until=until, postponed_by=actor)
        session.add(row)
    row.until, row.postponed_by, row.postponed_at = until, actor, now
    reason = f"postponed by {actor} until {until:%Y-%m-%d %H:%M} UTC"
    _tell_machines(session, client, update_id, "available", reason, actor, now)
    audit.record(
        session,
        actor=actor,
        action="patches.postpone",
        target_type="client",
        target_id=client.id,
        client_id=client.id,
        details={"update_id": update_id, "until": until.isoformat()},
    )


def _tell_machines(
    session: Session, client: Client, update_id: str, state: str, reason: str, actor: str, now: datetime
) -> None:
    """The decision on the history of each of the client's machines that has the update; the live
    ones learn it at their next heartbeat (a scan, answered with the new plan)."""
    for asset in session.scalars(
        select(Asset)
        .join(AssetPatch, AssetPatch.asset_id == Asset.id)
        .where(Asset.client_id == client.id, AssetPatch.update_id == update_id)
    ):
        session.add(
            PatchEvent(
                asset_id=asset.id, update_id=update_id, state=state, reason=reason, actor=actor, at=now
            )
        )
        if asset.retired_at is None:
            request_scan(session, asset, actor=actor, now=now, audited=False)


def _applicable(session: Session, asset: Asset) -> list[AssetPatch]:
    return list(
        session.scalars(
            select(AssetPatch).where(AssetPatch.asset_id == asset.id, AssetPatch.applicable.is_(True))
        )
    )


#: A client's explicit decisions (update -> verdict, who) and postponements (update -> until, who).
Decided = tuple[dict[str, tuple[str, str]], dict[str, tuple[datetime, str]]]


def client_decisions(session: Session, client_id: str) -> Decided:
    """The client's explicit decisions (update -> verdict, who) and postponements (update ->
    until, who)."""
    explicit = {
        row.update_id: (row.decision, row.decided_by)
        for row in session.scalars(select(PatchDecision).where(PatchDecision.client_id == client_id))
    }
    postponed = {
        row.update_id: (row.until, row.postponed_by)
        for row in session.scalars(select(PatchPostponement).where(PatchPostponement.client_id == client_id))
    }
    return explicit, postponed


@dataclass(frozen=True)
class Planned:
    update_id: str
    decision: Decision


def decisions_for(
    session: Session,
    asset: Asset,
    now: datetime,
    *,
    policy: Policy | None = None,
    rows: list[AssetPatch] | None = None,
    decided: Decided | None = None,
) -> list[Planned]:
    """Each applicable update of the asset with what it should be now (``policy``, ``rows`` and
    ``decided``, the client's :func:`client_decisions`: the caller's, when it has them already)."""
    policy = policy or effective_policy(session, asset)
    explicit, postponed = decided or client_decisions(session, asset.client_id)
    if rows is None:
        rows = _applicable(session, asset)
    return [
        Planned(
            row.update_id,
            evaluate(
                policy,
                asset_id=asset.id,
                classification=row.classification,
                severity=row.severity,
                first_seen=row.first_seen,
                explicit=explicit.get(row.update_id),
                now=now,
                postponed=postponed.get(row.update_id),
            ),
        )
        for row in rows
    ]


#: Agent states after which an update is not installed again (until a scan lists it anew).
DONE_STATES = ("installed", "verified", "reboot_pending")


def plan_for(session: Session, asset: Asset, now: datetime, *, install_now: bool = False) -> PatchPlan:
    """What the asset's agent should install, and when: its approved updates not yet installed."""
    policy = effective_policy(session, asset)
    rows = _applicable(session, asset)
    states = {row.update_id: row.state for row in rows}
    install = sorted(
        p.update_id
        for p in decisions_for(session, asset, now, policy=policy, rows=rows)
        if p.decision.state == "approved" and states.get(p.update_id) not in DONE_STATES
    )
    body = {
        "window_start": policy.window.start,
        "window_minutes": policy.window.minutes,
        "window_days": list(policy.window.days),
        "install": install,
        "now": install_now,
        "reboot": policy.reboot,
        "reboot_deadline_hours": policy.reboot_deadline_hours,
        "max_deferrals": policy.max_deferrals,
    }
    # Only when set, so a plan's revision changes with these settings and nothing else does.
    for phase in ("pre_script", "post_script"):
        if getattr(policy, phase) is not None:
            body[phase] = getattr(policy, phase)
    if policy.windows_auto_update != "leave":
        body["windows_auto_update"] = policy.windows_auto_update
    revision = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return PatchPlan(revision=revision, **body)
