"""Secrets the server hands out or checks: install-token digests, agent JWTs, refresh credentials.

Each use derives its own key from the server secret, so a key leaked from one use (say, a JWT key
exposed by a misconfigured proxy log) does not forge the others. Digests are HMAC-SHA256, name the
key that made them, and are compared in constant time.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from pydantic import ValidationError

from lanet.protocol.claims import AGENT_JWT_LIFETIME, AgentClaims
from lanet.protocol.errors import ErrorCode

JWT_ALGORITHM = "HS256"
#: Separates the key id from the digest: ``"3f9a0c1e:<64 hex>"``. Digests stored before keys were
#: versioned have no prefix and are tried against every key the server holds.
KID_SEPARATOR = ":"


class Purpose(StrEnum):
    """What a derived key is for; the value is the HMAC label it is derived with."""

    INSTALL_TOKEN = "lanet/install-token"  # noqa: S105 (a label, not a secret)
    REFRESH_TOKEN = "lanet/refresh-token"  # noqa: S105 (a label, not a secret)
    API_KEY = "lanet/api-key"
    AGENT_IDENTITY = "lanet/agent-identity"


class _Derived:
    """The per-purpose keys of one server secret, and the id that names that secret.

    The id is a fingerprint of the secret (as a JWK thumbprint names a key), so the operator never
    numbers keys by hand and two servers with the same secret agree on it.
    """

    def __init__(self, secret: str) -> None:
        master = secret.encode()
        self.kid = hmac.new(master, b"lanet/key-id", hashlib.sha256).hexdigest()[:8]
        self.jwt = hmac.new(master, b"lanet/agent-jwt", hashlib.sha256).digest()
        self._keys = {p: hmac.new(master, p.value.encode(), hashlib.sha256).digest() for p in Purpose}

    def bare(self, purpose: Purpose, value: str) -> str:
        return hmac.new(self._keys[purpose], value.encode(), hashlib.sha256).hexdigest()

    def versioned(self, purpose: Purpose, value: str) -> str:
        return f"{self.kid}{KID_SEPARATOR}{self.bare(purpose, value)}"


class Keys:
    """Per-purpose keys derived from the server secret, and from the secrets it replaced.

    Every digest made here records the id of the key that made it, and every JWT carries it as
    ``kid``, so ``LANET_SECRET_KEY`` can be rotated without invalidating every credential at once:
    the previous secrets (``LANET_PREVIOUS_SECRET_KEYS``) still verify what they made, new
    credentials use the current one, and each credential moves to the current key the next time it
    is used (a refresh rotates the agent's credential; a token or API key is re-digested when
    presented). ``lanet-server secret-key status`` counts what each key still holds, so the operator
    knows when an old secret can be dropped.
    """

    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        self.current = _Derived(secret)
        self.previous = tuple(_Derived(old) for old in previous)
        self.all = (self.current, *self.previous)
        kids = [derived.kid for derived in self.all]
        if len(set(kids)) != len(kids):
            raise ValueError("the previous secret keys repeat the current key or each other")
        self._by_kid = {derived.kid: derived for derived in self.all}

    @property
    def kid(self) -> str:
        """The id of the current key."""
        return self.current.kid

    @property
    def jwt(self) -> bytes:
        """The current key agent JWTs are signed with."""
        return self.current.jwt

    def jwt_key(self, kid: str | None) -> bytes | None:
        """The key a JWT names; a JWT from before keys were versioned names none: the current one."""
        if kid is None:
            return self.current.jwt
        derived = self._by_kid.get(kid)
        return derived.jwt if derived is not None else None

    def digest(self, purpose: Purpose, value: str) -> str:
        """The digest to store: made with the current key, which it names."""
        return self.current.versioned(purpose, value)

    def candidates(self, purpose: Purpose, value: str) -> list[str]:
        """Every digest ``value`` may be stored under, for lookups by digest (``IN (...)``)."""
        return [d.versioned(purpose, value) for d in self.all] + [d.bare(purpose, value) for d in self.all]

    def matches(self, purpose: Purpose, presented: str, stored: str | None) -> bool:
        """Whether ``presented`` is what ``stored`` was made from, in constant time per key."""
        if not stored:
            return False
        kid, separator, _ = stored.partition(KID_SEPARATOR)
        if separator:
            derived = self._by_kid.get(kid)
            return derived is not None and hmac.compare_digest(derived.versioned(purpose, presented), stored)
        return any(hmac.compare_digest(d.bare(purpose, presented), stored) for d in self.all)

    def is_current(self, stored: str | None) -> bool:
        """Whether a stored digest was made with the current key."""
        return bool(stored) and str(stored).startswith(self.current.kid + KID_SEPARATOR)

    def install_digest(self, token: str) -> str:
        return self.digest(Purpose.INSTALL_TOKEN, token)

    def api_key_digest(self, key: str) -> str:
        return self.digest(Purpose.API_KEY, key)

    def refresh_digest(self, token: str) -> str:
        return self.digest(Purpose.REFRESH_TOKEN, token)

    def identity_digest(self, secret: str) -> str:
        return self.digest(Purpose.AGENT_IDENTITY, secret)


def kid_of(stored: str | None) -> str | None:
    """The key id a stored digest names; None for an unversioned (older) digest or none at all."""
    if not stored:
        return None
    kid, separator, _ = stored.partition(KID_SEPARATOR)
    return kid if separator else None


def new_refresh_token() -> str:
    return "lrt_" + secrets.token_urlsafe(32)


def digest_matches(presented_digest: str, stored_digest: str | None) -> bool:
    """Constant-time comparison of two digests; nothing stored matches nothing."""
    if not stored_digest:
        return False
    return hmac.compare_digest(presented_digest, stored_digest)


def refresh_matches(keys: Keys, presented: str, stored_digest: str | None) -> bool:
    return keys.matches(Purpose.REFRESH_TOKEN, presented, stored_digest)


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
    token = jwt.encode(claims.model_dump(), keys.jwt, algorithm=JWT_ALGORITHM, headers={"kid": keys.kid})
    return token, expires


class AgentAuthError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def verify_agent_jwt(keys: Keys, token: str, leeway: timedelta = timedelta(seconds=30)) -> AgentClaims:
    """Check signature, expiry and the claim set; raise :class:`AgentAuthError` naming the problem."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise AgentAuthError(ErrorCode.AUTH_INVALID, "The agent token is not valid") from None
    key = keys.jwt_key(kid) if kid is None or isinstance(kid, str) else None
    if key is None:
        raise AgentAuthError(
            ErrorCode.AUTH_INVALID, "The agent token was signed with a key this server no longer holds"
        )
    try:
        payload = jwt.decode(
            token,
            key,
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
