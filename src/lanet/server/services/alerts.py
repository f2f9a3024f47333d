"""Alerts the agents raise, and the tickets critical ones open.

:func:`record` runs inside the heartbeat's Core transaction: one open alert per asset, type and
resource, refreshed while it lasts and resolved when the agent says so. The tickets are opened after
that transaction commits, in an ORM session of their own (:func:`open_tickets`), as the command
deliveries are: the heartbeat's hot path stays Core, and a ticket is written durably with its history
and audit entries. Should the server stop between the two, the maintenance pass opens what is missing
(:func:`open_missing_tickets`): a ticket is never opened twice for one alert (``tickets.alert_id`` is
unique), so running it again is harmless.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lanet.protocol.heartbeat import Alert as AlertMessage
from lanet.server.db import Database
from lanet.server.models import Alert, Asset, Ticket
from lanet.server.models.assets import ALERT_OPEN, ALERT_RESOLVED, STATUS_ONLINE, STATUS_WARNING
from lanet.server.models.base import table_of, utcnow
from lanet.server.services import config_push, tickets

alerts = table_of(Alert)
assets = table_of(Asset)

#: The maintenance pass looks this far back for critical alerts still without their ticket.
MISSING_TICKET_WINDOW = timedelta(hours=1)
#: The server's own alerts, made by :mod:`.predictions` from the machine's history.
DISK_FORECAST = "disk_forecast"
CPU_ANOMALY = "cpu_anomaly"
MEMORY_ANOMALY = "memory_anomaly"
PREDICTED_TYPES = frozenset({DISK_FORECAST, CPU_ANOMALY, MEMORY_ANOMALY})
#: Alerts that open a ticket whatever their severity: a disk that will be full tomorrow is work for
#: today, a warning of it is the point.
TICKETED_TYPES = frozenset({DISK_FORECAST})
#: Alert types about the machine itself; the rest open software tickets.
HARDWARE_TYPES = frozenset({"cpu_usage", "memory_usage", "disk_space", *PREDICTED_TYPES})


def _insert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(alerts)


def record(conn: Connection, asset_id: str, messages: list[AlertMessage], now: datetime) -> list[int]:
    """Open or refresh, and resolve, the asset's alerts; update its open count and status. Returns
    the ids of the alerts that want a ticket (critical ones, and :data:`TICKETED_TYPES`), which
    :func:`open_tickets` opens."""
    is_open = alerts.c.status == ALERT_OPEN
    critical: list[int] = []
    for message in messages:
        resource = message.resource or ""
        if message.state == "resolved":
            conn.execute(
                update(alerts)
                .where(
                    alerts.c.asset_id == asset_id,
                    alerts.c.type == message.type,
                    alerts.c.resource == resource,
                    is_open,
                )
                .values(
                    status=ALERT_RESOLVED,
                    resolved_at=now,
                    updated_at=now,
                    current_value=message.current_value,
                )
            )
            continue
        stmt = _insert(conn).values(
            asset_id=asset_id,
            type=message.type,
            resource=resource,
            severity=message.severity,
            message=message.message,
            threshold=message.threshold,
            current_value=message.current_value,
            status=ALERT_OPEN,
            occurrences=1,
            opened_at=now,
            updated_at=now,
        )
        alert_id = conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[alerts.c.asset_id, alerts.c.type, alerts.c.resource],
                index_where=is_open,
                set_={
                    "severity": stmt.excluded.severity,
                    "message": stmt.excluded.message,
                    "threshold": stmt.excluded.threshold,
                    "current_value": stmt.excluded.current_value,
                    "occurrences": alerts.c.occurrences + 1,
                    "updated_at": stmt.excluded.updated_at,
                },
            ).returning(alerts.c.id)
        ).scalar_one()
        if message.severity == "critical" or message.type in TICKETED_TYPES:
            critical.append(int(alert_id))
    open_count = select(func.count()).select_from(alerts).where(alerts.c.asset_id == asset_id, is_open)
    conn.execute(
        update(assets)
        .where(assets.c.id == asset_id)
        .values(
            open_alerts=open_count.scalar_subquery(),
            agent_status=case((open_count.scalar_subquery() > 0, STATUS_WARNING), else_=STATUS_ONLINE),
        )
    )
    return critical


def open_tickets(db: Database, asset_id: str, alert_ids: list[int]) -> list[str]:
    """Open one ticket per critical alert that has none, when the asset's effective
    ``auto_ticket_creation`` is on. Returns the new tickets' ids."""
    if not alert_ids:
        return []
    with db.session() as session:
        return _open(session, asset_id, alert_ids)


def open_missing_tickets(db: Database, now: datetime | None = None) -> int:
    """The maintenance pass's share: alerts that want a ticket, still open and refreshed recently,
    that have none yet (their heartbeat committed, the ticket did not). Returns how many were
    opened."""
    since = (now or utcnow()) - MISSING_TICKET_WINDOW
    with db.session() as session:
        pending = session.execute(
            select(Alert.asset_id, Alert.id)
            .outerjoin(Ticket, Ticket.alert_id == Alert.id)
            .where(
                Alert.status == ALERT_OPEN,
                or_(Alert.severity == "critical", Alert.type.in_(TICKETED_TYPES)),
                Alert.updated_at >= since,
                Ticket.id.is_(None),
            )
        ).all()
    by_asset: dict[str, list[int]] = {}
    for asset_id, alert_id in pending:
        by_asset.setdefault(asset_id, []).append(alert_id)
    return sum(len(open_tickets(db, asset_id, ids)) for asset_id, ids in by_asset.items())


def _open(session: Session, asset_id: str, alert_ids: list[int]) -> list[str]:
    asset = session.get(Asset, asset_id, with_for_update=True)  # one opener per asset at a time
    if asset is None or asset.retired_at is not None:
        return []
    effective = config_push.effective_overrides(
        session.connection(), asset.client_id, asset.site_id, asset.id
    )
    if not effective.get("auto_ticket_creation", (False, 0))[0]:
        return []
    already = set(session.scalars(select(Ticket.alert_id).where(Ticket.alert_id.in_(alert_ids))))
    opened = []
    for alert in session.scalars(select(Alert).where(Alert.id.in_(alert_ids), Alert.asset_id == asset_id)):
        if alert.id in already:
            continue
        ticket = _ticket_for(session, asset, alert)
        tickets.record_new(
            session, ticket, f"agent:{asset.id}", {"alert_id": alert.id, "auto": True}, history_actor="system"
        )
        opened.append(ticket.id)
    return opened


def _ticket_for(session: Session, asset: Asset, alert: Alert) -> Ticket:
    detail = f"Tipo: {alert.type}" + (f"; recurso: {alert.resource}" if alert.resource else "")
    if alert.current_value is not None:
        detail += f"; valor: {alert.current_value} (umbral {alert.threshold})"
    if alert.type in PREDICTED_TYPES:
        origin = f"Pronóstico hecho por el servidor con el historial de {asset.computer_name}."
    else:
        origin = f"Alerta crítica detectada automáticamente por el agente en {asset.computer_name}."
    return Ticket(
        number=tickets.next_number(session),
        subject=f"[{asset.computer_name}] {alert.message}"[:255],
        description=f"{origin}\n{alert.message}\n{detail}",
        category="hardware" if alert.type in HARDWARE_TYPES else "software",
        priority="critica" if alert.severity == "critical" else "alta",
        status="nuevo",
        channel="agente",
        asset_id=asset.id,
        client_id=asset.client_id,
        site_id=asset.site_id,
        created_by_agent=True,
        alert_id=alert.id,
        auto_info={
            "alert": {
                "type": alert.type,
                "resource": alert.resource,
                "severity": alert.severity,
                "current_value": alert.current_value,
                "threshold": alert.threshold,
            }
        },
    )


def alerts_of(session: Session, asset_id: str, limit: int = 50) -> list[Alert]:
    """Open alerts first, then the most recent past ones (for the portal)."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.asset_id == asset_id)
            .order_by(case((Alert.status == ALERT_OPEN, 0), else_=1), Alert.updated_at.desc())
            .limit(limit)
        )
    )
