"""Tickets created from the agent (seed: ``TicketCreator.create_ticket_from_agent``)."""

from typing import Annotated, Any, Literal

from pydantic import Field

from lanet.protocol.common import UUIDStr, WireModel, short_text

TicketPriority = Literal["baja", "media", "alta", "critica"]
TicketCategory = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
MAX_SCREENSHOT_BYTES = 5 * 1024 * 1024


class TicketFromAgent(WireModel):
    """Body of ``POST /tickets/create-from-agent``: the seed's keys plus subject, reporter, screenshot.

    ``client_ticket_id`` is made by the agent when the user presses "Crear Ticket" and kept across
    retries from the outbox, so a ticket is created once however often it is sent.
    """

    description: str = Field(min_length=1, max_length=20_000)
    category: TicketCategory
    priority: TicketPriority = "media"
    channel: Literal["agente"] = "agente"
    auto_info: dict[str, Any] | None = None
    asset_id: UUIDStr
    client_id: UUIDStr
    site_id: UUIDStr
    created_by_agent: bool = True
    subject: str | None = short_text(255)
    reporter_name: str | None = short_text(255)
    screenshot_png_base64: str | None = Field(
        default=None, max_length=(MAX_SCREENSHOT_BYTES * 4) // 3 + 4, description="PNG, base64"
    )
    client_ticket_id: UUIDStr | None = None
