"""Agent authentication: the ``Authorization: Bearer <agent JWT>`` header.

Failed attempts are counted per client address; past the limit the answer is 429 instead of 401, so
guessing tokens from one address gets slow without costing valid agents a database read.
"""

from flask import g, request
from sqlalchemy import select

from lanet.protocol.claims import AgentClaims
from lanet.protocol.errors import ErrorCode
from lanet.server.api.errors import ApiError
from lanet.server.api.operations import authenticator
from lanet.server.models import Asset
from lanet.server.models.base import table_of, utcnow
from lanet.server.services import ratelimit
from lanet.server.services.credentials import AgentAuthError, verify_agent_jwt
from lanet.server.settings import RateLimit
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


@authenticator("agent")
def agent_claims() -> AgentClaims:
    """The verified claims of the request's agent JWT (signature, expiry, claim set), once per
    request; 401 without them. The asset's own state is :func:`refusal_for`'s to check."""
    cached: AgentClaims | None = g.get("agent_claims")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise count_failure(
            ErrorCode.AUTH_REQUIRED, "Send the agent token as 'Authorization: Bearer <token>'"
        )
    try:
        claims = verify_agent_jwt(state().keys, token.strip())
    except AgentAuthError as exc:
        raise count_failure(exc.code, exc.message) from None
    g.agent_claims = claims
    return claims


def require_agent(*, asset_checked_by_caller: bool = False) -> AgentClaims:
    """The caller's verified claims; its asset must exist, be in service, and not have been
    registered again or revoked since the JWT was issued. The heartbeat folds that check into its
    own statement (``asset_checked_by_caller``) and asks :func:`refusal_for` only when it fails."""
    claims = agent_claims()
    if not asset_checked_by_caller:
        problem = refusal_for(claims)
        if problem is not None:
            raise problem
    return claims


def refusal_for(claims: AgentClaims) -> ApiError | None:
    """Why a well-signed JWT no longer admits its agent, or None when it does."""
    assets = table_of(Asset)
    with state().db.engine.connect() as conn:
        row = conn.execute(
            select(assets.c.retired_at, assets.c.auth_epoch).where(assets.c.id == claims.asset_id)
        ).first()
    if row is None:
        return count_failure(ErrorCode.AUTH_INVALID, "This asset is no longer registered")
    if row.retired_at is not None:
        return count_failure(ErrorCode.ASSET_RETIRED, "This asset was retired")
    if claims.iat < row.auth_epoch:
        return count_failure(
            ErrorCode.AUTH_INVALID, "This agent token was replaced by a newer registration or revoked"
        )
    return None


def require_own_asset(claims: AgentClaims, asset_id: str) -> None:
    """An agent's token reaches only its own asset."""
    if claims.asset_id != asset_id:
        raise ApiError(403, ErrorCode.ASSET_MISMATCH, "asset_id does not match the agent token")


def rate_limit(key: str, limit: RateLimit, message: str = "Too many requests") -> None:
    """Count a request against ``key``; 429 with ``Retry-After`` past ``limit``."""
    app = state()
    with app.db.engine.begin() as conn:
        verdict = ratelimit.hit(conn, key, limit, utcnow())
    if not verdict.allowed:
        raise ApiError(
            429, ErrorCode.RATE_LIMITED, message, headers={"Retry-After": str(verdict.retry_after)}
        )
