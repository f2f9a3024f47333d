"""The local channel between the agent service and the per-user tray app.

The service owns the credentials and the outbox; the tray only asks. This facade picks the OS's
module once, as :mod:`lanet.agent.collectors` does: a Unix socket on Linux and macOS
(:mod:`._unix`, peer credentials), a named pipe on Windows (:mod:`._windows`, the client's token).
The wire format and its limits are :mod:`.framing`; the operations and their rules :mod:`.service`;
one connection's handling :mod:`.connection`. The tray imports this package and nothing of the
HTTP stack.

Operations: ``status``, ``preview``, ``categories``, ``create_ticket``, ``my_tickets``,
``ticket_detail``, ``comment``, ``rate``, ``force_sync``.
"""

import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanet.agent.local.framing import NOT_RUNNING, LocalError, encode_request, read_answer

if sys.platform == "win32":
    from lanet.agent.local import _windows as _os
else:
    from lanet.agent.local import _unix as _os

if TYPE_CHECKING:
    from lanet.agent.local.service import LocalService
    from lanet.agent.paths import AgentPaths

__all__ = ["NOT_RUNNING", "PIPE_PREFIX", "LocalError", "call", "channel_address", "make_server"]

PIPE_PREFIX = "\\\\.\\pipe\\"


def channel_address(paths: "AgentPaths") -> str:
    """Where the service listens and the tray connects.

    A Unix socket ``run/agent.sock``; on Windows the pipe ``\\.\\pipe\\LANETAgent-<id>``, where the id
    comes from the run directory so agents with different ``--home`` never share a pipe.
    """
    if sys.platform == "win32":
        digest = hashlib.sha256(str(paths.run_dir).lower().encode()).hexdigest()[:12]
        return f"{PIPE_PREFIX}LANETAgent-{digest}"
    return str(paths.run_dir / "agent.sock")


def make_server(address: str, service: "LocalService") -> Any:
    """The channel's server for this OS, not started (``start()``, ``stop()``)."""
    if sys.platform == "win32":
        return _os.PipeServer(address, service)  # type: ignore[attr-defined]
    return _os.SocketServer(address, service)  # type: ignore[attr-defined]


def call(address: str | Path, op: str, args: dict[str, Any] | None = None, timeout: float = 35.0) -> Any:
    """Client side (the tray): one request; raises :class:`LocalError` with the service's message."""
    return read_answer(_os.exchange(str(address), encode_request(op, args), timeout))
