"""Predictions the server makes from each machine's history, raised as alerts.

Every :data:`PREDICT_EVERY` seconds (the forecasts' own check interval), for each machine heard from
in the last hour:

- each disk's **fill forecast** (:mod:`.forecast`) is stored in ``disk_forecasts`` (the asset page
  and its chart show it) and, at warning or critical, kept as a ``disk_forecast`` alert on that
  disk, which opens a ticket when the machine's ``auto_ticket_creation`` is on ("El disco C: se
  llenará en unas 18 horas");
- **CPU and memory anomalies** against the machine's own hour of the week (:mod:`.anomaly`) are
  kept as ``cpu_anomaly`` / ``memory_anomaly`` warnings. Only machines whose last heartbeat is above
  the smallest rise that counts are examined: an idle PC costs nothing, not its month of history.

An alert is refreshed at every pass while its prediction holds and resolved at the first pass it
does not. One machine's failure is logged and the others go on.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from lanet.protocol.heartbeat import Alert as AlertMessage
from lanet.server.db import Database
from lanet.server.models import Alert, Asset
from lanet.server.models.assets import ALERT_OPEN
from lanet.server.models.base import table_of, utcnow
from lanet.server.models.timeseries import DiskForecast
from lanet.server.services import alerts, anomaly, forecast, timeseries

log = logging.getLogger(__name__)

PREDICT_EVERY = int(forecast.CHECK_EVERY)
#: Machines silent for longer are not predicted (their forecast would only repeat the last one).
ACTIVE = timedelta(hours=1)
#: 5-minute averages per hour of the week that make a baseline: the hour seen once.
FINE_SLOT_SAMPLES = 3600 // timeseries.FINE
ANOMALY_TYPES = {"cpu": alerts.CPU_ANOMALY, "memory": alerts.MEMORY_ANOMALY}
_LABELS = {"cpu": "CPU", "memory": "memoria"}
#: The used share of a disk past which each forecast level may fire (100 - its free-space limit).
_USED_OVER = {level: 100.0 - free for level, free, _ in forecast.LEVELS}

forecasts = table_of(DiskForecast)
alerts_table = table_of(Alert)
assets = table_of(Asset)


@dataclass
class Predicted:
    assets: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    tickets: list[str] = field(default_factory=list)


def predict(db: Database, now: datetime | None = None, *, force: bool = False) -> Predicted:
    """One prediction pass over the active machines, unless one ran less than
    :data:`PREDICT_EVERY` seconds ago (any backend process may run it; ``force`` runs it anyway)."""
    now = now or utcnow()
    stamp = int(now.timestamp())
    with db.engine.begin() as conn:
        last = timeseries.read_mark(conn, "predicted_at")
        if not force and last is not None and stamp - last < PREDICT_EVERY:
            return Predicted()
        timeseries.write_mark(conn, "predicted_at", stamp)
        rows = conn.execute(
            select(assets.c.id, assets.c.cpu_usage, assets.c.memory_usage).where(
                assets.c.retired_at.is_(None), assets.c.last_seen >= now - ACTIVE
            )
        ).all()
    active = [row.id for row in rows]
    # An anomaly needs every recent sample at least MIN_RISE above the usual, so a machine whose
    # last heartbeat is below MIN_RISE cannot be having one: its history is not read.
    busy = {
        "cpu": {row.id for row in rows if (row.cpu_usage or 0) >= anomaly.MIN_RISE},
        "memory": {row.id for row in rows if (row.memory_usage or 0) >= anomaly.MIN_RISE},
    }
    result = Predicted(assets=len(active))
    for asset_id in active:
        try:
            _predict_asset(db, asset_id, busy, now, result)
        except Exception:
            log.exception("predictions for asset %s failed; the others go on", asset_id)
    return result


def _predict_asset(
    db: Database, asset_id: str, busy: dict[str, set[str]], now: datetime, result: Predicted
) -> None:
    stamp = now.timestamp()
    with db.engine.begin() as conn:
        open_now = {
            (row.type, row.resource)
            for row in conn.execute(
                select(alerts_table.c.type, alerts_table.c.resource).where(
                    alerts_table.c.asset_id == asset_id,
                    alerts_table.c.status == ALERT_OPEN,
                    alerts_table.c.type.in_(alerts.PREDICTED_TYPES),
                )
            )
        }
        messages: list[AlertMessage] = []
        history = timeseries.disk_history(conn, asset_id, now)
        for mount, points in history.items():
            found = forecast.disk_forecast(points, stamp)
            _store(conn, asset_id, mount, found, now)
            messages += _transition(open_now, alerts.DISK_FORECAST, mount[:255], _disk_alert(mount, found))
        conn.execute(
            delete(forecasts).where(forecasts.c.asset_id == asset_id, forecasts.c.mount.not_in(list(history)))
        )
        for resource in {r for t, r in open_now if t == alerts.DISK_FORECAST} - {m[:255] for m in history}:
            messages.append(_resolved(alerts.DISK_FORECAST, resource))  # the disk is gone
        for metric, kind in ANOMALY_TYPES.items():
            found_anomaly = None
            if asset_id in busy[metric]:
                series = timeseries.metric_history(conn, asset_id, metric, now)
                found_anomaly = anomaly.anomaly_at(series, stamp, FINE_SLOT_SAMPLES)
            messages += _transition(open_now, kind, "", _anomaly_alert(kind, metric, found_anomaly))
        if not messages:
            return
        ticketed = alerts.record(conn, asset_id, messages, now)
    result.alerts_opened += sum(
        1 for m in messages if m.state == "open" and (m.type, m.resource or "") not in open_now
    )
    result.alerts_resolved += sum(1 for m in messages if m.state == "resolved")
    result.tickets += alerts.open_tickets(db, asset_id, ticketed)


def _transition(
    open_now: set[tuple[str, str]], kind: str, resource: str, raised: AlertMessage | None
) -> list[AlertMessage]:
    """The alert to send: the prediction's (refreshed while it holds), a resolution when it
    stopped holding, or nothing."""
    if raised is not None:
        return [raised]
    return [_resolved(kind, resource)] if (kind, resource) in open_now else []


def _resolved(kind: str, resource: str) -> AlertMessage:
    return AlertMessage(type=kind, resource=resource or None, state="resolved", message="resuelto")


def _store(conn: Connection, asset_id: str, mount: str, found: forecast.Forecast, now: datetime) -> None:
    values = {
        "asset_id": asset_id,
        "mount": mount,
        "computed_at": now,
        "used": found.used,
        "slope": found.slope,
        "eta_hours": found.eta_hours,
        "level": found.level,
    }
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(forecasts).values(values)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[forecasts.c.asset_id, forecasts.c.mount],
            set_={k: v for k, v in values.items() if k not in ("asset_id", "mount")},
        )
    )


def eta_text(hours: float) -> str:
    """An ETA in the alert's Spanish: "menos de una hora", "unas 18 horas", "unos 3 días"."""
    unit, count = forecast.eta_rounded(hours)
    return {
        "under_an_hour": "menos de una hora",
        "an_hour": "una hora",
        "hours": f"unas {count} horas",
        "days": f"unos {count} días",
    }[unit]


def _disk_alert(mount: str, found: forecast.Forecast) -> AlertMessage | None:
    if found.level == "ok" or found.eta_hours is None or found.used is None:
        return None
    free = max(0.0, 100.0 - found.used)
    return AlertMessage(
        type=alerts.DISK_FORECAST,
        resource=mount[:255],
        severity=found.level,
        message=f"El disco {mount} se llenará en {eta_text(found.eta_hours)} (queda {free:.0f} % libre)"[
            :2000
        ],
        threshold=_USED_OVER[found.level],
        current_value=round(found.used, 1),
    )


def _anomaly_alert(kind: str, metric: str, found: anomaly.Anomaly | None) -> AlertMessage | None:
    if found is None:
        return None
    return AlertMessage(
        type=kind,
        severity="warning",
        message=f"Uso de {_LABELS[metric]} inusual para esta hora: {found.value:.0f} % "
        f"(lo habitual: {found.expected:.0f} %)",
        threshold=round(found.expected, 1),
        current_value=round(found.value, 1),
    )
