"""Assets: the list per site with their state now, and one asset's inventory, metrics, alerts, logs
and tickets. ``metrics.json`` feeds the live charts."""

from datetime import timedelta
from typing import Any

from flask import g, jsonify, render_template, request

from lanet.protocol.common import format_timestamp
from lanet.server.models import Asset, DiskForecast
from lanet.server.models.assets import STATUS_NEVER, STATUS_OFFLINE, STATUS_ONLINE, STATUS_WARNING
from lanet.server.portal.auth import login_required
from lanet.server.portal.blueprint import bp
from lanet.server.portal.i18n import time_ahead
from lanet.server.portal.scope import asset_for, site_for
from lanet.server.services import alerts, commands, fleet, presence, tickets, timeseries
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
        if site_id:
            site_for(session, viewer, site_id)  # 404 for another client's site
        found = fleet.fleet(
            session,
            viewer.tenancy,
            site_id=site_id or None,
            status=status if status in STATUSES else None,
            text=text or None,
            page=_page_number(request.args.get("page", "1")),
        )
        return render_template(
            "portal/assets.html",
            groups=found.by_site(),
            sites=found.sites,
            total=found.total,
            counts={s: found.counts.get(s, 0) for s in STATUSES},
            page=found.page,
            pages=found.pages,
            q=text,
            status=status,
            site_id=site_id,
            statuses=STATUSES,
        )


def _page_number(text: str) -> int:
    """A page asked for in the URL; anything that is not a page number is the first page."""
    return int(text) if text.isdigit() and len(text) < 7 else 1


@bp.route("/assets/<asset_id>")
@login_required
def asset(asset_id: str) -> str:
    viewer = g.viewer
    software_text = request.args.get("sq", "").strip()[:100]
    with state().db.session() as session:
        item = asset_for(session, viewer, asset_id)
        software, software_total = fleet.software_of(session, item.id, software_text or None)
        asset_tickets, open_count = tickets.for_asset(session, item.id, limit=50)
        return render_template(
            "portal/asset.html",
            asset=item,
            replaces=fleet.predecessor(session, item),
            hardware=_hardware_rows(item.hardware or {}),
            software=software,
            software_total=software_total,
            sq=software_text,
            services=fleet.services_of(session, item.id),
            updates=item.updates or {},
            alerts=alerts.alerts_of(session, item.id),
            logs=timeseries.recent_logs(session, item.id),
            tickets=asset_tickets,
            open_tickets=open_count,
            commands=commands.recent_for_asset(session, item.id) if viewer.is_staff else [],
            command_types=COMMAND_TYPES,
            ranges=list(timeseries.RANGES),
            forecasts=timeseries.forecasts_of(session, item.id),
        )


def status_of(asset: Asset) -> str:
    """The asset's state now: offline as soon as its deadline passed, before maintenance writes it."""
    return presence.status_now(asset)


bp.add_app_template_global(status_of, "status_of")
bp.add_app_template_global(time_ahead, "time_ahead")


def _hardware_rows(hardware: dict[str, Any]) -> list[tuple[str, Any]]:
    skip = {"software", "services", "updates"}
    return [
        (key, value) for key, value in hardware.items() if key not in skip and value not in (None, "", [])
    ]


@bp.route("/assets/<asset_id>/metrics.json")
@login_required
def asset_metrics(asset_id: str) -> Any:
    range_name = request.args.get("range", "hour")
    if range_name not in timeseries.RANGES:
        return jsonify(error=f"range must be one of {', '.join(timeseries.RANGES)}"), 400
    with state().db.session() as session:
        item = asset_for(session, g.viewer, asset_id)
        points = timeseries.metric_series(session, item.id, range_name)
        forecasts = timeseries.forecasts_of(session, item.id)
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
            forecasts=[_forecast_json(f) for f in forecasts],
        )


def _forecast_json(found: DiskForecast) -> dict[str, Any]:
    """A disk's forecast for the chart: where its line starts (now, used) and where it reaches
    100 % (``full_at``), with the ETA as the page says it."""
    full_at = None
    if found.eta_hours is not None:
        full_at = format_timestamp(found.computed_at + timedelta(hours=found.eta_hours))
    return {
        "mount": found.mount,
        "used": found.used,
        "slope": found.slope,
        "level": found.level,
        "computed_at": format_timestamp(found.computed_at),
        "full_at": full_at,
        "eta": time_ahead(found.eta_hours),
    }
