"""Secrets the server hands out or checks: install-token digests, agent JWTs, refresh credentials.

Each use derives its own key from the server secret, so a key leaked from one use (say, a JWT key
exposed by a misconfigured proxy log) does not forge the others. Digests are HMAC-SHA256 and are
compared in constant time.
"""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from pydantic import ValidationError

from lanet.protocol.claims import AGENT_JWT_LIFETIME, AgentClaims
from lanet.protocol.errors import ErrorCode

JWT_ALGORITHM = "HS256"


class Keys:
    """Per-purpose keys derived from the server secret."""

    def __init__(self, secret: str) -> None:
        master = secret.encode()
        self._install = hmac.new(master, b"lanet/install-token", hashlib.sha256).digest()
        self._refresh = hmac.new(master, b"lanet/refresh-token", hashlib.sha256).digest()
        self._api = hmac.new(master, b"lanet/api-key", hashlib.sha256).digest()
        self._identity = hmac.new(master, b"lanet/agent-identity", hashlib.sha256).digest()
        self.jwt = hmac.new(master, b"lanet/agent-jwt", hashlib.sha256).digest()

    def install_digest(self, token: str) -> str:
        return hmac.new(self._install, token.encode(), hashlib.sha256).hexdigest()

    def api_key_digest(self, key: str) -> str:
        return hmac.new(self._api, key.encode(), hashlib.sha256).hexdigest()

    def refresh_digest(self, token: str) -> str:
        return hmac.new(self._refresh, token.encode(), hashlib.sha256).hexdigest()

    def identity_digest(self, secret: str) -> str:
        return hmac.new(self._identity, secret.encode(), hashlib.sha256).hexdigest()


def new_refresh_token() -> str:
    return "lrt_" + secrets.token_urlsafe(32)


def digest_matches(presented_digest: str, stored_digest: str | None) -> bool:
    """Constant-time comparison of two digests; nothing stored matches nothing."""
    if not stored_digest:
        return False
    return hmac.compare_digest(presented_digest, stored_digest)


def refresh_matches(keys: Keys, presented: str, stored_digest: str | None) -> bool:
    return digest_matches(keys.refresh_digest(presented), stored_digest)


def issue_agent_jwt(
    keys: Keys,
    *,
    asset_id: str,
    client_id: str,
    site_id: str,
    computer_name: str,
    now: datetime,
    auth_epoch: int = 0,
) -> tuple[str, datetime]:
    """Sign the seed's claims; returns the token and its expiry.

    ``iat`` is never before the asset's ``auth_epoch``: a registration moves the epoch past every JWT
    issued before it (even one issued in the same second), and the new JWT starts at the epoch.
    """
    issued = max(int(now.timestamp()), auth_epoch)
    expires = datetime.fromtimestamp(issued, UTC) + AGENT_JWT_LIFETIME
    claims = AgentClaims(
        asset_id=asset_id,
        client_id=client_id,
        site_id=site_id,
        computer_name=computer_name,
        type="agent",
        iat=issued,
        exp=int(expires.timestamp()),
    )
    return jwt.encode(claims.model_dump(), keys.jwt, algorithm=JWT_ALGORITHM), expires


class AgentAuthError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def verify_agent_jwt(keys: Keys, token: str, leeway: timedelta = timedelta(seconds=30)) -> AgentClaims:
    """Check signature, expiry and the claim set; raise :class:`AgentAuthError` naming the problem."""
    try:
        payload = jwt.decode(
            token,
            keys.jwt,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "type"]},
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError:
        raise AgentAuthError(ErrorCode.AUTH_EXPIRED, "The agent token has expired; refresh it") from None
    except jwt.PyJWTError:
        raise AgentAuthError(ErrorCode.AUTH_INVALID, "The agent token is not valid") from None
    try:
        claims = AgentClaims.model_validate(payload)
    except ValidationError:
        raise AgentAuthError(ErrorCode.AUTH_INVALID, "The token is not an agent token") from None
    return claims


def next_epoch(current: int, now: datetime) -> int:
    """An ``auth_epoch`` after every JWT issued so far for the asset (they all have ``iat`` <= current
    epoch or <= now)."""
    return max(current + 1, int(now.timestamp()) + 1)


def expires_after(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now + timedelta(days=days)
