"""The local channel between the agent service and the per-user tray app.

The service owns the credentials and the outbox; the tray only asks. On Linux and macOS it is a Unix
socket that the desktop user can reach (the PC's user is who reports problems); on Windows a named
pipe (see the Windows service). One JSON request per connection, one JSON answer:
``{"op": "...", "args": {...}}`` -> ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": "..."}``.

Operations: ``status``, ``preview``, ``categories``, ``create_ticket``, ``my_tickets``,
``ticket_detail``, ``comment``, ``rate``, ``force_sync``.
"""

import base64
import binascii
import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
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


def socket_path(paths: "AgentPaths") -> Path:
    """Where the service listens and the tray connects (``run/agent.sock``)."""
    return paths.run_dir / "agent.sock"


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


class _Handler(socketserver.StreamRequestHandler):
    server: "IpcServer"

    def handle(self) -> None:
        raw = self.rfile.readline(MAX_REQUEST + 1)
        try:
            if len(raw) > MAX_REQUEST:
                raise IpcError("request too large")
            request = json.loads(raw or b"{}")
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise IpcError('send {"op": "...", "args": {...}}')
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise IpcError("args must be an object")
            reply: dict[str, Any] = {"ok": True, "data": self.server.handlers.dispatch(request["op"], args)}
        except IpcError as exc:
            reply = {"ok": False, "error": str(exc)}
        except ValueError:
            reply = {"ok": False, "error": "the request is not JSON"}
        except Exception:  # the service must outlive any request
            log.exception("IPC request failed")
            reply = {"ok": False, "error": "internal error in the agent service"}
        self.wfile.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")


class IpcServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, handlers: Handlers) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.handlers = handlers
        super().__init__(str(path), _Handler)
        # The desktop user's tray must reach it; it can only ask, never read credentials.
        os.chmod(path.parent, 0o755)  # noqa: S103 - the tray runs as the desktop user
        os.chmod(path, 0o666)  # noqa: S103 - likewise; it can ask, not read secrets
        self.path = path

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="ipc", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def call(path: Path, op: str, args: dict[str, Any] | None = None, timeout: float = 35.0) -> Any:
    """Client side (the tray): one request; raises :class:`IpcError` with the service's message."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError:
            raise IpcError("el servicio LANET Agent no está en ejecución") from None
        sock.sendall(json.dumps({"op": op, "args": args or {}}).encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = json.loads(b"".join(chunks) or b"{}")
    if not reply.get("ok"):
        raise IpcError(reply.get("error") or "no answer from the agent service")
    return reply.get("data")
