"""Sizes, caps and labels of the wire contract that need no validation library.

The agent's service imports only plain modules at run time (see :mod:`lanet.protocol.contract`), so
the constants both sides share live here and the pydantic models re-export them.
"""

import math
import re
from datetime import UTC, datetime
from typing import Any

#: Output kept per stream of a remote script; the agent truncates beyond it and says so.
MAX_OUTPUT_CHARS = 64 * 1024

#: A patch policy's pre- or post-install script, and the output of each run kept in the report.
MAX_PATCH_SCRIPT_CHARS = 64 * 1024
MAX_PATCH_SCRIPT_OUTPUT = 4000
MAX_PATCH_SCRIPT_TIMEOUT = 3600

#: The largest screenshot a ticket may carry (PNG bytes, before base64).
MAX_SCREENSHOT_BYTES = 5 * 1024 * 1024

#: Updates one patch scan lists; the agent cuts a longer list and says so in the scan's error.
MAX_SCAN_ITEMS = 5000

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


#: The instants a timestamp on the wire may name. Wider than any real event, narrower than what
#: Python's datetime and both databases hold, so converting to UTC can never overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def instant_in_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC); ValueError when out of range."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 once in UTC
        raise ValueError("timestamp out of range: use a date between 1970 and 9998") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("timestamp out of range: use a date between 1970 and 9998")
    return utc


#: The JSON Schema keyword that marks a free-form value (the agent's contract checks it too).
FREE_JSON_KEYWORD = "x-lanet-free-json"
#: Free-form JSON (a ticket's technical information, a configuration value) nests at most this deep.
MAX_JSON_DEPTH = 16
#: ... and holds at most this many values, so a small body cannot cost a large amount of work.
MAX_JSON_NODES = 20_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_free_json(value: Any) -> Any:
    """What any storage holds: bounded nesting and size, 64-bit integers, finite numbers.

    PostgreSQL's JSONB refuses NaN and Infinity, SQLite's JSON functions read integers as 64-bit, and
    a value nested hundreds deep cannot be rendered back without recursion limits. Walked without
    recursion, so the check itself cannot overflow the stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            raise ValueError(f"holds more than {MAX_JSON_NODES} values")
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise ValueError("holds an integer beyond 64 bits")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("holds a number that is not finite (NaN or Infinity)")
        else:
            raise ValueError(f"holds a {type(item).__name__}, which is not JSON")
    return value


#: A patch's identity: ``UpdateID`` GUIDs, ``<package>=<version>`` (Debian versions carry ``:+~``),
#: dnf's NEVRA (RPM snapshot versions carry ``^``). Here, not with the models, so the agent's
#: service (which never loads pydantic) checks the same rule.
UPDATE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:+~=@{}^-]{0,159}$"
