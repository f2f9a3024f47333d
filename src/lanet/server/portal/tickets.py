"""Tickets in the portal: a customer follows and comments on their client's tickets and rates the
resolved ones; technicians work the inbox (assign, change status, public or internal comments)."""

from typing import Any

from flask import Response, abort, g, render_template, request

from lanet.protocol.limits import CATEGORIES
from lanet.protocol.tickets import format_ticket_number
from lanet.server.models import Ticket
from lanet.server.portal.auth import login_required, staff_required
from lanet.server.portal.blueprint import back, bp
from lanet.server.portal.scope import ticket_visible
from lanet.server.services import tenancy
from lanet.server.services import tickets as ticket_service
from lanet.server.state import state

MAX_COMMENT = 20_000


@bp.route("/tickets")
@login_required
def tickets() -> str:
    viewer = g.viewer
    status = request.args.get("status", "")
    text = request.args.get("q", "").strip()[:100]
    client_id = request.args.get("client", "") if viewer.is_staff else ""
    with state().db.session() as session:
        rows = ticket_service.search(
            session, viewer.tenancy, status=status or None, client_id=client_id or None, text=text or None
        )
        clients = tenancy.list_clients(session) if viewer.is_staff else []
        return render_template(
            "portal/tickets.html",
            tickets=rows,
            status=status,
            q=text,
            client_id=client_id,
            clients=clients,
            statuses=ticket_service.STATUSES,
        )


def _find(session: Any, ref: str) -> Ticket:
    ticket = ticket_service.find(session, ref) if len(ref) <= 64 else None
    return ticket_visible(g.viewer, ticket)


@bp.route("/tickets/<ref>")
@login_required
def ticket(ref: str) -> str:
    with state().db.session() as session:
        item = _find(session, ref)
        comments = [c for c in item.comments if c.public or g.viewer.is_staff]
        return render_template(
            "portal/ticket.html",
            ticket=item,
            comments=comments,
            category=CATEGORIES.get(item.category, (item.category, item.category)),
            statuses=ticket_service.STATUSES,
        )


@bp.route("/tickets/<ref>/screenshot.png")
@login_required
def ticket_screenshot(ref: str) -> Response:
    with state().db.session() as session:
        item = _find(session, ref)
        if not item.attachments:
            abort(404)
        attachment = item.attachments[0]
        response = Response(attachment.data, mimetype="image/png")
        response.headers["Content-Disposition"] = f'inline; filename="{item.id}.png"'
        return response


@bp.route("/tickets/<ref>/comment", methods=["POST"])
@login_required
def ticket_comment(ref: str) -> Response:
    body = request.form.get("body", "").strip()
    internal = g.viewer.is_staff and request.form.get("internal") == "1"
    with state().db.session() as session:
        item = _find(session, ref)
        if not body or len(body) > MAX_COMMENT:
            notice = "comment_invalid"
        else:
            ticket_service.add_comment(
                session,
                item,
                author=g.viewer.name,
                kind="technician" if g.viewer.is_staff else "requester",
                body=body,
                public=not internal,
                actor=g.viewer.actor,
            )
            notice = "comment_added"
        return back("portal.ticket", notice, ref=_number(item))


@bp.route("/tickets/<ref>/rate", methods=["POST"])
@login_required
def ticket_rate(ref: str) -> Response:
    rating = request.form.get("rating", "")
    comment = request.form.get("comment", "").strip()[:2000] or None
    with state().db.session() as session:
        item = _find(session, ref)
        if rating not in {"1", "2", "3", "4", "5"}:
            notice = "rating_invalid"
        else:
            try:
                ticket_service.rate(session, item, int(rating), comment, g.viewer.actor)
                notice = "rated"
            except ticket_service.TicketError:
                notice = "rating_refused"
        return back("portal.ticket", notice, ref=_number(item))


@bp.route("/tickets/<ref>/status", methods=["POST"])
@staff_required
def ticket_status(ref: str) -> Response:
    status = request.form.get("status", "")
    with state().db.session() as session:
        item = _find(session, ref)
        try:
            ticket_service.set_status(session, item, status, g.viewer.actor)
            notice = "status_changed"
        except ticket_service.TicketError:
            notice = "status_invalid"
        return back("portal.ticket", notice, ref=_number(item))


@bp.route("/tickets/<ref>/assign", methods=["POST"])
@staff_required
def ticket_assign(ref: str) -> Response:
    technician = request.form.get("technician", "").strip()[:255] or g.viewer.name
    with state().db.session() as session:
        item = _find(session, ref)
        ticket_service.assign(session, item, technician, g.viewer.actor)
        notice = "assigned"
        return back("portal.ticket", notice, ref=_number(item))


def _number(ticket: Ticket) -> str:
    return format_ticket_number(ticket.number)


bp.add_app_template_filter(_number, "ticket_number")
