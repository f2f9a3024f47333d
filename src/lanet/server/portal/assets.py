"""Assets: the list per site with their state now, and one asset's inventory, metrics, alerts, logs
and tickets. ``metrics.json`` feeds the live charts."""

import time
from typing import Any

from flask import g, jsonify, render_template, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from lanet.protocol.common import format_timestamp
from lanet.server.db import contains_text
from lanet.server.models import Asset, AssetService, AssetSoftware, Command, Site
from lanet.server.models.assets import STATUS_NEVER, STATUS_OFFLINE, STATUS_ONLINE, STATUS_WARNING
from lanet.server.portal.auth import login_required
from lanet.server.portal.blueprint import bp
from lanet.server.portal.scope import asset_for, site_for
from lanet.server.services import telemetry, tickets
from lanet.server.services.commands import COMMAND_TYPES
from lanet.server.state import state

STATUSES = (STATUS_ONLINE, STATUS_WARNING, STATUS_OFFLINE, STATUS_NEVER)


@bp.route("/")
@bp.route("/assets")
@login_required
def assets() -> str:
    viewer = g.viewer
    text = request.args.get("q", "").strip()[:100]
    status = request.args.get("status", "")
    site_id = request.args.get("site", "")
    with state().db.session() as session:
        query = (
            select(Asset)
            .options(joinedload(Asset.site), joinedload(Asset.client))
            .where(Asset.retired_at.is_(None))
        )
        query = viewer.limit(query, Asset.client_id)
        if site_id:
            site_for(session, viewer, site_id)  # 404 for another client's site
            query = query.where(Asset.site_id == site_id)
        if status in STATUSES:
            # The same rule as the maintenance pass, so a filter never lags it by one round.
            overdue = Asset.offline_deadline < int(time.time())
            if status == STATUS_OFFLINE:
                query = query.where(or_(Asset.agent_status == status, overdue))
            else:
                query = query.where(Asset.agent_status == status, ~overdue | Asset.offline_deadline.is_(None))
        if text:
            query = query.where(
                contains_text(text, Asset.computer_name, Asset.assigned_user, Asset.ip_address, Asset.os)
            )
        rows = list(session.scalars(query.order_by(Asset.computer_name)).unique())
        sites = list(
            session.scalars(
                viewer.limit(select(Site).options(joinedload(Site.client)), Site.client_id).order_by(
                    Site.name
                )
            )
        )
        by_site: dict[str, list[Asset]] = {}
        for asset in rows:
            by_site.setdefault(asset.site_id, []).append(asset)
        groups = [(site, by_site[site.id]) for site in sites if site.id in by_site]
        counts = {s: sum(1 for a in rows if status_of(a) == s) for s in STATUSES}
        return render_template(
            "portal/assets.html",
            groups=groups,
            sites=sites,
            total=len(rows),
            counts=counts,
            q=text,
            status=status,
            site_id=site_id,
            statuses=STATUSES,
        )


@bp.route("/assets/<asset_id>")
@login_required
def asset(asset_id: str) -> str:
    viewer = g.viewer
    software_text = request.args.get("sq", "").strip()[:100]
    with state().db.session() as session:
        item = asset_for(session, viewer, asset_id)
        software_query = select(AssetSoftware).where(AssetSoftware.asset_id == item.id)
        if software_text:
            software_query = software_query.where(
                contains_text(software_text, AssetSoftware.name, AssetSoftware.publisher)
            )
        software = list(session.scalars(software_query.order_by(func.lower(AssetSoftware.name)).limit(2000)))
        software_total = session.scalar(
            select(func.count()).select_from(AssetSoftware).where(AssetSoftware.asset_id == item.id)
        )
        services = list(
            session.scalars(
                select(AssetService)
                .where(AssetService.asset_id == item.id)
                .order_by(func.lower(AssetService.name))
            )
        )
        asset_tickets, open_count = tickets.for_asset(session, item.id, limit=50)
        replaces = session.get(Asset, item.replaces_asset_id) if item.replaces_asset_id else None
        commands = []
        if viewer.is_staff:
            commands = list(
                session.scalars(
                    select(Command)
                    .where(Command.asset_id == item.id)
                    .order_by(Command.queued_at.desc())
                    .limit(20)
                )
            )
        return render_template(
            "portal/asset.html",
            asset=item,
            replaces=replaces,
            hardware=_hardware_rows(item.hardware or {}),
            software=software,
            software_total=software_total,
            sq=software_text,
            services=services,
            updates=item.updates or {},
            alerts=telemetry.alerts_of(session, item.id),
            logs=telemetry.recent_logs(session, item.id),
            tickets=asset_tickets,
            open_tickets=open_count,
            commands=commands,
            command_types=COMMAND_TYPES,
            ranges=list(telemetry.RANGES),
        )


def status_of(asset: Asset) -> str:
    """The asset's state now: offline as soon as its deadline passed, before maintenance writes it."""
    if asset.offline_deadline is not None and asset.offline_deadline < time.time():
        return STATUS_OFFLINE
    return asset.agent_status


bp.add_app_template_global(status_of, "status_of")


def _hardware_rows(hardware: dict[str, Any]) -> list[tuple[str, Any]]:
    skip = {"software", "services", "updates"}
    return [
        (key, value) for key, value in hardware.items() if key not in skip and value not in (None, "", [])
    ]


@bp.route("/assets/<asset_id>/metrics.json")
@login_required
def asset_metrics(asset_id: str) -> Any:
    range_name = request.args.get("range", "hour")
    if range_name not in telemetry.RANGES:
        return jsonify(error=f"range must be one of {', '.join(telemetry.RANGES)}"), 400
    with state().db.session() as session:
        item = asset_for(session, g.viewer, asset_id)
        points = telemetry.metric_series(session, item.id, range_name)
        return jsonify(
            range=range_name,
            now={
                "status": status_of(item),
                "last_seen": format_timestamp(item.last_seen) if item.last_seen else None,
                "cpu_usage": item.cpu_usage,
                "memory_usage": item.memory_usage,
                "disk_usage": item.disk_usage,
                "open_alerts": item.open_alerts,
            },
            points=[{**p, "t": format_timestamp(p["t"])} for p in points],
        )
