"""Health and the API document."""

from flask import Response, current_app

import lanet
from lanet.protocol.common import WireModel
from lanet.protocol.errors import ErrorCode
from lanet.server.api.errors import ApiError
from lanet.server.api.operations import ApiBlueprint, build_openapi, json_response
from lanet.server.state import state

bp = ApiBlueprint("meta", __name__, url_prefix="/api", tag="meta")


class Health(WireModel):
    status: str
    database: str
    version: str


@bp.operation("/health", "GET", summary="Liveness and database reachability", response=Health, errors=(503,))
def health() -> Health:
    """200 when the database answers, 503 otherwise."""
    if not state().db.ping():
        raise ApiError(503, ErrorCode.UNAVAILABLE, "The database is not reachable")
    return Health(status="ok", database="ok", version=lanet.__version__)


@bp.route("/openapi.json")
def openapi() -> Response:
    return json_response(build_openapi(current_app))
