"""The agent API (seed: "APIs disponibles para el agente") and our additions for agents."""

from datetime import timedelta
from typing import Any

from flask import Response, request, send_file
from pydantic import Field

from lanet.protocol.commands import CommandResult, CommandResultAck
from lanet.protocol.common import UUIDStr, WireModel
from lanet.protocol.errors import TOKEN_REFUSAL_REASONS, ErrorCode
from lanet.protocol.heartbeat import HeartbeatRequest, HeartbeatResponse
from lanet.protocol.patches import PatchReport, PatchReportAck, PatchScan, PatchScanAck
from lanet.protocol.registration import (
    HardwareInfo,
    RefreshRequest,
    RefreshResponse,
    RegisterRequest,
    RegisterResponse,
)
from lanet.protocol.releases import UpdateReport, UpdateReportAck
from lanet.protocol.values import FAILED_UPDATE_STATES
from lanet.server.api.agent_auth import (
    client_ip,
    count_failure,
    rate_limit,
    refusal_for,
    require_agent,
    require_own_asset,
)
from lanet.server.api.errors import ApiError
from lanet.server.api.operations import ApiBlueprint
from lanet.server.models import Asset
from lanet.server.models.base import utcnow
from lanet.server.services import asset_lifecycle, commands, registration, telemetry
from lanet.server.services.credentials import issue_agent_jwt
from lanet.server.services.inventory import apply_inventory
from lanet.server.services.patches import decisions, reports, scans
from lanet.server.services.releases import operations as releases
from lanet.server.services.releases.repository import ReleaseRepository
from lanet.server.settings import RateLimit
from lanet.server.state import state

bp = ApiBlueprint("agents", __name__, url_prefix="/api/agents", tag="agents")

_REFUSAL_STATUS = {ErrorCode.TOKEN_MALFORMED: 400}


def _limit(key: str, limit: RateLimit | None = None, message: str = "Too many requests") -> None:
    """Count a request against ``key`` (the agent-endpoint limit unless told); 429 past it."""
    rate_limit(key, limit or state().settings.agent_rate, message)


def _live_asset(session: Any, asset_id: str) -> Asset:
    """The caller's asset, in service; 401 otherwise (it was retired or deleted since the JWT)."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.retired_at is not None:
        raise ApiError(401, ErrorCode.AUTH_INVALID, "This asset is no longer registered")
    return asset  # type: ignore[no-any-return]


def _backend_url() -> str:
    return state().settings.public_url or (request.host_url.rstrip("/") + "/api")


@bp.operation(
    "/register-with-token",
    summary="Register a machine with an install token",
    body=RegisterRequest,
    response=RegisterResponse,
    status=201,
    errors=(403,),
)
def register_with_token(body: RegisterRequest) -> RegisterResponse:
    """Validates the token (malformed 400; unknown, inactive, expired or used up 403), creates the asset
    or returns the existing one for the same machine, and answers the agent JWT, its config and a
    refresh credential. Every attempt is recorded in the token's usage history."""
    app = state()
    _limit(
        f"register:{client_ip()}",
        app.settings.register_rate,
        "Too many registration attempts from this address",
    )
    try:
        result = registration.register(
            app.db,
            app.keys,
            body,
            registration.Caller(client_ip(), request.headers.get("User-Agent")),
            backend_url=_backend_url(),
            default_interval=app.settings.heartbeat_interval,
        )
    except registration.RegistrationRefusedError as exc:
        raise ApiError(
            _REFUSAL_STATUS.get(exc.code, 403),
            exc.code,
            f"Registration refused: {TOKEN_REFUSAL_REASONS[exc.code]}",
        ) from None
    return result


@bp.operation(
    "/heartbeat",
    summary="Send status, alerts and logs; receive commands and config updates",
    body=HeartbeatRequest,
    response=HeartbeatResponse,
    auth="agent",
)
def heartbeat(body: HeartbeatRequest) -> HeartbeatResponse:
    """Stores the status as the asset's current state and as a metric sample, opens and resolves
    alerts, stores logs. A repeated ``message_id`` is acknowledged without being stored twice."""
    claims = require_agent(asset_checked_by_caller=True)
    require_own_asset(claims, body.asset_id)
    app = state()
    try:
        result = telemetry.record_heartbeat(
            app.db,
            claims.asset_id,
            body,
            ip_address=client_ip(),
            rate=app.settings.agent_rate,
            issued_at=claims.iat,
            log_rate=app.settings.agent_log_rate,
            rollouts=app.rollouts,
            scan_requests=app.scan_requests,
        )
    except telemetry.AssetGoneError:
        raise refusal_for(claims) or ApiError(
            401, ErrorCode.AUTH_INVALID, "This asset is no longer registered"
        ) from None
    if isinstance(result, telemetry.RateLimited):
        raise ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            "Heartbeats too frequent",
            headers={"Retry-After": str(result.retry_after)},
        )
    return result


@bp.operation(
    "/token/refresh",
    summary="Trade the refresh credential for a fresh agent JWT",
    body=RefreshRequest,
    response=RefreshResponse,
    errors=(401,),
)
def refresh_token(body: RefreshRequest) -> RefreshResponse:
    """For an agent whose JWT is near or past expiry; never creates an asset. The refresh credential
    rotates: the answer carries the next one, and the one presented stops working."""
    app = state()
    _limit(f"refresh:{client_ip()}")
    now = utcnow()
    with app.db.session() as session:
        outcome = asset_lifecycle.refresh(
            session,
            app.keys,
            body.asset_id,
            body.refresh_token,
            now,
            idle=timedelta(days=app.settings.refresh_idle_days),
            identity_secret=body.identity_secret,
            ip_address=client_ip(),
        )
        if isinstance(outcome, asset_lifecycle.Refreshed):
            asset = outcome.asset
            token, expires = issue_agent_jwt(
                app.keys,
                asset_id=asset.id,
                client_id=asset.client_id,
                site_id=asset.site_id,
                computer_name=asset.computer_name,
                now=now,
                auth_epoch=asset.auth_epoch,
            )
            return RefreshResponse(
                agent_token=token, token_expires_at=expires, refresh_token=outcome.refresh_token
            )
    # The refusal (and a revocation it caused) is committed before it is counted and answered.
    raise count_failure(outcome.code, outcome.message)


class InventoryUpload(WireModel):
    asset_id: UUIDStr
    hardware_info: HardwareInfo


class InventoryAck(WireModel):
    changed: bool = Field(description="False when the inventory equals the stored one")
    inventory_digest: str


@bp.operation(
    "/inventory",
    summary="Upload the full inventory (hardware, software, services, updates)",
    body=InventoryUpload,
    response=InventoryAck,
    auth="agent",
)
def inventory(body: InventoryUpload) -> InventoryAck:
    """Sent at registration, whenever the inventory's digest changes, and at least daily."""
    claims = require_agent()
    require_own_asset(claims, body.asset_id)
    _limit(f"inventory:{claims.asset_id}")
    app = state()
    with app.db.session() as session:
        asset = _live_asset(session, claims.asset_id)
        changed = apply_inventory(session, asset, body.hardware_info, utcnow())
        digest = asset.inventory_digest or ""
    return InventoryAck(changed=changed, inventory_digest=digest)


@bp.operation(
    "/commands/result",
    summary="Report a remote command's outcome",
    body=CommandResult,
    response=CommandResultAck,
    auth="agent",
    errors=(404,),
)
def command_result(body: CommandResult) -> CommandResultAck:
    """Exit code, capped output and times of a command this asset ran (or refused, or lost to a
    crash). Sent from the agent's outbox: a repeated result is acknowledged and ignored."""
    claims = require_agent()
    _limit(f"results:{claims.asset_id}")
    app = state()
    with app.db.session() as session:
        recorded = commands.record_result(session, claims.asset_id, body)
        if recorded is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, "No such command for this asset")
        ack = CommandResultAck(
            command_id=recorded.command.id, status=recorded.command.status, duplicate=recorded.duplicate
        )
    return ack


@bp.operation(
    "/update-status",
    summary="Report a step of installing a release (downloading, staged, installed, healthy, ...)",
    body=UpdateReport,
    response=UpdateReportAck,
    auth="agent",
    errors=(404,),
)
def update_status(body: UpdateReport) -> UpdateReportAck:
    """Sent from the agent's outbox; a repeated report (same ``report_id``) changes nothing. A
    failure or rollback counts against the rollout, which pauses itself past its threshold."""
    claims = require_agent()
    require_own_asset(claims, body.asset_id)
    _limit(f"updates:{claims.asset_id}")
    app = state()
    with app.db.session() as session:
        asset = _live_asset(session, claims.asset_id)
        try:
            recorded = releases.record_report(session, asset, body, ip_address=client_ip())
        except releases.ReleaseError as exc:
            raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from None
    if body.state in FAILED_UPDATE_STATES:
        app.rollouts.invalidate()
    return UpdateReportAck(state=recorded)


@bp.operation(
    "/patches/scan",
    summary="Send an OS update scan: every applicable update with its identity and classification",
    body=PatchScan,
    response=PatchScanAck,
    auth="agent",
    errors=(404,),
)
def patch_scan(body: PatchScan) -> PatchScanAck:
    """Sent from the agent's outbox; a repeated scan (same ``scan_id``) is stored once."""
    claims = require_agent()
    require_own_asset(claims, body.asset_id)
    _limit(f"patches:{claims.asset_id}")
    app = state()
    now = utcnow()
    with app.db.session() as session:
        asset = _live_asset(session, claims.asset_id)
        applicable = scans.record_scan(session, asset, body, now=now)
        install_now = scans.take_request(session, asset, now)
        plan = decisions.plan_for(session, asset, now, install_now=install_now)
    app.scan_requests.invalidate()
    return PatchScanAck(applicable=applicable, plan=plan)


@bp.operation(
    "/patches/report",
    summary="Report the outcome of installing updates: each update's state, the dry run, the reboot",
    body=PatchReport,
    response=PatchReportAck,
    auth="agent",
    errors=(404,),
)
def patch_report(body: PatchReport) -> PatchReportAck:
    """Sent from the agent's outbox; a repeated report (same ``report_id``) is stored once."""
    claims = require_agent()
    require_own_asset(claims, body.asset_id)
    _limit(f"patches:{claims.asset_id}")
    with state().db.session() as session:
        asset = _live_asset(session, claims.asset_id)
        recorded = reports.record_report(session, asset, body, now=utcnow())
    return PatchReportAck(recorded=recorded)


def _repository() -> ReleaseRepository:
    return ReleaseRepository(state().settings.release_folder)


def _release_file(path: object) -> Response:
    if path is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "No such release file")
    return send_file(path, conditional=True, max_age=0)  # type: ignore[arg-type]


@bp.get("/releases/metadata/<name>")
def release_metadata(name: str) -> Response:
    """The TUF metadata (``N.root.json``, ``timestamp.json``, ...): signed, so served as is."""
    claims = require_agent()
    _limit(f"release-metadata:{claims.asset_id}")
    return _release_file(_repository().metadata_file(name))


@bp.get("/releases/targets/<platform>/<name>")
def release_target(platform: str, name: str) -> Response:
    """A package by its consistent-snapshot name (``<sha256>.<file>``); ``Range`` resumes a download."""
    claims = require_agent()
    _limit(f"release-targets:{claims.asset_id}")
    return _release_file(_repository().target_file(platform, name))
