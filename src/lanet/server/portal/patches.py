"""OS updates in the portal: the compliance of each machine (technicians see every client, a
customer their own), and one machine's updates with what the policy makes of them, its install
history and, for technicians, approve / deny / scan now / install now.

The same services as ``lanet-server patches`` and the technicians' API, audited as
``user:<email>``.
"""

from typing import Any

from flask import Response, g, render_template, request

from lanet.protocol.limits import UPDATE_ID_PATTERN
from lanet.server.models.base import utcnow
from lanet.server.portal.auth import login_required, staff_required
from lanet.server.portal.blueprint import back, bp
from lanet.server.portal.scope import asset_for, not_found
from lanet.server.services.patches import decisions, reports, requests, scans
from lanet.server.services.tenancy import get_client
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
        )


@bp.route("/assets/<asset_id>/patches/decide", methods=["POST"])
@staff_required
def asset_patches_decide(asset_id: str) -> Response:
    import re

    update_id = request.form.get("update_id", "")
    verdict = request.form.get("decision", "")
    if verdict not in ("approve", "deny") or not re.match(UPDATE_ID_PATTERN, update_id):
        return back("portal.asset_patches_page", "patch_invalid", asset_id=asset_id)
    with state().db.session() as session:
        asset = asset_for(session, g.viewer, asset_id)
        client = get_client(session, asset.client_id)
        if client is None:
            not_found()
        decisions.decide(session, client, update_id, verdict, actor=g.viewer.actor, reason=None, now=utcnow())
    state().scan_requests.invalidate()
    return back(
        "portal.asset_patches_page",
        "patch_approved" if verdict == "approve" else "patch_denied",
        asset_id=asset_id,
    )


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
