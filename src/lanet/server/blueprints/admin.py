"""The technicians' API: queue scripts and read their results, push configuration.

Authenticated with an API key (``Authorization: Bearer lak_...``, made with ``lanet-server api-keys
create``) acting as a technician of the MSP. Every change is audited under ``apikey:<name>``.
"""

from datetime import timedelta
from typing import Annotated, Any, Literal

from flask import g, request
from pydantic import Field, ValidationError
from sqlalchemy import select

from lanet.protocol.common import FreeJson, Timestamp, WireModel
from lanet.protocol.config_updates import UnknownConfigKeyError
from lanet.protocol.errors import ErrorCode
from lanet.protocol.tickets import TicketComment, TicketDetail, TicketView
from lanet.protocol.values import CommandPriority, ScriptType, TicketStatus
from lanet.server.api.agent_auth import count_failure
from lanet.server.api.errors import ApiError, details_from_validation
from lanet.server.api.operations import ApiBlueprint, Reply, authenticator
from lanet.server.models import Asset, Command
from lanet.server.services import apikeys, commands, config_push, tickets
from lanet.server.state import state

bp = ApiBlueprint("admin", __name__, url_prefix="/api/admin", tag="technicians")


@authenticator("technician")
def require_technician() -> str:
    """The caller's audit name; 401 without a valid key. Checked once per request."""
    cached: str | None = g.get("technician")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    app = state()
    if scheme.lower() == "bearer" and key.strip():
        with app.db.session() as session:
            record = apikeys.check_key(session, app.keys, key.strip())
            if record is not None:
                g.technician = f"apikey:{record.name}"
                return str(g.technician)
    raise count_failure(
        ErrorCode.AUTH_INVALID, "Send a technician API key as 'Authorization: Bearer lak_...'"
    )


class QueueCommand(WireModel):
    asset_id: str = Field(min_length=1, max_length=64)
    type: ScriptType
    script: str = Field(min_length=1, max_length=commands.MAX_SCRIPT_CHARS)
    arguments: list[Annotated[str, Field(max_length=4096)]] = Field(default_factory=list, max_length=64)
    timeout: Annotated[int, Field(ge=1, le=86_400)] = 300
    priority: CommandPriority = "normal"
    expires_minutes: Annotated[int, Field(ge=1, le=30 * 24 * 60)] = 24 * 60


class CommandView(WireModel):
    command_id: str
    asset_id: str
    type: str
    status: str
    priority: str
    timeout: int
    queued_by: str
    queued_at: Timestamp
    expires_at: Timestamp
    delivered_at: Timestamp | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    exit_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    reason: str | None = None


class CommandList(WireModel):
    items: list[CommandView]


class ConfigChangeRequest(WireModel):
    scope: Literal["client", "site", "asset"]
    id: str = Field(min_length=1, max_length=255, description="id (or, for a client, its name)")
    key: str = Field(min_length=1, max_length=64)
    value: FreeJson


class ConfigChangeDone(WireModel):
    scope: str
    id: str
    key: str
    value: Any
    revision: int


def _view(command: Command) -> CommandView:
    return CommandView.model_validate(commands.describe(command))


@bp.operation(
    "/commands",
    summary="Queue a script for an asset",
    body=QueueCommand,
    response=CommandView,
    status=201,
    auth="technician",
    errors=(404,),
)
def queue(body: QueueCommand) -> CommandView:
    """The command is offered to the asset's agent at its next heartbeat, or when it comes back,
    until it expires."""
    actor = require_technician()
    with state().db.session() as session:
        try:
            command = commands.queue_command(
                session,
                asset_id=body.asset_id,
                type_=body.type,
                script=body.script,
                actor=actor,
                timeout=body.timeout,
                priority=body.priority,
                arguments=body.arguments,
                expires_in=timedelta(minutes=body.expires_minutes),
            )
        except commands.CommandError as exc:
            status = 404 if "no asset" in str(exc) else 422
            raise ApiError(
                status, ErrorCode.NOT_FOUND if status == 404 else ErrorCode.VALIDATION_ERROR, str(exc)
            ) from None
        return _view(command)


@bp.operation(
    "/commands/<command_id>",
    "GET",
    summary="A command's status, exit code and output",
    response=CommandView,
    auth="technician",
    errors=(404,),
)
def show(command_id: str) -> CommandView:
    require_technician()
    with state().db.session() as session:
        command = session.get(Command, command_id)
        if command is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, "No such command")
        return _view(command)


@bp.operation(
    "/assets/<asset_id>/commands",
    "GET",
    summary="An asset's commands, newest first",
    response=CommandList,
    auth="technician",
    errors=(404,),
)
def asset_commands(asset_id: str) -> CommandList:
    require_technician()
    with state().db.session() as session:
        if session.get(Asset, asset_id[:64]) is None:
            raise ApiError(404, ErrorCode.NOT_FOUND, f"No asset {asset_id}")
        rows = session.scalars(
            select(Command).where(Command.asset_id == asset_id).order_by(Command.queued_at.desc()).limit(200)
        ).all()
        return CommandList(items=[_view(c) for c in rows])


@bp.operation(
    "/config",
    summary="Push configuration to a client, site or asset",
    body=ConfigChangeRequest,
    response=ConfigChangeDone,
    auth="technician",
    errors=(404,),
)
def set_config(body: ConfigChangeRequest) -> Reply:
    """Delivered in the heartbeat's config_updates until each agent in scope applies it."""
    actor = require_technician()
    with state().db.session() as session:
        try:
            scope = config_push.resolve_scope(session, body.scope, body.id)
            revision = config_push.set_override(session, scope, body.key, body.value, actor)
        except config_push.ScopeNotFoundError as exc:
            raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from None
        except UnknownConfigKeyError:
            raise ApiError(
                422, ErrorCode.VALIDATION_ERROR, f"Unknown configuration key {body.key!r}"
            ) from None
        except ValidationError as exc:
            details = details_from_validation(exc, prefix="value.")
            raise ApiError(
                422, ErrorCode.VALIDATION_ERROR, f"Invalid value for {body.key}", details
            ) from None
    return Reply(
        ConfigChangeDone(scope=body.scope, id=scope.id, key=body.key, value=body.value, revision=revision)
    )


class TicketList(WireModel):
    items: list[TicketView]


class AssignRequest(WireModel):
    technician: str = Field(min_length=1, max_length=255)


class StatusRequest(WireModel):
    status: TicketStatus


class TechnicianComment(WireModel):
    body: str = Field(min_length=1, max_length=10_000)
    public: bool = True
    author: str | None = Field(default=None, max_length=255)


def _ticket(session: Any, ref: str) -> Any:
    ticket = tickets.find(session, ref)
    if ticket is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"No ticket {ref}")
    return ticket


@bp.operation(
    "/tickets",
    "GET",
    summary="The tickets inbox, newest first",
    response=TicketList,
    auth="technician",
    query={"status": "only tickets in this status"},
)
def ticket_inbox() -> TicketList:
    require_technician()
    status = request.args.get("status") or None
    with state().db.session() as session:
        return TicketList(items=[tickets.view(t) for t in tickets.list_all(session, status)])


@bp.operation(
    "/tickets/<ticket_ref>",
    "GET",
    summary="A ticket with every comment, internal ones too",
    response=TicketDetail,
    auth="technician",
    errors=(404,),
)
def ticket_detail(ticket_ref: str) -> TicketDetail:
    require_technician()
    with state().db.session() as session:
        return tickets.detail(_ticket(session, ticket_ref), include_internal=True)


@bp.operation(
    "/tickets/<ticket_ref>/assign",
    summary="Assign a ticket to a technician",
    body=AssignRequest,
    response=TicketView,
    auth="technician",
    errors=(404,),
)
def ticket_assign(ticket_ref: str, body: AssignRequest) -> TicketView:
    actor = require_technician()
    with state().db.session() as session:
        ticket = _ticket(session, ticket_ref)
        tickets.assign(session, ticket, body.technician, actor)
        return tickets.view(ticket)


@bp.operation(
    "/tickets/<ticket_ref>/status",
    summary="Change a ticket's status",
    body=StatusRequest,
    response=TicketView,
    auth="technician",
    errors=(404,),
)
def ticket_status(ticket_ref: str, body: StatusRequest) -> TicketView:
    actor = require_technician()
    with state().db.session() as session:
        ticket = _ticket(session, ticket_ref)
        tickets.set_status(session, ticket, body.status, actor)
        return tickets.view(ticket)


@bp.operation(
    "/tickets/<ticket_ref>/comments",
    summary="Comment on a ticket (public or internal)",
    body=TechnicianComment,
    response=TicketComment,
    status=201,
    auth="technician",
    errors=(404,),
)
def ticket_comment(ticket_ref: str, body: TechnicianComment) -> TicketComment:
    actor = require_technician()
    with state().db.session() as session:
        ticket = _ticket(session, ticket_ref)
        added = tickets.add_comment(
            session,
            ticket,
            author=body.author or actor.removeprefix("apikey:"),
            kind="technician",
            body=body.body,
            public=body.public,
            actor=actor,
        )
        return tickets.comment_view(added)
