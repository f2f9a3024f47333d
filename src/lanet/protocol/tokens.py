"""Install-token format, as the seed defines it: ``LANET-{CLIENT_CODE}-{SITE_CODE}-{RANDOM}``."""

import re
import secrets

TOKEN_PATTERN = r"^LANET-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{6}$"  # noqa: S105 - a pattern, not a secret
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CODE_PATTERN = r"^[A-Z0-9]{4}$"


def validate_token_format(token: str) -> bool:
    """Return True when ``token`` has the seed's install-token form (the seed's own function)."""
    return _TOKEN_RE.match(token) is not None


def new_token(client_code: str, site_code: str) -> str:
    """Make a fresh install token for a client and site code (each four of ``[A-Z0-9]``).

    The random part has 36**6 (about 2**31) values: guessing is stopped by the server's rate limit on
    registration and by the client/site prefix having to match too.
    """
    if not re.match(CODE_PATTERN, client_code) or not re.match(CODE_PATTERN, site_code):
        raise ValueError("client and site codes must be four characters of A-Z and 0-9")
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"LANET-{client_code}-{site_code}-{tail}"


def token_hint(token: str) -> str:
    """A display form that identifies a token without revealing it: ``LANET-550E-660E-••••F9``."""
    if not validate_token_format(token):
        return "LANET-????"
    return token[:16] + "****" + token[-2:]
