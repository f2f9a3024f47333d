"""One connection of the local channel, whatever carries it (Unix socket, named pipe).

Slow or hostile local peers cost the service little: at most :data:`MAX_CONNECTIONS` are served at
once (the rest are told the service is busy, at once), a request must arrive whole within
:data:`~lanet.agent.local.framing.READ_TIMEOUT`, its size is checked against its operation's limit
before it is read, and only one large request (a ticket with a screenshot) is read at a time, which
bounds the memory a flood can take to about one screenshot.
"""

import logging
import threading
import time
from collections.abc import Callable

from lanet.agent.local.framing import (
    BUSY,
    DEFAULT_LIMIT,
    MAX_HEADER,
    READ_TIMEOUT,
    LocalError,
    encode_answer,
    parse_args,
    parse_header,
)
from lanet.agent.local.service import Caller, LocalService

log = logging.getLogger("lanet.agent.local")

#: Connections served at once; more are answered "busy".
MAX_CONNECTIONS = 8

#: ``recv(max_bytes, timeout)``: up to ``max_bytes`` (b"" when the peer closed); raises TimeoutError.
Receive = Callable[[int, float], bytes]


class Gate:
    """How many connections, and large requests, are being served right now."""

    def __init__(self, connections: int = MAX_CONNECTIONS) -> None:
        self.connections = threading.BoundedSemaphore(connections)
        self.large = threading.Lock()


def _read(
    receive: Receive, deadline: float, *, until_newline: int = 0, exactly: int = 0, first: bytes = b""
) -> tuple[bytes, bytes]:
    """Bytes up to a newline (at most ``until_newline``) or ``exactly`` bytes, before ``deadline``;
    returns (what was asked, what came after it)."""
    data = bytearray(first)
    while True:
        if until_newline:
            cut = data.find(b"\n")
            if cut >= 0:
                return bytes(data[:cut]), bytes(data[cut + 1 :])
            if len(data) > until_newline:
                raise LocalError("the request header is too long")
        elif len(data) >= exactly:
            return bytes(data[:exactly]), bytes(data[exactly:])
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        chunk = receive(65536, left)
        if not chunk:
            if until_newline:
                return bytes(data), b""  # a client that closed after its line, or sent nothing
            raise LocalError("the request ended early")
        data += chunk


def serve(receive: Receive, caller: Callable[[], Caller], service: LocalService, gate: Gate) -> bytes:
    """Read one request and return the answer line to write (never raises)."""
    deadline = time.monotonic() + READ_TIMEOUT
    try:
        line, rest = _read(receive, deadline, until_newline=MAX_HEADER)
        op, length = parse_header(line)
        if length > DEFAULT_LIMIT:
            if not gate.large.acquire(timeout=READ_TIMEOUT):
                return encode_answer(error=BUSY)
            try:
                raw, _ = _read(receive, deadline, exactly=length, first=rest)
                return service.handle(caller(), op, parse_args(raw))
            finally:
                gate.large.release()
        raw, _ = _read(receive, deadline, exactly=length, first=rest)
        return service.handle(caller(), op, parse_args(raw))
    except LocalError as exc:
        return encode_answer(error=str(exc))
    except TimeoutError:
        return encode_answer(error="the request did not arrive in time")
    except Exception:  # identifying the caller failed in a way of the OS's own: still an answer
        log.exception("a local request could not be served")
        return encode_answer(error="internal error in the agent service")
