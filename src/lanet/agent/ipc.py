"""The local channel between the agent service and the per-user tray app.

The service owns the credentials and the outbox; the tray only asks. On Linux and macOS it is a Unix
socket that the desktop user can reach (the PC's user is who reports problems); on Windows a named
pipe that interactive users may open (:mod:`lanet.agent.ipc_windows`). One JSON request per
connection, one JSON answer, each on one line:
``{"op": "...", "args": {...}}`` -> ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": "..."}``.

Operations: ``status``, ``preview``, ``categories``, ``create_ticket``, ``my_tickets``,
``ticket_detail``, ``comment``, ``rate``, ``force_sync``.
"""

import base64
import binascii
import hashlib
import json
import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanet.agent.transport import TransportError
from lanet.protocol.limits import CATEGORIES, MAX_SCREENSHOT_BYTES

if TYPE_CHECKING:
    from lanet.agent.core import Agent
    from lanet.agent.paths import AgentPaths

log = logging.getLogger("lanet.agent.ipc")
MAX_REQUEST = MAX_SCREENSHOT_BYTES * 2
PRIORITIES = ("baja", "media", "alta", "critica")


class IpcError(Exception):
    """A request the service refuses; the message is shown to the PC's user."""


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


def _text(args: dict[str, Any], name: str, limit: int, required: bool = True) -> str | None:
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise IpcError(f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise IpcError(f"{name} must be text of at most {limit} characters")
    return value.strip()


class Handlers:
    """What each operation does, against a running :class:`~lanet.agent.core.Agent`."""

    def __init__(self, agent: "Agent") -> None:
        self.agent = agent

    def dispatch(self, op: str, args: dict[str, Any]) -> Any:
        handler: Callable[[dict[str, Any]], Any] | None = getattr(self, f"op_{op}", None)
        if handler is None:
            raise IpcError(f"unknown operation {op!r}")
        return handler(args)

    def op_status(self, _args: dict[str, Any]) -> dict[str, Any]:
        from lanet.agent.tickets import pending_tickets

        agent = self.agent
        open_alerts = len(agent.monitor.open)
        state = "offline" if agent.transport.offline else ("warning" if open_alerts else "online")
        if agent.store.get("last_contact") is None:
            state = "starting"
        return {
            "state": state,
            "client_name": agent.store.get("client_name"),
            "site_name": agent.store.get("site_name"),
            "asset_id": agent.config.agent.asset_id,
            "backend": agent.config.backend.url,
            "version": agent.config.agent.version,
            "heartbeat_interval": agent.config.heartbeat.interval,
            "last_contact": agent.store.get("last_contact"),
            "open_alerts": sorted(agent.monitor.open),
            "open_tickets": agent.store.get("open_tickets"),
            "pending_tickets": pending_tickets(agent),
            "sent_tickets": agent.store.get("sent_tickets", {}),
            "last_error": agent.transport.last_error,
        }

    def op_preview(self, _args: dict[str, Any]) -> dict[str, Any]:
        from lanet.agent.tickets import technical_info

        return technical_info(self.agent)

    def op_categories(self, _args: dict[str, Any]) -> list[dict[str, str]]:
        return [{"id": key, "label_es": es, "label_en": en} for key, (es, en) in CATEGORIES.items()]

    def op_create_ticket(self, args: dict[str, Any]) -> dict[str, Any]:
        from lanet.agent.tickets import queue_ticket

        description = _text(args, "description", 20_000)
        category = args.get("category")
        if category not in CATEGORIES:
            raise IpcError(f"category must be one of {', '.join(CATEGORIES)}")
        priority = args.get("priority", "media")
        if priority not in PRIORITIES:
            raise IpcError(f"priority must be one of {', '.join(PRIORITIES)}")
        screenshot = None
        if args.get("screenshot_png_base64"):
            try:
                screenshot = base64.b64decode(args["screenshot_png_base64"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise IpcError("the screenshot is not valid base64") from None
        ticket_id = queue_ticket(
            self.agent,
            description=description or "",
            category=category,
            priority=priority,
            subject=_text(args, "subject", 255, required=False),
            reporter_name=_text(args, "reporter_name", 255, required=False),
            include_info=bool(args.get("include_info", True)),
            screenshot_png=screenshot,
        )
        self.agent.request_sync()
        return {"client_ticket_id": ticket_id, "queued": True}

    def op_my_tickets(self, args: dict[str, Any]) -> dict[str, Any]:
        data = self._backend(
            lambda t: t.get(
                "/tickets/my-tickets",
                {
                    "q": _text(args, "q", 255, required=False) or "",
                    "reporter": _text(args, "reporter", 255, required=False) or "",
                },
            )
        )
        self.agent.store.put("open_tickets", data.get("open_count"))
        return data

    def op_ticket_detail(self, args: dict[str, Any]) -> dict[str, Any]:
        ref = _text(args, "ref", 64) or ""
        return self._backend(lambda t: t.get(f"/tickets/{ref}"))

    def op_comment(self, args: dict[str, Any]) -> dict[str, Any]:
        ref = _text(args, "ref", 64) or ""
        body = {
            "body": _text(args, "body", 10_000),
            "author_name": _text(args, "author_name", 255, required=False),
        }
        return self._backend(lambda t: t.post(f"/tickets/{ref}/comments", body))

    def op_rate(self, args: dict[str, Any]) -> dict[str, Any]:
        ref = _text(args, "ref", 64) or ""
        rating = args.get("rating")
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise IpcError("rating must be a whole number from 1 to 5")
        body = {"rating": rating, "comment": _text(args, "comment", 2000, required=False)}
        return self._backend(lambda t: t.post(f"/tickets/{ref}/rate", body))

    def op_force_sync(self, _args: dict[str, Any]) -> dict[str, Any]:
        self.agent.request_sync()
        return {"requested": True}

    def _backend(self, call: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        try:
            return call(self.agent.transport)
        except TransportError as exc:
            raise IpcError(f"sin conexión con el servidor: {exc}" if exc.retryable else str(exc)) from None


def answer(handlers: "Handlers", raw: bytes) -> bytes:
    """One request line in, one answer line out, whatever the transport; never raises."""
    try:
        if len(raw) > MAX_REQUEST:
            raise IpcError("request too large")
        request = json.loads(raw or b"{}")
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            raise IpcError('send {"op": "...", "args": {...}}')
        args = request.get("args") or {}
        if not isinstance(args, dict):
            raise IpcError("args must be an object")
        reply: dict[str, Any] = {"ok": True, "data": handlers.dispatch(request["op"], args)}
    except IpcError as exc:
        reply = {"ok": False, "error": str(exc)}
    except ValueError:
        reply = {"ok": False, "error": "the request is not JSON"}
    except Exception:  # the service must outlive any request
        log.exception("IPC request failed")
        reply = {"ok": False, "error": "internal error in the agent service"}
    return json.dumps(reply, ensure_ascii=False).encode() + b"\n"


def read_reply(raw: bytes) -> Any:
    """The client's side of :func:`answer`: the data, or :class:`IpcError` with the service's message."""
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        raise IpcError("the agent service answered something that is not JSON") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        message = reply.get("error") if isinstance(reply, dict) else None
        raise IpcError(message or "no answer from the agent service")
    return reply.get("data")


def make_server(address: str, handlers: Handlers) -> Any:
    """The channel's server for this OS, not started (``start()``, ``stop()``)."""
    if address.startswith(PIPE_PREFIX):
        from lanet.agent.ipc_windows import PipeServer

        return PipeServer(address, handlers)
    from lanet.agent.ipc_unix import SocketServer

    return SocketServer(address, handlers)


NOT_RUNNING = "el servicio LANET Agent no está en ejecución"


def call(address: str | Path, op: str, args: dict[str, Any] | None = None, timeout: float = 35.0) -> Any:
    """Client side (the tray): one request; raises :class:`IpcError` with the service's message."""
    request = json.dumps({"op": op, "args": args or {}}).encode() + b"\n"
    address = str(address)
    if address.startswith(PIPE_PREFIX):
        from lanet.agent.ipc_windows import exchange

        return read_reply(exchange(address, request, timeout))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            raise IpcError(NOT_RUNNING) from None
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return read_reply(b"".join(chunks))
