"""Agent authentication: the ``Authorization: Bearer <agent JWT>`` header.

Failed attempts are counted per client address; past the limit the answer is 429 instead of 401, so
guessing tokens from one address gets slow without costing valid agents a database read.
"""

from flask import request

from lanet.protocol.claims import AgentClaims
from lanet.protocol.errors import ErrorCode
from lanet.server.api.errors import ApiError
from lanet.server.models.base import utcnow
from lanet.server.services import ratelimit
from lanet.server.services.credentials import AgentAuthError, verify_agent_jwt
from lanet.server.state import state


def client_ip() -> str | None:
    return request.remote_addr


def count_failure(code: ErrorCode, message: str) -> ApiError:
    """Count an authentication failure for the caller's address; the error to raise."""
    app = state()
    with app.db.engine.begin() as conn:
        verdict = ratelimit.hit(conn, f"authfail:{client_ip()}", app.settings.auth_failure_rate, utcnow())
    if not verdict.allowed:
        return ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            "Too many failed authentication attempts from this address",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="lanet-agent"'})


def require_agent() -> AgentClaims:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise count_failure(
            ErrorCode.AUTH_REQUIRED, "Send the agent token as 'Authorization: Bearer <token>'"
        )
    try:
        return verify_agent_jwt(state().keys, token.strip())
    except AgentAuthError as exc:
        raise count_failure(exc.code, exc.message) from None


def require_own_asset(claims: AgentClaims, asset_id: str) -> None:
    """An agent's token reaches only its own asset."""
    if claims.asset_id != asset_id:
        raise ApiError(403, ErrorCode.ASSET_MISMATCH, "asset_id does not match the agent token")
