"""The local channel between the agent service and the per-user tray app.

The service owns the credentials and the outbox; the tray only asks. This facade picks the OS's
module once, as :mod:`lanet.agent.collectors` does: a Unix socket on Linux and macOS
(:mod:`._unix`, peer credentials), a named pipe on Windows (:mod:`._windows`, the client's token).
The wire format and its limits are :mod:`.framing`; the operations and their rules :mod:`.service`;
one connection's handling :mod:`.connection`. The tray imports this package and nothing of the
HTTP stack.

Operations: ``status``, ``preview``, ``categories``, ``create_ticket``, ``my_tickets``,
``ticket_detail``, ``comment``, ``rate``, ``force_sync``, ``reboot_now``, ``reboot_later``.
"""

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanet.agent.local.framing import NOT_RUNNING, LocalError, encode_request, read_answer

if sys.platform == "win32":
    from lanet.agent.local import _windows as _os
else:
    from lanet.agent.local import _unix as _os

if TYPE_CHECKING:
    from collections.abc import Callable

    from lanet.agent.local.service import LocalService, RebootDesk, TicketDesk
    from lanet.agent.paths import AgentPaths

__all__ = ["NOT_RUNNING", "LocalError", "call", "channel_address", "make_server", "serve_tray"]


def channel_address(paths: "AgentPaths") -> str:
    """Where the service listens and the tray connects: a Unix socket ``run/agent.sock``, or on
    Windows the pipe ``LANETAgent-<id>`` named after the run directory."""
    return _os.address(paths.run_dir)


def make_server(address: str, service: "LocalService") -> Any:
    """The channel's server for this OS, not started (``start()``, ``stop()``)."""
    return _os.Server(address, service)


def serve_tray(
    address: str,
    desk: "TicketDesk",
    status: "Callable[[], dict[str, Any]]",
    request_sync: "Callable[[], None]",
    reboots: "RebootDesk | None" = None,
) -> Any:
    """Start the service's side of the channel; None (logged) when it cannot (the service runs on
    without a tray rather than not at all)."""
    from lanet.agent.local.service import LocalService

    try:
        server = make_server(address, LocalService(desk, status, request_sync, reboots=reboots))
    except Exception as exc:  # OSError, or pywintypes.error for the pipe
        logging.getLogger("lanet.agent.local").warning("the tray channel could not start: %s", exc)
        return None
    server.start()
    return server


def call(address: str | Path, op: str, args: dict[str, Any] | None = None, timeout: float = 35.0) -> Any:
    """Client side (the tray): one request; raises :class:`LocalError` with the service's message."""
    return read_answer(_os.exchange(str(address), encode_request(op, args), timeout))
