"""OS updates in the portal: the compliance of each machine (technicians see every client, a
customer their own), the approval queue across machines, each scope's policy (technicians), and one
machine's updates with what the policy makes of them, its install history and, for technicians,
approve / deny / scan now / install now.

Where the MSP lets a client co-approve, its administrators approve or postpone from the queue and
the machine's page (:mod:`lanet.server.services.patches.coapproval`). The same services as
``lanet-server patches`` and the technicians' API, audited as ``user:<email>``.
"""

import re
from typing import Any

from flask import Response, abort, g, render_template, request

from lanet.protocol.limits import UPDATE_ID_PATTERN
from lanet.protocol.values import PATCH_CLASSIFICATIONS, PATCH_SEVERITIES, SCRIPT_TYPES
from lanet.server.models import Client
from lanet.server.models.base import utcnow
from lanet.server.portal import patch_policy_form
from lanet.server.portal.auth import login_required, staff_required
from lanet.server.portal.blueprint import back, bp
from lanet.server.portal.scope import asset_for, not_found
from lanet.server.services import config_push
from lanet.server.services.patches import coapproval, decisions, queue, reports, requests, scans
from lanet.server.services.patches.policy import PolicyError
from lanet.server.services.tenancy import get_client, list_clients
from lanet.server.state import state


@bp.route("/patches")
@login_required
def patches_page() -> str:
    viewer = g.viewer
    with state().db.session() as session:
        rows = scans.compliance(session, None if viewer.is_staff else viewer.client_id)
        summary = {
            "machines": len(rows),
            "up_to_date": sum(1 for r in rows if r.up_to_date),
            "missing_security": sum(1 for r in rows if r.missing_security),
            "reboot_pending": sum(1 for r in rows if r.reboot_pending),
            "never_scanned": sum(1 for r in rows if r.last_scan is None),
        }
        return render_template("portal/patches.html", rows=rows, summary=summary)


@bp.route("/assets/<asset_id>/patches")
@login_required
def asset_patches_page(asset_id: str) -> str:
    with state().db.session() as session:
        asset = asset_for(session, g.viewer, asset_id)
        planned = {p.update_id: p.decision for p in decisions.decisions_for(session, asset, utcnow())}
        history = scans.scan_history(session, asset.id, limit=1)
        return render_template(
            "portal/asset_patches.html",
            asset=asset,
            updates=scans.asset_patches(session, asset.id),
            planned=planned,
            last_scan=history[0] if history else None,
            runs=reports.report_history(session, asset.id, limit=10),
            events=scans.events_of(session, asset.id, limit=30),
            policy=(policy := decisions.effective_policy(session, asset)),
            window=policy.window,
            co_approver=_co_approver(session),
            defer_days=decisions.client_policy(session, asset.client_id).customer_defer_days,
        )


def _co_approver(session: Any) -> bool:
    """Whether the customer looking co-approves their client's updates (never staff: they decide)."""
    viewer = g.viewer
    return not viewer.is_staff and coapproval.may_co_approve(session, viewer.client_id, viewer.role)


@bp.route("/assets/<asset_id>/patches/decide", methods=["POST"])
@login_required
def asset_patches_decide(asset_id: str) -> Response:
    with state().db.session() as session:
        asset = asset_for(session, g.viewer, asset_id)
        client = get_client(session, asset.client_id)
        if client is None:
            not_found()
        notice = _decide(session, client)
    return back("portal.asset_patches_page", notice, asset_id=asset_id)


def _decide(session: Any, client: Client) -> str:
    """One decision from the form, by a technician or a co-approving customer administrator; the
    notice to show. Anyone else meets a 404, as for a form that does not exist."""
    viewer = g.viewer
    update_id = request.form.get("update_id", "")
    verdict = request.form.get("decision", "")
    if not viewer.is_staff and not _co_approver(session):
        abort(404)
    allowed = ("approve", "deny") if viewer.is_staff else ("approve", "postpone")
    if verdict not in allowed or not re.match(UPDATE_ID_PATTERN, update_id):
        return "patch_invalid"
    now = utcnow()
    if viewer.is_staff:
        decisions.decide(session, client, update_id, verdict, actor=viewer.actor, reason=None, now=now)
    else:
        days = request.form.get("days", "")
        try:
            coapproval.customer_decide(
                session,
                client,
                update_id,
                "approve" if verdict == "approve" else "postpone",
                role=viewer.role,
                actor=viewer.actor,
                now=now,
                days=int(days) if days.isdigit() else 0,
            )
        except coapproval.CoApprovalRefused as refused:
            return f"patch_refused_{refused.code}"
    state().scan_requests.invalidate()
    return {"approve": "patch_approved", "deny": "patch_denied"}.get(verdict, "patch_postponed")


@bp.route("/patches/queue")
@login_required
def patches_queue_page() -> str:
    viewer = g.viewer
    chosen = request.args.get("client", "") if viewer.is_staff else viewer.client_id
    with state().db.session() as session:
        clients = list_clients(session) if viewer.is_staff else []
        rows = queue.waiting(session, viewer.tenancy, utcnow(), client_id=chosen or None)
        return render_template(
            "portal/patch_queue.html",
            rows=rows,
            clients=clients,
            chosen=chosen,
            co_approver=_co_approver(session),
            defer_days=decisions.client_policy(session, viewer.client_id).customer_defer_days
            if viewer.client_id
            else 0,
        )


@bp.route("/patches/queue/decide", methods=["POST"])
@login_required
def patches_queue_decide() -> Response:
    viewer = g.viewer
    client_id = request.form.get("client_id", "")
    if not viewer.may_see(client_id):
        not_found()
    with state().db.session() as session:
        client = get_client(session, client_id) if len(client_id) <= 64 else None
        if client is None:
            not_found()
        notice = _decide(session, client)
    return back("portal.patches_queue_page", notice, client=client_id if viewer.is_staff else "")


_SCOPE_KINDS = ("client", "site", "asset")


@bp.route("/patches/policy/<kind>/<scope_id>", methods=["GET", "POST"])
@staff_required
def patch_policy_page(kind: str, scope_id: str) -> Any:
    if kind not in _SCOPE_KINDS or len(scope_id) > 64:
        not_found()
    with state().db.session() as session:
        try:
            scope = config_push.resolve_scope(session, kind, scope_id)
        except config_push.ScopeNotFoundError:
            not_found()
        errors: dict[str, str] = {}
        if request.method == "POST":
            parsed = patch_policy_form.parse(request.form)
            errors = parsed.errors
            if not errors:
                try:
                    decisions.set_policy(session, scope, parsed.changes, actor=g.viewer.actor, now=utcnow())
                except PolicyError:
                    errors = {"form": "policy"}
        if request.method == "GET" or errors:  # nothing was written
            own = decisions.policy_settings(session, scope)
            return render_template(
                "portal/patch_policy.html",
                scope=scope,
                name=_scope_name(session, scope),
                form=patch_policy_form.echo(request.form) if errors else patch_policy_form.values(own),
                errors=errors,
                inherited=decisions.inherited_policy(session, scope),
                classifications=PATCH_CLASSIFICATIONS,
                severities=PATCH_SEVERITIES,
                script_types=SCRIPT_TYPES,
                rule_rows=patch_policy_form.RULE_ROWS,
            ), (400 if errors else 200)
    state().scan_requests.invalidate()
    return back("portal.patch_policy_page", "patch_policy_saved", kind=kind, scope_id=scope_id)


def _scope_name(session: Any, scope: config_push.Scope) -> str:
    from lanet.server.models import Asset, Site

    model = {"client": Client, "site": Site, "asset": Asset}[scope.kind]
    row = session.get(model, scope.id)
    return str(row.computer_name if scope.kind == "asset" else row.name)


@bp.route("/assets/<asset_id>/patches/scan", methods=["POST"])
@staff_required
def asset_patches_scan(asset_id: str) -> Any:
    install_now = request.form.get("install_now") == "1"
    with state().db.session() as session:
        asset = asset_for(session, g.viewer, asset_id)
        requests.request_scan(session, asset, actor=g.viewer.actor, now=utcnow(), install_now=install_now)
    state().scan_requests.invalidate()
    return back(
        "portal.asset_patches_page", "patch_install_now" if install_now else "patch_scan", asset_id=asset_id
    )
