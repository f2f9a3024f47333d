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


#: Words that make up the passwords people choose first (NIST SP 800-63B asks to refuse "commonly
#: used, expected, or compromised" values). Compared after lower-casing, undoing the usual
#: letter-for-digit swaps and dropping digits and symbols, so "P@ssw0rd2024!" is "password".
COMMON_WORDS = frozenset(
    (
        "password",
        "passw0rd",
        "contrasena",
        "contraseña",
        "clave",
        "secreto",
        "secreta",
        "admin",
        "administrador",
        "administrator",
        "root",
        "usuario",
        "user",
        "qwerty",
        "qwertyuiop",
        "asdfghjkl",
        "zxcvbnm",
        "welcome",
        "bienvenido",
        "bienvenida",
        "iloveyou",
        "teamo",
        "teamomucho",
        "mexico",
        "lanet",
        "helpdesk",
        "soporte",
        "sistemas",
        "cafe",
        "letmein",
        "monkey",
        "dragon",
        "football",
        "futbol",
        "america",
        "chivas",
        "amor",
        "princesa",
        "tequiero",
        "abc",
        "abcdef",
        "abcdefgh",
        "abcdefghij",
        "qwe",
        "qwer",
        "asd",
    )
)
#: Keyboard and alphabet runs: a password that is a stretch of one of these (either way) is a pattern.
SEQUENCES = (
    "01234567890123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1q2w3e4r5t6y7u8i9o0p",
    "qazwsxedcrfvtgbyhnujmikolp",
)
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
MIN_DISTINCT = 5
_DECORATION = "0123456789!@#$%^&*()-_=+.,;:?¿¡ '\"/\\|[]{}<>~`"


def _is_repetition(text: str) -> bool:
    """``aaaaaaaaaa``, ``abcabcabca``, ``1212121212``: one short unit over and over."""
    for size in range(1, len(text) // 2 + 1):
        unit = text[:size]
        if (unit * (len(text) // size + 1))[: len(text)] == text:
            return True
    return False


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` may not be used, or None: too short or long, spaces at the ends, fewer than
    five different characters, one unit repeated, a run of the keyboard or the alphabet, a common
    word dressed up with digits and symbols, or the account's own e-mail name."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > 1024:
        return "the password must have at most 1024 characters"
    if password.strip() != password:
        return "the password must not start or end with spaces"
    lowered = password.lower()
    if len(set(lowered)) < MIN_DISTINCT or _is_repetition(lowered):
        return "the password is too repetitive: use a phrase of several words"
    if any(lowered in run or lowered in run[::-1] for run in SEQUENCES):
        return "the password is a keyboard or alphabet sequence: use a phrase of several words"
    core = lowered.strip(_DECORATION)  # "Contraseña2024!" -> "contraseña"
    letters = "".join(ch for ch in core.translate(_LEET) if ch.isalpha())
    if not letters or letters in COMMON_WORDS or _is_repetition(letters):
        return "the password is too common: use a phrase of several words"
    local = (email or "").split("@")[0].lower()
    if len(local) >= 4 and local in lowered:
        return "the password must not contain the e-mail address"
    return None


def generate_password() -> str:
    """A random password for ``--generate``: 20 url-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


@cache
def dummy_hash() -> str:
    """A hash no password matches, checked when the e-mail is unknown so both answers take as long."""
    return hash_password(secrets.token_urlsafe(16))
