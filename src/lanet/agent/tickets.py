"""Tickets reported from the PC: built by the service (never by the tray, which holds no
credentials) and sent through the durable outbox, so a ticket written while the backend is down is
kept, shown as pending, and created once when the connection returns."""

import base64
import time
import uuid
from typing import TYPE_CHECKING, Any

from lanet.agent import collectors

if TYPE_CHECKING:
    from lanet.agent.core import Agent


def technical_info(agent: "Agent") -> dict[str, Any]:
    """What the seed's "Información que se enviará automáticamente" lists, as data."""
    hardware = collectors.hardware()
    metrics = agent.sampler.sample()
    last = agent.store.get("last_contact")
    return {
        "equipo": hardware.get("computer_name"),
        "usuario": hardware.get("assigned_user"),
        "cliente": agent.store.get("client_name"),
        "sitio": agent.store.get("site_name"),
        "cpu_usage": metrics.get("cpu_usage"),
        "memory_usage": metrics.get("memory_usage"),
        "disk_usage": metrics.get("disk_usage"),
        "ip_address": hardware.get("ip_address"),
        "os": hardware.get("os"),
        "os_version": hardware.get("os_version"),
        "uptime": metrics.get("uptime"),
        "last_contact": None if last is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)),
        "agent_version": agent.config.agent.version,
    }


def queue_ticket(
    agent: "Agent",
    *,
    description: str,
    category: str,
    priority: str = "media",
    subject: str | None = None,
    reporter_name: str | None = None,
    include_info: bool = True,
    screenshot_png: bytes | None = None,
) -> str:
    """Queue a ticket; returns its client-made id (the server creates it once, however often sent)."""
    config = agent.config.agent
    ticket_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "description": description,
        "category": category,
        "priority": priority,
        "channel": "agente",
        "auto_info": technical_info(agent) if include_info else None,
        "asset_id": config.asset_id,
        "client_id": config.client_id,
        "site_id": config.site_id,
        "created_by_agent": True,
        "subject": subject,
        "reporter_name": reporter_name,
        "client_ticket_id": ticket_id,
    }
    if screenshot_png is not None:
        body["screenshot_png_base64"] = base64.b64encode(screenshot_png).decode("ascii")
    agent.store.enqueue("ticket", ticket_id, body, priority=1)
    return ticket_id


def pending_tickets(agent: "Agent") -> list[dict[str, Any]]:
    """Tickets written here and not yet delivered ("pendiente de envío")."""
    return [
        {
            "client_ticket_id": item.id,
            "description": item.payload["description"],
            "queued_at": item.created_at,
        }
        for item in agent.store.pending_items("ticket")
    ]
