"""The technicians' API for OS updates: each asset's updates with what the policy makes of them,
"scan now", approve or deny per client, and the patch policy of a client, a site or an asset. The
same services as ``lanet-server patches``; every change audited under ``apikey:<name>``."""

from dataclasses import asdict
from typing import Any, Literal

from pydantic import Field

from lanet.protocol.common import FreeJson, Timestamp, WireModel
from lanet.protocol.errors import ErrorCode
from lanet.protocol.patches import UpdateId
from lanet.protocol.values import PatchClassification, PatchSeverity, PatchSource, PatchState
from lanet.server.api.errors import ApiError
from lanet.server.api.operations import ApiBlueprint
from lanet.server.blueprints.admin import require_technician
from lanet.server.models import Asset
from lanet.server.models.base import utcnow
from lanet.server.services.config_push import ScopeNotFoundError, resolve_scope
from lanet.server.services.patches import decisions, requests, scans
from lanet.server.services.patches.policy import PolicyError
from lanet.server.services.tenancy import get_client
from lanet.server.state import state

bp = ApiBlueprint("patches", __name__, url_prefix="/api/admin/patches", tag="technicians")


class AssetPatchView(WireModel):
    update_id: str
    source: PatchSource
    title: str
    kb: list[str]
    package: str | None
    current_version: str | None
    available_version: str | None
    classification: PatchClassification
    severity: PatchSeverity
    size_bytes: int | None
    reboot_required: bool
    downloaded: bool
    state: PatchState
    reason: str | None
    applicable: bool
    decision: Literal["approved", "denied", "available"] | None
    decision_reason: str | None
    first_seen: Timestamp
    last_seen: Timestamp


class AssetPatches(WireModel):
    asset_id: str
    computer_name: str
    last_scan: Timestamp | None
    last_scan_error: str | None
    reboot_pending: bool | None
    items: list[AssetPatchView]


class ScanRequested(WireModel):
    asset_id: str
    requested_at: Timestamp


class DecisionRequest(WireModel):
    update_id: UpdateId
    decision: Literal["approve", "deny"]
    reason: str | None = Field(default=None, max_length=500)


class DecisionDone(WireModel):
    client: str
    update_id: str
    decision: Literal["approve", "deny"]


class PolicyRequest(WireModel):
    """Settings to merge into the scope's (``null`` removes one, so the broader scope's applies)."""

    settings: dict[str, FreeJson] = Field(max_length=16)


class PolicyView(WireModel):
    scope: Literal["client", "site", "asset"]
    id: str
    settings: dict[str, FreeJson]
    effective: dict[str, FreeJson] | None = None


def _asset(session: Any, asset_id: str) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.retired_at is not None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No registered asset {asset_id}")
    return asset  # type: ignore[no-any-return]


@bp.operation(
    "/assets/<asset_id>",
    "GET",
    summary="An asset's OS updates, their states and what the policy makes of them",
    response=AssetPatches,
    auth="technician",
    errors=(404,),
)
def asset_patches(asset_id: str) -> AssetPatches:
    require_technician()
    with state().db.session() as session:
        asset = _asset(session, asset_id)
        planned = {p.update_id: p.decision for p in decisions.decisions_for(session, asset, utcnow())}
        history = scans.scan_history(session, asset.id, limit=1)
        items = [
            AssetPatchView(
                **asdict(row),  # type: ignore[arg-type]
                decision=planned[row.update_id].state if row.update_id in planned else None,
                decision_reason=planned[row.update_id].reason if row.update_id in planned else None,
            )
            for row in scans.asset_patches(session, asset.id, include_gone=True)
        ]
        return AssetPatches(
            asset_id=asset.id,
            computer_name=asset.computer_name,
            last_scan=history[0].scanned_at if history else None,
            last_scan_error=history[0].error if history else None,
            reboot_pending=history[0].reboot_pending if history else None,
            items=items,
        )


@bp.operation(
    "/assets/<asset_id>/scan",
    summary="Ask the asset's agent for a scan at its next heartbeat",
    response=ScanRequested,
    auth="technician",
    errors=(404,),
)
def request_scan(asset_id: str) -> ScanRequested:
    actor = require_technician()
    now = utcnow()
    with state().db.session() as session:
        requests.request_scan(session, _asset(session, asset_id), actor=actor, now=now)
    state().scan_requests.invalidate()
    return ScanRequested(asset_id=asset_id, requested_at=now)


class InstallRequest(WireModel):
    now: bool = Field(default=False, description="Outside the maintenance window too")


@bp.operation(
    "/assets/<asset_id>/install",
    summary="Send the asset its approved updates, to install in its window or at once",
    body=InstallRequest,
    response=ScanRequested,
    auth="technician",
    errors=(404,),
)
def install(asset_id: str, body: InstallRequest) -> ScanRequested:
    actor = require_technician()
    now = utcnow()
    with state().db.session() as session:
        requests.request_scan(session, _asset(session, asset_id), actor=actor, now=now, install_now=body.now)
    state().scan_requests.invalidate()
    return ScanRequested(asset_id=asset_id, requested_at=now)


@bp.operation(
    "/clients/<client>/decisions",
    summary="Approve or deny one update for every machine of a client",
    body=DecisionRequest,
    response=DecisionDone,
    auth="technician",
    errors=(404,),
)
def decide(client: str, body: DecisionRequest) -> DecisionDone:
    actor = require_technician()
    with state().db.session() as session:
        record = get_client(session, client)
        if record is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, f"No client with id or name {client!r}")
        decisions.decide(
            session, record, body.update_id, body.decision, actor=actor, reason=body.reason, now=utcnow()
        )
        name = record.name
    return DecisionDone(client=name, update_id=body.update_id, decision=body.decision)


def _policy_view(session: Any, kind: str, ref: str) -> PolicyView:
    try:
        scope = resolve_scope(session, kind, ref)
    except (ScopeNotFoundError, ValueError) as exc:
        raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from None
    effective = None
    if scope.kind == "asset":
        effective = decisions.policy_json(decisions.effective_policy(session, _asset(session, scope.id)))
    return PolicyView(
        scope=scope.kind,  # type: ignore[arg-type]
        id=scope.id,
        settings=decisions.policy_settings(session, scope),
        effective=effective,
    )


@bp.operation(
    "/policies/<kind>/<ref>",
    "GET",
    summary="The patch settings of a client, a site or an asset (an asset's effective policy too)",
    response=PolicyView,
    auth="technician",
    errors=(404,),
)
def show_policy(kind: str, ref: str) -> PolicyView:
    require_technician()
    with state().db.session() as session:
        return _policy_view(session, kind, ref)


@bp.operation(
    "/policies/<kind>/<ref>",
    "PUT",
    summary="Change the patch settings of a client, a site or an asset",
    body=PolicyRequest,
    response=PolicyView,
    auth="technician",
    errors=(404,),
)
def set_policy(kind: str, ref: str, body: PolicyRequest) -> PolicyView:
    actor = require_technician()
    with state().db.session() as session:
        view = _policy_view(session, kind, ref)
        scope = resolve_scope(session, view.scope, view.id)
        try:
            decisions.set_policy(session, scope, dict(body.settings), actor=actor, now=utcnow())
        except PolicyError as exc:
            raise ApiError(422, ErrorCode.VALIDATION_ERROR, str(exc)) from None
        view = _policy_view(session, kind, ref)
    state().scan_requests.invalidate()
    return view
