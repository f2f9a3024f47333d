"""The local channel's wire format and limits: a leaf module (standard library only), so the tray
imports it without the HTTP stack, the contract or anything of the service.

One request per connection. The client sends a header line, then exactly ``length`` bytes of JSON
arguments; the service answers one line::

    {"op": "create_ticket", "length": 1234}\\n
    {"description": "...", ...}
    -> {"ok": true, "data": ...}\\n   or   {"ok": false, "error": "..."}\\n

The header comes first so the service knows how much an operation may send before it reads any of
it: a screenshot may take megabytes, a status request a few bytes (:data:`LIMITS`).
"""

import json
from typing import Any

#: Largest header line.
MAX_HEADER = 1024
#: Largest arguments per operation (bytes of JSON); anything not listed gets DEFAULT_LIMIT.
DEFAULT_LIMIT = 16 * 1024
#: The PNG screenshot (5 MiB) as base64, with room for the ticket's text.
LIMITS: dict[str, int] = {"create_ticket": 7 * 1024 * 1024 + 64 * 1024, "comment": 64 * 1024}
#: A peer must send its whole request within this time (seconds); slower ones are cut off.
READ_TIMEOUT = 5.0

NOT_RUNNING = "el servicio LANET Agent no está en ejecución"
BUSY = "el servicio LANET Agent está ocupado; inténtelo de nuevo en un momento"


class LocalError(Exception):
    """A request the service refuses; the message is shown to the PC's user."""


def limit_of(op: str) -> int:
    return LIMITS.get(op, DEFAULT_LIMIT)


def encode_request(op: str, args: dict[str, Any] | None) -> bytes:
    body = json.dumps(args or {}, ensure_ascii=False).encode()
    header = json.dumps({"op": op, "length": len(body)}).encode()
    return header + b"\n" + body


def parse_header(line: bytes) -> tuple[str, int]:
    """``(op, length)`` from a header line; :class:`LocalError` naming the problem otherwise."""
    try:
        header = json.loads(line)
    except ValueError:
        raise LocalError("the request is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("op"), str):
        raise LocalError('send {"op": "...", "length": N} and then the arguments')
    op, length = header["op"], header.get("length", 0)
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise LocalError("length must be a whole number of bytes")
    if length > limit_of(op):
        raise LocalError(f"the request is too large for {op} ({length} bytes, at most {limit_of(op)})")
    return op, length


def parse_args(raw: bytes) -> dict[str, Any]:
    try:
        args = json.loads(raw or b"{}")
    except ValueError:
        raise LocalError("the request is not JSON") from None
    if not isinstance(args, dict):
        raise LocalError("args must be an object")
    return args


def encode_answer(data: Any = None, error: str | None = None) -> bytes:
    reply = {"ok": False, "error": error} if error is not None else {"ok": True, "data": data}
    return json.dumps(reply, ensure_ascii=False).encode() + b"\n"


def read_answer(raw: bytes) -> Any:
    """The client's side: the data, or :class:`LocalError` with the service's message."""
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        raise LocalError("the agent service answered something that is not JSON") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        message = reply.get("error") if isinstance(reply, dict) else None
        raise LocalError(message or "no answer from the agent service")
    return reply.get("data")
