"""Password hashing for portal users: scrypt (RFC 7914) from the standard library.

Parameters follow OWASP's current guidance for scrypt (N=2^17, r=8, p=1: 128 MiB and about a tenth
of a second per check here), stored with each hash so they can be raised later without breaking the
existing ones: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``.
"""

import base64
import hashlib
import hmac
import os
import secrets
from functools import cache

N, R, P = 2**17, 8, 1
_KEY_BYTES = 32
MIN_LENGTH = 10


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=n * r * 129 + 2**20, dklen=_KEY_BYTES
    )


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _derive(password, salt, N, R, P)
    encode = base64.b64encode
    return f"scrypt${N}${R}${P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check; a malformed stored value never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > 1024:
        return "the password must have at most 1024 characters"
    if password.strip() != password:
        return "the password must not start or end with spaces"
    return None


def generate_password() -> str:
    """A random password for ``--generate``: 20 url-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


@cache
def dummy_hash() -> str:
    """A hash no password matches, checked when the e-mail is unknown so both answers take as long."""
    return hash_password(secrets.token_urlsafe(16))
