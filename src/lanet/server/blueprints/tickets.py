"""Tickets from the PC: the seed's ``create-from-agent`` and what "Mis Tickets" needs. An agent's token
reaches only its own asset's tickets; anything else reads as absent (404)."""

from flask import request
from sqlalchemy.orm import Session

from lanet.protocol.claims import AgentClaims
from lanet.protocol.common import ErrorDetail
from lanet.protocol.errors import ErrorCode
from lanet.protocol.limits import CATEGORIES
from lanet.protocol.tickets import (
    Category,
    CategoryList,
    CommentRequest,
    MyTickets,
    RatingRequest,
    TicketComment,
    TicketDetail,
    TicketFromAgent,
    TicketView,
)
from lanet.server.api.agent_auth import rate_limit, require_agent
from lanet.server.api.errors import ApiError
from lanet.server.api.operations import ApiBlueprint, Reply
from lanet.server.models import Ticket
from lanet.server.services import tickets
from lanet.server.state import state

bp = ApiBlueprint("tickets", __name__, url_prefix="/api/tickets", tag="tickets")
_CODES = {403: ErrorCode.ASSET_MISMATCH, 409: ErrorCode.CONFLICT, 413: ErrorCode.PAYLOAD_TOO_LARGE}


def _problem(exc: tickets.TicketError) -> ApiError:
    details = [ErrorDetail(field=exc.field, message=str(exc), type="value_error")] if exc.field else []
    return ApiError(exc.status, _CODES.get(exc.status, ErrorCode.VALIDATION_ERROR), str(exc), details)


def _account() -> str | None:
    """``?account=``: the PC user the agent asks for (it takes the account from the OS)."""
    value = request.args.get("account")
    return value[:255] if value else None


def _agent(*, creating: bool = False) -> AgentClaims:
    """The calling agent, counted against its asset's ticket limits (``LANET_RATE_TICKETS`` for
    reads and comments, ``LANET_RATE_TICKET_CREATE`` for new tickets, whose screenshots weigh)."""
    claims = require_agent()
    settings = state().settings
    if creating:
        rate_limit(f"ticket-create:{claims.asset_id}", settings.ticket_create_rate, "Too many new tickets")
    else:
        rate_limit(f"tickets:{claims.asset_id}", settings.ticket_rate, "Too many ticket requests")
    return claims


def _own(session: Session, ref: str, asset_id: str) -> Ticket:
    ticket = tickets.find(session, ref, asset_id=asset_id, account=_account())
    if ticket is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No ticket {ref} for this machine")
    return ticket


@bp.operation(
    "/create-from-agent",
    summary="Create a ticket from the PC (Reportar Problema)",
    body=TicketFromAgent,
    response=TicketView,
    status=201,
    auth="agent",
    errors=(409,),
)
def create_from_agent(body: TicketFromAgent) -> Reply:
    """The seed's TicketCreator body; channel ``agente``. A repeated ``client_ticket_id`` (a retry from
    the agent's outbox) returns the ticket created the first time."""
    claims = _agent(creating=True)
    with state().db.session() as session:
        try:
            result = tickets.create_from_agent(session, claims, body)
        except tickets.TicketError as exc:
            raise _problem(exc) from None
        return Reply(tickets.view(result.ticket), status=201 if result.created else 200)


@bp.operation(
    "/my-tickets",
    "GET",
    summary="This machine's tickets and how many are open",
    response=MyTickets,
    auth="agent",
    query={
        "reporter": "only this reporting user's (by name)",
        "account": "only this PC account's (the OS login the agent names)",
        "q": "text or TKT number to find",
    },
)
def my_tickets() -> MyTickets:
    claims = _agent()
    with state().db.session() as session:
        found, open_count = tickets.for_asset(
            session, claims.asset_id, request.args.get("reporter"), request.args.get("q"), account=_account()
        )
        return MyTickets(items=[tickets.view(t) for t in found], open_count=open_count)


@bp.operation("/categories", "GET", summary="Ticket categories with their labels", response=CategoryList)
def categories() -> CategoryList:
    return CategoryList(
        items=[Category(id=key, label_es=es, label_en=en) for key, (es, en) in CATEGORIES.items()]
    )


@bp.operation(
    "/<ticket_ref>",
    "GET",
    summary="A ticket with its public comments and history",
    response=TicketDetail,
    auth="agent",
    errors=(404,),
    query={"account": "only if this PC account reported it"},
)
def show(ticket_ref: str) -> TicketDetail:
    claims = _agent()
    with state().db.session() as session:
        return tickets.detail(_own(session, ticket_ref, claims.asset_id))


@bp.operation(
    "/<ticket_ref>/comments",
    summary="Add a comment as the PC's user",
    body=CommentRequest,
    response=TicketComment,
    status=201,
    auth="agent",
    errors=(404,),
    query={"account": "only if this PC account reported it"},
)
def comment(ticket_ref: str, body: CommentRequest) -> TicketComment:
    claims = _agent()
    with state().db.session() as session:
        ticket = _own(session, ticket_ref, claims.asset_id)
        author = body.author_name or ticket.reporter_name or claims.computer_name
        added = tickets.add_comment(
            session, ticket, author=author, kind="requester", body=body.body, actor=f"agent:{claims.asset_id}"
        )
        return tickets.comment_view(added)


@bp.operation(
    "/<ticket_ref>/rate",
    summary="Rate a resolved ticket (1-5)",
    body=RatingRequest,
    response=TicketView,
    auth="agent",
    errors=(404, 409),
    query={"account": "only if this PC account reported it"},
)
def rate(ticket_ref: str, body: RatingRequest) -> TicketView:
    claims = _agent()
    with state().db.session() as session:
        ticket = _own(session, ticket_ref, claims.asset_id)
        try:
            tickets.rate(session, ticket, body.rating, body.comment, f"agent:{claims.asset_id}")
        except tickets.TicketError as exc:
            raise _problem(exc) from None
        return tickets.view(ticket)
