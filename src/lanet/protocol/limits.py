"""Sizes, caps and labels of the wire contract that need no validation library.

The agent's service imports only plain modules at run time (see :mod:`lanet.protocol.contract`), so
the constants both sides share live here and the pydantic models re-export them.
"""

import re

#: Output kept per stream of a remote script; the agent truncates beyond it and says so.
MAX_OUTPUT_CHARS = 64 * 1024

#: The largest screenshot a ticket may carry (PNG bytes, before base64).
MAX_SCREENSHOT_BYTES = 5 * 1024 * 1024

#: The smallest ``logging.max_size`` accepted: below it a rotating log would rotate on every line.
MIN_LOG_FILE_SIZE = 4096

#: Ticket category id -> (es-MX label, English label). Ids are stable slugs; labels are for people.
CATEGORIES: dict[str, tuple[str, str]] = {
    "hardware": ("Hardware", "Hardware"),
    "software": ("Software", "Software"),
    "red": ("Red e Internet", "Network and Internet"),
    "impresora": ("Impresora", "Printer"),
    "correo": ("Correo electrónico", "Email"),
    "accesos": ("Accesos y contraseñas", "Access and passwords"),
    "otro": ("Otro", "Other"),
}

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3}


def parse_size(text: str) -> int:
    """Turn the seed's ``"10MB"`` style into bytes (binary units, as log rotation tools use)."""
    match = _SIZE_RE.match(text)
    if not match or match.group(2).upper() not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size such as '10MB', '512KB' or '1GB'")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])


def check_log_size(text: str) -> str:
    """``logging.max_size`` rule the JSON Schema cannot say: readable and at least 4KB."""
    if parse_size(text) < MIN_LOG_FILE_SIZE:
        raise ValueError("must be at least 4KB")
    return text
