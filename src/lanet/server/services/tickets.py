"""Tickets: created from the agent (the seed's "Reportar Problema"), followed from the PC
("Mis Tickets"), worked by technicians. Every change lands in the ticket's history and the audit log.
"""

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, selectinload

from lanet.protocol.claims import AgentClaims
from lanet.protocol.limits import CATEGORIES, MAX_SCREENSHOT_BYTES
from lanet.protocol.tickets import (
    OPEN_STATUSES,
    TicketDetail,
    TicketFromAgent,
    TicketView,
    format_ticket_number,
    parse_ticket_number,
)
from lanet.protocol.tickets import (
    TicketComment as CommentView,
)
from lanet.protocol.tickets import (
    TicketEvent as EventView,
)
from lanet.protocol.values import TICKET_STATUSES
from lanet.server.db import contains_text
from lanet.server.models import Ticket, TicketAttachment, TicketComment, TicketCounter, TicketEvent
from lanet.server.models.base import table_of, utcnow
from lanet.server.services import audit
from lanet.server.services.tenancy import Tenancy

STATUSES = TICKET_STATUSES
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class TicketError(ValueError):
    """A request about a ticket that cannot be honoured; ``field`` names the culprit when there is one."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def next_number(session: Session) -> int:
    """The next ticket number; one upsert, so concurrent creators never share or skip one."""
    table = table_of(TicketCounter)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(id=1, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.id], set_={"value": table.c.value + 1})
    return int(session.execute(stmt.returning(table.c.value)).scalar_one())


def _screenshot(encoded: str) -> bytes:
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise TicketError("the screenshot is not valid base64", "screenshot_png_base64") from None
    if not data.startswith(_PNG_MAGIC):
        raise TicketError("the screenshot must be a PNG image", "screenshot_png_base64")
    if len(data) > MAX_SCREENSHOT_BYTES:
        raise TicketError(
            f"the screenshot is larger than {MAX_SCREENSHOT_BYTES // 2**20} MiB",
            "screenshot_png_base64",
            status=413,
        )
    return data


def _event(ticket: Ticket, actor: str, field: str, old: Any, new: Any) -> None:
    ticket.events.append(
        TicketEvent(
            actor=actor,
            field=field,
            old=None if old is None else str(old),
            new=None if new is None else str(new),
        )
    )


def record_new(
    session: Session, ticket: Ticket, actor: str, details: dict[str, Any], history_actor: str | None = None
) -> None:
    """Add a new ticket with its first history entry and its audit entry."""
    session.add(ticket)
    _event(ticket, history_actor or actor, "status", None, "nuevo")
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="ticket.create",
        target_type="ticket",
        target_id=ticket.id,
        client_id=ticket.client_id,
        details={"number": format_ticket_number(ticket.number), **details},
    )


@dataclass(frozen=True)
class Created:
    ticket: Ticket
    created: bool


def create_from_agent(session: Session, claims: AgentClaims, body: TicketFromAgent) -> Created:
    """Create the ticket the PC's user reported; a repeated ``client_ticket_id`` returns the first one."""
    for field in ("asset_id", "client_id", "site_id"):
        if getattr(body, field) != getattr(claims, field):
            raise TicketError(f"{field} does not match the agent token", field, status=403)
    if body.category not in CATEGORIES:
        raise TicketError(
            f"unknown category {body.category!r}; use one of {', '.join(CATEGORIES)}", "category"
        )
    if body.client_ticket_id:
        existing = session.scalars(
            select(Ticket).where(
                Ticket.asset_id == claims.asset_id, Ticket.client_ticket_id == body.client_ticket_id
            )
        ).first()
        if existing is not None:
            return Created(existing, created=False)
    screenshot = _screenshot(body.screenshot_png_base64) if body.screenshot_png_base64 else None
    first_line = body.description.strip().splitlines()[0] if body.description.strip() else body.description
    ticket = Ticket(
        number=next_number(session),
        subject=(body.subject or first_line)[:255],
        description=body.description,
        category=body.category,
        priority=body.priority,
        status="nuevo",
        channel="agente",
        asset_id=claims.asset_id,
        client_id=claims.client_id,
        site_id=claims.site_id,
        reporter_name=body.reporter_name,
        reporter_account=body.reporter_account,
        auto_info=body.auto_info,
        created_by_agent=True,
        client_ticket_id=body.client_ticket_id,
    )
    if screenshot is not None:
        ticket.attachments.append(
            TicketAttachment(
                filename="captura.png", content_type="image/png", size=len(screenshot), data=screenshot
            )
        )
    record_new(
        session,
        ticket,
        f"agent:{claims.asset_id}",
        {
            "channel": "agente",
            "category": ticket.category,
            "priority": ticket.priority,
            "screenshot": screenshot is not None,
        },
    )
    return Created(ticket, created=True)


def find(
    session: Session,
    ref: str,
    *,
    asset_id: str | None = None,
    client_id: str | None = None,
    account: str | None = None,
) -> Ticket | None:
    """A ticket by id or number, only within the given asset or client, and (for the PC's tray) the
    given reporting account: others read as absent."""
    query = select(Ticket).options(
        selectinload(Ticket.comments), selectinload(Ticket.events), selectinload(Ticket.attachments)
    )
    ref = ref.strip()
    number = parse_ticket_number(ref, prefixed=True)
    if number is not None:
        query = query.where(Ticket.number == number)
    elif ref.upper().startswith("TKT-"):
        return None  # a number no ticket can have
    else:
        query = query.where(Ticket.id == ref.lower())
    if asset_id is not None:
        query = query.where(Ticket.asset_id == asset_id)
    if client_id is not None:
        query = query.where(Ticket.client_id == client_id)
    if account is not None:
        query = query.where(Ticket.reporter_account == account)
    return session.scalars(query).first()


def search(
    session: Session,
    tenancy: Tenancy,
    *,
    status: str | None = None,
    client_id: str | None = None,
    text: str | None = None,
    limit: int = 500,
) -> list[Ticket]:
    """Tickets a reader may see, newest first: ``status`` is one of :data:`STATUSES` or ``abiertos``
    (every open one); ``text`` is found in the subject, description or reporter, or is a number."""
    query = tenancy.limit(
        select(Ticket).options(joinedload(Ticket.asset), joinedload(Ticket.client)), Ticket.client_id
    )
    if status == "abiertos":
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif status in STATUSES:
        query = query.where(Ticket.status == status)
    if client_id:
        query = query.where(Ticket.client_id == client_id)
    if text:
        query = query.where(
            contains_text(text, Ticket.subject, Ticket.description, Ticket.reporter_name)
            | (Ticket.number == number_of(text))
        )
    return list(session.scalars(query.order_by(Ticket.number.desc()).limit(limit)))


def for_asset(
    session: Session,
    asset_id: str,
    reporter: str | None = None,
    text: str | None = None,
    limit: int = 200,
    account: str | None = None,
) -> tuple[list[Ticket], int]:
    """The asset's tickets (newest first) and how many are open; narrowed to a reporter's name, to
    the reporting OS ``account`` (the tray's "Mis Tickets"), and to a text."""
    query = select(Ticket).options(selectinload(Ticket.attachments)).where(Ticket.asset_id == asset_id)
    if reporter:
        query = query.where(func.lower(Ticket.reporter_name) == reporter.lower())
    if account is not None:
        query = query.where(Ticket.reporter_account == account)
    if text:
        query = query.where(
            contains_text(text, Ticket.subject, Ticket.description, Ticket.status)
            | (Ticket.number == number_of(text))
        )
    tickets = list(session.scalars(query.order_by(Ticket.number.desc()).limit(limit)))
    open_query = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.asset_id == asset_id, Ticket.status.in_(OPEN_STATUSES))
    )
    if reporter:
        open_query = open_query.where(func.lower(Ticket.reporter_name) == reporter.lower())
    if account is not None:
        open_query = open_query.where(Ticket.reporter_account == account)
    return tickets, int(session.scalar(open_query) or 0)


def number_of(text: str) -> int:
    """The number a search text names (``TKT-000012``, ``12``), or -1 when it names none (a phone
    number is text to find, not a ticket number beyond what the column holds)."""
    number = parse_ticket_number(text)
    return -1 if number is None else number


def add_comment(
    session: Session, ticket: Ticket, *, author: str, kind: str, body: str, public: bool = True, actor: str
) -> TicketComment:
    comment = TicketComment(author=author[:255], author_kind=kind, body=body, public=public)
    ticket.comments.append(comment)
    ticket.updated_at = utcnow()
    if kind == "requester" and ticket.status == "esperando_cliente":
        _change_status(ticket, "en_progreso", actor)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="ticket.comment",
        target_type="ticket",
        target_id=ticket.id,
        client_id=ticket.client_id,
        details={"public": public, "chars": len(body)},
    )
    return comment


def _change_status(ticket: Ticket, status: str, actor: str) -> None:
    _event(ticket, actor, "status", ticket.status, status)
    ticket.status = status
    ticket.updated_at = utcnow()
    if status == "resuelto":
        ticket.resolved_at = ticket.updated_at
    elif status not in ("resuelto", "cerrado"):
        ticket.resolved_at = None


def set_status(session: Session, ticket: Ticket, status: str, actor: str) -> None:
    if status not in STATUSES:
        raise TicketError(f"status must be one of {', '.join(STATUSES)}", "status")
    if status == ticket.status:
        return
    old = ticket.status
    _change_status(ticket, status, actor)
    audit.record(
        session,
        actor=actor,
        action="ticket.status",
        target_type="ticket",
        target_id=ticket.id,
        client_id=ticket.client_id,
        details={"from": old, "to": status},
    )


def assign(session: Session, ticket: Ticket, technician: str, actor: str) -> None:
    technician = technician.strip()
    if not technician:
        raise TicketError("name the technician", "assigned_to")
    _event(ticket, actor, "assigned_to", ticket.assigned_to, technician)
    ticket.assigned_to = technician[:255]
    ticket.updated_at = utcnow()
    if ticket.status == "nuevo":
        _change_status(ticket, "asignado", actor)
    audit.record(
        session,
        actor=actor,
        action="ticket.assign",
        target_type="ticket",
        target_id=ticket.id,
        client_id=ticket.client_id,
        details={"to": technician},
    )


def rate(session: Session, ticket: Ticket, rating: int, comment: str | None, actor: str) -> None:
    """Rate a resolved ticket, once: the row is locked and read again first, so of two ratings sent
    at the same moment exactly one counts."""
    session.refresh(ticket, attribute_names=["status", "rating"], with_for_update=True)
    if ticket.status not in ("resuelto", "cerrado"):
        raise TicketError("a ticket can be rated once it is resolved", "rating", status=409)
    if ticket.rating is not None:
        raise TicketError("this ticket has been rated already", "rating", status=409)
    ticket.rating = rating
    ticket.rating_comment = comment
    _event(ticket, actor, "rating", None, rating)
    ticket.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="ticket.rate",
        target_type="ticket",
        target_id=ticket.id,
        client_id=ticket.client_id,
        details={"rating": rating},
    )


def comment_view(comment: TicketComment) -> CommentView:
    return CommentView(
        id=comment.id,
        author=comment.author,
        body=comment.body,
        public=comment.public,
        created_at=comment.created_at,
    )


def view(ticket: Ticket) -> TicketView:
    return TicketView.model_validate(_fields(ticket))


def detail(ticket: Ticket, *, include_internal: bool = False) -> TicketDetail:
    return TicketDetail.model_validate(
        {
            **_fields(ticket),
            "auto_info": ticket.auto_info,
            "comments": [comment_view(c) for c in ticket.comments if c.public or include_internal],
            "history": [
                EventView(at=e.at, actor=e.actor, field=e.field, old=e.old, new=e.new) for e in ticket.events
            ],
        }
    )


def _fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": format_ticket_number(ticket.number),
        "subject": ticket.subject,
        "description": ticket.description,
        "category": ticket.category,
        "priority": ticket.priority,
        "status": ticket.status,
        "channel": ticket.channel,
        "asset_id": ticket.asset_id,
        "client_id": ticket.client_id,
        "site_id": ticket.site_id,
        "reporter_name": ticket.reporter_name,
        "reporter_account": ticket.reporter_account,
        "assigned_to": ticket.assigned_to,
        "created_by_agent": ticket.created_by_agent,
        "has_screenshot": bool(ticket.attachments),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "resolved_at": ticket.resolved_at,
        "rating": ticket.rating,
        "rating_comment": ticket.rating_comment,
    }


def list_all(session: Session, status: str | None = None, client_id: str | None = None) -> list[Ticket]:
    query = select(Ticket).options(selectinload(Ticket.attachments))
    if status:
        query = query.where(Ticket.status == status)
    if client_id:
        query = query.where(Ticket.client_id == client_id)
    return list(session.scalars(query.order_by(Ticket.number.desc()).limit(500)))
