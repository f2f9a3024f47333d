"""Tickets created from the agent (seed: ``TicketCreator.create_ticket_from_agent``)."""

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from lanet.protocol.common import FreeJsonObject, Timestamp, UUIDStr, WireModel, short_text
from lanet.protocol.limits import MAX_SCREENSHOT_BYTES
from lanet.protocol.values import OPEN_TICKET_STATUSES, TicketChannel, TicketPriority, TicketStatus

TicketCategory = Annotated[str, Field(max_length=32, pattern=r"^[a-z0-9_-]{1,32}$")]


class TicketFromAgent(WireModel):
    """Body of ``POST /tickets/create-from-agent``: the seed's keys plus subject, reporter, screenshot.

    ``client_ticket_id`` is made by the agent when the user presses "Crear Ticket" and kept across
    retries from the outbox, so a ticket is created once however often it is sent.
    """

    description: str = Field(min_length=1, max_length=20_000)
    category: TicketCategory
    priority: TicketPriority = "media"
    channel: Literal["agente"] = "agente"
    auto_info: FreeJsonObject | None = None
    asset_id: UUIDStr
    client_id: UUIDStr
    site_id: UUIDStr
    created_by_agent: bool = True
    subject: str | None = short_text(255)
    reporter_name: str | None = short_text(255)
    reporter_account: str | None = Field(
        default=None,
        max_length=255,
        description="The PC user who reported, as the OS names the account (the agent takes it from the "
        "OS, not from the user): Mis Tickets and the ticket's detail are scoped to it",
    )
    screenshot_png_base64: str | None = Field(
        default=None, max_length=(MAX_SCREENSHOT_BYTES * 4) // 3 + 4, description="PNG, base64"
    )
    client_ticket_id: UUIDStr | None = None


OPEN_STATUSES = OPEN_TICKET_STATUSES
TICKET_NUMBER_PATTERN = r"^TKT-[0-9]{6,}$"
#: Ticket numbers are stored as 32-bit integers on both databases.
MAX_TICKET_NUMBER = 2**31 - 1
_NUMBER_TEXT = re.compile(r"(?:TKT-)?0*([0-9]{1,10})", re.IGNORECASE)


def format_ticket_number(number: int) -> str:
    return f"TKT-{number:06d}"


def parse_ticket_number(text: str, *, prefixed: bool = False) -> int | None:
    """The number ``TKT-000012`` (or, unless ``prefixed``, plain ``12``) names; None when the text
    names no ticket a database could hold: other digits than ASCII (``TKT-²``), or beyond 2^31-1."""
    text = text.strip()
    if prefixed and not text.upper().startswith("TKT-"):
        return None
    match = _NUMBER_TEXT.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 0 < number <= MAX_TICKET_NUMBER else None


class Category(WireModel):
    id: str
    label_es: str
    label_en: str


class CategoryList(WireModel):
    items: list[Category]


class TicketComment(WireModel):
    id: int
    author: str
    body: str
    public: bool
    created_at: Timestamp


class TicketEvent(WireModel):
    at: Timestamp
    actor: str
    field: str
    old: str | None = None
    new: str | None = None


class TicketView(WireModel):
    id: UUIDStr
    number: str = Field(description="TKT-000001 style, sequential")
    subject: str
    description: str
    category: str
    priority: TicketPriority
    status: TicketStatus
    channel: TicketChannel
    asset_id: UUIDStr | None = None
    client_id: UUIDStr
    site_id: UUIDStr | None = None
    reporter_name: str | None = None
    reporter_account: str | None = None
    assigned_to: str | None = None
    created_by_agent: bool = False
    has_screenshot: bool = False
    created_at: Timestamp
    updated_at: Timestamp
    resolved_at: Timestamp | None = None
    rating: int | None = None
    rating_comment: str | None = None


class TicketDetail(TicketView):
    auto_info: dict[str, Any] | None = None
    comments: list[TicketComment] = Field(default_factory=list)
    history: list[TicketEvent] = Field(default_factory=list)


class MyTickets(WireModel):
    items: list[TicketView]
    open_count: int = Field(ge=0)


class CommentRequest(WireModel):
    body: str = Field(min_length=1, max_length=10_000)
    author_name: str | None = short_text(255)


class RatingRequest(WireModel):
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: str | None = short_text(2000)
