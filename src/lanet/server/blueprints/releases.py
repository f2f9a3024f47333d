"""The technicians' API for agent releases: list them, roll them out, pause, resume, and see each
asset's state. Publishing is not here on purpose: it needs the offline release key, which the
server never holds (``lanet-server releases publish`` on the operator's machine)."""

from typing import Annotated

from pydantic import Field

from lanet.protocol.common import Timestamp, WireModel
from lanet.protocol.errors import ErrorCode
from lanet.protocol.values import ReleasePlatform, UpdateState
from lanet.server.api.errors import ApiError
from lanet.server.api.operations import ApiBlueprint
from lanet.server.blueprints.admin import require_technician
from lanet.server.services.releases import operations
from lanet.server.state import state

bp = ApiBlueprint("releases", __name__, url_prefix="/api/admin/releases", tag="technicians")

Name = Annotated[str, Field(min_length=1, max_length=255)]


class RolloutView(WireModel):
    client: str | None
    site: str | None
    percent: int
    now: bool
    paused: bool
    paused_reason: str | None
    failure_threshold: float
    summary: str


class ReleaseView(WireModel):
    version: str
    platform: ReleasePlatform
    target: str
    length: int
    sha256: str
    rollback: bool
    published_at: Timestamp
    rollouts: list[RolloutView]


class ReleaseList(WireModel):
    items: list[ReleaseView]


class RolloutRequest(WireModel):
    percent: Annotated[int, Field(ge=0, le=100)]
    client: Name | None = None
    site: Name | None = None
    now: bool = False
    failure_threshold: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = (
        operations.DEFAULT_FAILURE_THRESHOLD
    )


class PauseRequest(WireModel):
    reason: str | None = Field(default=None, max_length=500)


class RolloutDone(WireModel):
    version: str
    rollouts: list[RolloutView]


class AssetStateView(WireModel):
    asset_id: str
    computer_name: str
    client: str
    site: str
    platform: str
    state: UpdateState
    reason: str | None
    from_version: str | None
    running_version: str | None
    updated_at: Timestamp | None


class ReleaseStatus(WireModel):
    version: str
    rollouts: list[RolloutView]
    assets: list[AssetStateView]


def _refused(exc: operations.ReleaseError) -> ApiError:
    text = str(exc)
    status = 404 if text.startswith(("no release", "no client", "client ")) else 422
    return ApiError(status, ErrorCode.NOT_FOUND if status == 404 else ErrorCode.VALIDATION_ERROR, text)


@bp.operation(
    "", "GET", summary="Published releases and their rollouts", response=ReleaseList, auth="technician"
)
def list_releases() -> ReleaseList:
    require_technician()
    with state().db.session() as session:
        items = [
            ReleaseView(
                version=r.version,
                platform=r.platform,  # type: ignore[arg-type]
                target=r.target,
                length=r.length,
                sha256=r.sha256,
                rollback=r.rollback,
                published_at=r.published_at,
                rollouts=[RolloutView(**operations.describe(session, x)) for x in rollouts],  # type: ignore[arg-type]
            )
            for r, rollouts in operations.list_releases(session)
        ]
    return ReleaseList(items=items)


@bp.operation(
    "/<version>/rollout",
    summary="Offer a release to a share of the fleet, a client or a site",
    body=RolloutRequest,
    response=RolloutDone,
    auth="technician",
    errors=(404,),
)
def rollout(version: str, body: RolloutRequest) -> RolloutDone:
    actor = require_technician()
    with state().db.session() as session:
        try:
            done = operations.rollout(
                session,
                version,
                percent=body.percent,
                client_name=body.client,
                site_name=body.site,
                now=body.now,
                failure_threshold=body.failure_threshold,
                actor=actor,
            )
        except operations.ReleaseError as exc:
            raise _refused(exc) from None
        views = [RolloutView(**operations.describe(session, x)) for x in done]  # type: ignore[arg-type]
    state().rollouts.invalidate()
    return RolloutDone(version=version, rollouts=views)


def _pause(version: str, paused: bool, reason: str | None) -> RolloutDone:
    actor = require_technician()
    with state().db.session() as session:
        try:
            operations.set_paused(session, version, paused, actor=actor, reason=reason)
            _releases, rollouts, _states = operations.status(session, version)
        except operations.ReleaseError as exc:
            raise _refused(exc) from None
        views = [RolloutView(**operations.describe(session, x)) for x in rollouts]  # type: ignore[arg-type]
    state().rollouts.invalidate()
    return RolloutDone(version=version, rollouts=views)


@bp.operation(
    "/<version>/pause",
    summary="Stop offering a version",
    body=PauseRequest,
    response=RolloutDone,
    auth="technician",
    errors=(404,),
)
def pause(version: str, body: PauseRequest) -> RolloutDone:
    return _pause(version, True, body.reason)


@bp.operation(
    "/<version>/resume",
    summary="Offer a paused version again",
    response=RolloutDone,
    auth="technician",
    errors=(404,),
)
def resume(version: str) -> RolloutDone:
    return _pause(version, False, None)


@bp.operation(
    "/<version>",
    "GET",
    summary="Each asset's state with a version, and why",
    response=ReleaseStatus,
    auth="technician",
    errors=(404,),
)
def release_status(version: str) -> ReleaseStatus:
    require_technician()
    with state().db.session() as session:
        try:
            _releases, rollouts, states = operations.status(session, version)
        except operations.ReleaseError as exc:
            raise _refused(exc) from None
        views = [RolloutView(**operations.describe(session, x)) for x in rollouts]  # type: ignore[arg-type]
    return ReleaseStatus(
        version=version,
        rollouts=views,
        assets=[AssetStateView(**s.__dict__) for s in states],
    )
