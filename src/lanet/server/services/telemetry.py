"""The heartbeat's hot path: current state, metric samples, alerts and agent logs.

Written with SQLAlchemy Core in one transaction. The common case (no alerts, no logs, nothing
pending) costs two statements: one ``UPDATE assets ... RETURNING`` that also counts the asset's
requests for rate limiting and records the applied config revision, and one ``INSERT`` of the metric
sample, skipped for a repeated ``message_id`` (see :data:`REPLAY_WINDOW`). On PostgreSQL the
transaction may use ``synchronous_commit = off``: losing the last few hundred milliseconds of telemetry
in a crash is acceptable, losing a ticket is not, so nothing else does. Alerts are recorded in the
same transaction by :mod:`~lanet.server.services.alerts`, which opens their tickets after it commits.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, String, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from lanet.protocol.heartbeat import MAX_LOG_MESSAGE, Command, HeartbeatRequest, HeartbeatResponse, LogRecord
from lanet.server.db import Database
from lanet.server.models import AgentLog, Asset, MetricSample
from lanet.server.models import Command as CommandRow
from lanet.server.models.assets import (
    STATUS_OFFLINE,
    STATUS_ONLINE,
    STATUS_WARNING,
)
from lanet.server.models.base import table_of, utcnow
from lanet.server.models.commands import PENDING
from lanet.server.services import alerts, commands, config_push, presence, ratelimit
from lanet.server.services.patches.requests import ScanRequests
from lanet.server.services.ratelimit import retry_after, window_start
from lanet.server.services.releases.rollouts import RolloutCache, offer_for
from lanet.server.settings import MISSED_INTERVALS_OFFLINE, RateLimit

assets = table_of(Asset)
samples = table_of(MetricSample)
agent_logs = table_of(AgentLog)
commands_table = table_of(CommandRow)


class AssetGoneError(Exception):
    """The JWT names an asset that no longer exists, was retired, or was issued new credentials."""


@dataclass(frozen=True)
class RateLimited:
    retry_after: int


def _dialect_insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


#: Message ids remembered per asset for the replay check (see :data:`_PG_HEARTBEAT`).
REPLAY_WINDOW = 16
#: ``recent_messages`` holds that many ids (36 characters) and their commas.
REPLAY_TEXT = REPLAY_WINDOW * 37

# Only module constants are interpolated; every value travels as a bound parameter.
_PG_HEARTBEAT = f"""
WITH a AS (
    UPDATE assets SET
        last_seen = %(now)s,
        agent_status = CASE WHEN open_alerts > 0 THEN '{STATUS_WARNING}' ELSE '{STATUS_ONLINE}' END,
        cpu_usage = %(cpu_usage)s, memory_usage = %(memory_usage)s, disk_usage = %(disk_usage)s,
        uptime = %(uptime)s, last_boot = %(last_boot)s, services_status = %(services_status)s::jsonb,
        ip_address = %(ip_address)s, agent_version = COALESCE(%(agent_version)s, agent_version),
        update_platform = %(update_platform)s,
        offline_deadline = %(now_epoch)s + heartbeat_interval * {MISSED_INTERVALS_OFFLINE},
        rate_window_count = CASE WHEN rate_window_start = %(window)s THEN rate_window_count + 1 ELSE 1 END,
        rate_window_start = %(window)s,
        last_beat_replayed = %(message_id)s::text IS NOT NULL
            AND position(%(message_id)s::text IN coalesce(recent_messages, '')) > 0,
        recent_messages = CASE
            WHEN %(message_id)s::text IS NULL
                OR position(%(message_id)s::text IN coalesce(recent_messages, '')) > 0
                OR (CASE WHEN rate_window_start = %(window)s THEN rate_window_count + 1 ELSE 1 END)
                    > %(limit)s
            THEN recent_messages
            ELSE left(%(message_id)s::text || ',' || coalesce(recent_messages, ''), {REPLAY_TEXT}) END,
        config_revision_applied = CASE
            WHEN %(applied)s::int IS NULL THEN config_revision_applied
            WHEN %(applied)s::int > config_revision_pending THEN config_revision_pending
            WHEN %(applied)s::int > config_revision_applied THEN %(applied)s::int
            ELSE config_revision_applied END
    WHERE id = %(asset_id)s AND retired_at IS NULL AND auth_epoch <= %(issued_at)s
    RETURNING client_id, site_id, rate_window_count, config_revision_pending, config_revision_applied,
              heartbeat_interval, last_beat_replayed,
              (SELECT count(*) FROM commands c
               WHERE c.asset_id = assets.id AND c.status IN ('queued', 'delivered')) AS pending_commands
), s AS (
    INSERT INTO metric_samples (asset_id, sampled_at, cpu_usage, memory_usage, disk_usage,
        network_usage, uptime, temperature, processes_count, threads_count, extra)
    SELECT %(asset_id)s, %(sampled_at)s, %(cpu_usage)s, %(memory_usage)s, %(disk_usage)s,
        %(network_usage)s, %(uptime)s, %(temperature)s, %(processes_count)s, %(threads_count)s,
        %(extra)s::jsonb
    FROM a WHERE a.rate_window_count <= %(limit)s AND NOT a.last_beat_replayed
    RETURNING 1
), l AS (
    INSERT INTO agent_logs (asset_id, logged_at, received_at, level, logger, message)
    SELECT %(asset_id)s, x.timestamp, %(now)s, x.level, x.logger, x.message
    FROM jsonb_to_recordset(%(logs)s::jsonb)
        AS x(timestamp timestamptz, level text, logger text, message text)
    WHERE EXISTS (SELECT 1 FROM s)
)
SELECT a.*, EXISTS (SELECT 1 FROM s) AS fresh FROM a
"""
"""The whole common heartbeat on PostgreSQL in one statement and one round trip: state update with the
rate-limit counter and config acknowledgement, the metric sample (skipped when over the limit, a no-op
for a replayed ``message_id``) and the logs (only with a fresh sample).

The replay check is the asset's last :data:`REPLAY_WINDOW` message ids, kept on its own row
(``recent_messages``), not an index over all samples ever stored: the heartbeat updates that row
anyway, and an agent repeats a heartbeat whose answer it lost as its very next request. A SET
expression reads the row as it was, so ``last_beat_replayed`` says whether this id was already
there. An id over the rate limit is not remembered: the heartbeat was refused, and its retry must
be stored."""


#: How far back an agent may date a sample it kept while the backend was unreachable.
OLDEST_SAMPLE = timedelta(days=30)


def sample_time(sent_at: datetime | None, now: datetime) -> datetime:
    """The agent's clock dates a sample (it may have waited in the outbox), within the server's
    bounds: never in the future, never older than :data:`OLDEST_SAMPLE` (a wrong clock, not history)."""
    if sent_at is None or sent_at > now or sent_at < now - OLDEST_SAMPLE:
        return now
    return sent_at


def _params(
    asset_id: str, body: HeartbeatRequest, ip_address: str | None, now: datetime, rate: RateLimit
) -> dict[str, Any]:
    status = body.status
    extra = _extra(body)
    return {
        "asset_id": asset_id,
        "now": now,
        "now_epoch": int(now.timestamp()),
        "window": window_start(now, rate),
        "limit": rate.count,
        "applied": body.config_revision,
        "cpu_usage": status.cpu_usage,
        "memory_usage": status.memory_usage,
        "disk_usage": status.disk_usage,
        "network_usage": status.network_usage,
        "uptime": status.uptime,
        "last_boot": status.last_boot,
        "temperature": status.temperature,
        "processes_count": status.processes_count,
        "threads_count": status.threads_count,
        "services_status": [s.model_dump(mode="json") for s in status.services_status] or None,
        "ip_address": ip_address,
        "agent_version": body.agent_version,
        "update_platform": body.update_platform,
        "message_id": body.message_id,
        "sampled_at": sample_time(body.sent_at, now),
        "extra": extra,
    }


def record_heartbeat(
    db: Database,
    asset_id: str,
    body: HeartbeatRequest,
    *,
    ip_address: str | None,
    rate: RateLimit,
    issued_at: int,
    log_rate: RateLimit | None = None,
    rollouts: RolloutCache | None = None,
    scan_requests: ScanRequests | None = None,
) -> HeartbeatResponse | RateLimited:
    """``issued_at`` is the JWT's ``iat``: a token older than the asset's ``auth_epoch`` writes nothing.
    ``log_rate`` bounds the log lines the asset may store per window (one more statement, only for a
    heartbeat that carries logs)."""
    now = utcnow()
    params = _params(asset_id, body, ip_address, now, rate)
    params["issued_at"] = issued_at
    postgres = db.engine.dialect.name == "postgresql"
    # Alerts take several statements that must commit together with the sample (a replay would
    # skip them), so a heartbeat carrying alerts runs in a transaction on the durable engine.
    engine = db.telemetry if postgres and not body.alerts else db.engine
    with engine.begin() as conn:
        records = log_records(body)
        if records and log_rate is not None:
            records = within_log_budget(conn, asset_id, records, log_rate, now)
        row = _write_postgres(conn, params, records) if postgres else _write_sqlite(conn, params, records)
        if row is None:
            raise AssetGoneError(asset_id)
        if row.rate_window_count > rate.count:
            return RateLimited(retry_after(now, params["window"], rate))
        critical = alerts.record(conn, asset_id, body.alerts, now) if row.fresh and body.alerts else []
        config_updates: dict[str, Any] = {}
        revision: int | None = None
        if row.config_revision_pending > row.config_revision_applied:
            config_updates, revision = config_push.pending_updates(
                conn, row.client_id, row.site_id, asset_id, row.config_revision_applied
            )
    alerts.open_tickets(db, asset_id, critical)
    offered: list[Command] = []
    if body.command_acks or row.pending_commands:
        # Commands are rare and their every step is audited: a durable transaction of their own.
        with db.session() as session:
            if body.command_acks:
                commands.acknowledge(session, asset_id, body.command_acks, now)
            if row.pending_commands:
                offered = commands.deliver(session, asset_id, now)
    interval = int(config_updates.get("heartbeat_interval", row.heartbeat_interval))
    update = None
    if rollouts is not None and body.update_platform is not None:
        update = offer_for(
            db,
            rollouts,
            asset_id=asset_id,
            client_id=row.client_id,
            site_id=row.site_id,
            platform=body.update_platform,
            running=body.agent_version,
            now=now,
        )
    return HeartbeatResponse(
        received_at=now,
        next_heartbeat=now + timedelta(seconds=interval),
        commands=offered,
        config_updates=config_updates,
        config_revision=revision,
        update=update,
        patch_scan=scan_requests is not None and scan_requests.wanted(db, asset_id, now),
    )


def within_log_budget(
    conn: Connection, asset_id: str, records: list[LogRecord], rate: RateLimit, now: datetime
) -> list[LogRecord]:
    """The log lines an asset may still store in this window (``LANET_RATE_AGENT_LOGS``), and one
    line saying how many were left out: a chatty or hostile agent cannot fill the table, and the
    heartbeat's metrics are kept either way."""
    if not records:
        return records
    verdict = ratelimit.hit(conn, f"logs:{asset_id}", rate, now, amount=len(records))
    over = min(len(records), max(0, verdict.count - rate.count))
    if not over:
        return records
    kept = records[: len(records) - over]
    kept.append(
        LogRecord(
            timestamp=now,
            level="WARNING",
            logger="lanet.server",
            message=f"{over} log line(s) from this heartbeat were not stored: the asset sent more than "
            f"{rate.count} in {rate.seconds} s",
        )
    )
    return kept


def log_records(body: HeartbeatRequest) -> list[LogRecord]:
    """The heartbeat's logs, and one ERROR line per dead letter it reports, so a refused ticket or
    command result is visible on the asset's page (the agent keeps the item itself)."""
    records = list(body.logs)
    for dead in body.dead_letters:
        refused = f"{dead.status} {dead.code or ''}".strip() if dead.status else "refused"
        records.append(
            LogRecord(
                timestamp=dead.refused_at,
                level="ERROR",
                logger="lanet.agent.outbox",
                message=f"{dead.kind} {dead.item_id} refused by the server ({refused}), kept by the agent "
                f"as a dead letter: {dead.error}"[:MAX_LOG_MESSAGE],
            )
        )
    return records


def _write_postgres(conn: Connection, params: dict[str, Any], records: list[LogRecord]) -> Any:
    import json

    driver_params = dict(params)
    for key in ("services_status", "extra"):
        driver_params[key] = None if params[key] is None else json.dumps(params[key])
    driver_params["logs"] = json.dumps([record.model_dump(mode="json") for record in records])
    return conn.exec_driver_sql(_PG_HEARTBEAT, driver_params).first()


@dataclass(frozen=True)
class _Written:
    client_id: str
    site_id: str
    rate_window_count: int
    config_revision_pending: int
    config_revision_applied: int
    heartbeat_interval: int
    pending_commands: int
    fresh: bool


def _write_sqlite(conn: Connection, params: dict[str, Any], records: list[LogRecord]) -> _Written | None:
    """The same writes as :data:`_PG_HEARTBEAT`, as separate statements (SQLite has no DML in CTEs)."""
    applied = params["applied"]
    counted = case((assets.c.rate_window_start == params["window"], assets.c.rate_window_count + 1), else_=1)
    message_id = literal(params["message_id"] or "", String())
    seen: Any = literal(False)
    if params["message_id"] is not None:
        seen = func.instr(func.coalesce(assets.c.recent_messages, ""), message_id) > 0
    row = conn.execute(
        update(assets)
        .where(
            assets.c.id == params["asset_id"],
            assets.c.retired_at.is_(None),
            assets.c.auth_epoch <= params["issued_at"],
        )
        .values(
            last_seen=params["now"],
            agent_status=case((assets.c.open_alerts > 0, STATUS_WARNING), else_=STATUS_ONLINE),
            cpu_usage=params["cpu_usage"],
            memory_usage=params["memory_usage"],
            disk_usage=params["disk_usage"],
            uptime=params["uptime"],
            last_boot=params["last_boot"],
            services_status=params["services_status"],
            ip_address=params["ip_address"],
            agent_version=func.coalesce(params["agent_version"], assets.c.agent_version),
            update_platform=params["update_platform"],
            offline_deadline=params["now_epoch"] + assets.c.heartbeat_interval * MISSED_INTERVALS_OFFLINE,
            rate_window_start=params["window"],
            rate_window_count=counted,
            last_beat_replayed=seen,
            recent_messages=case(
                (or_(seen, counted > params["limit"]), assets.c.recent_messages),
                else_=func.substr(
                    message_id + "," + func.coalesce(assets.c.recent_messages, ""), 1, REPLAY_TEXT
                ),
            ),
            config_revision_applied=(
                assets.c.config_revision_applied
                if applied is None
                else case(
                    (literal(applied) > assets.c.config_revision_pending, assets.c.config_revision_pending),
                    (literal(applied) > assets.c.config_revision_applied, literal(applied)),
                    else_=assets.c.config_revision_applied,
                )
            ),
        )
        .returning(
            assets.c.client_id,
            assets.c.site_id,
            assets.c.rate_window_count,
            assets.c.config_revision_pending,
            assets.c.config_revision_applied,
            assets.c.heartbeat_interval,
            assets.c.last_beat_replayed,
        )
    ).first()
    if row is None:
        return None
    fresh = row.rate_window_count <= params["limit"] and not row.last_beat_replayed
    if fresh:
        conn.execute(insert(samples).values({key: params[key] for key in _SAMPLE_COLUMNS}))
    if fresh and records:
        conn.execute(
            insert(agent_logs),
            [
                {
                    "asset_id": params["asset_id"],
                    "logged_at": record.timestamp,
                    "received_at": params["now"],
                    "level": record.level,
                    "logger": record.logger,
                    "message": record.message,
                }
                for record in records
            ],
        )
    return _Written(
        client_id=row.client_id,
        site_id=row.site_id,
        rate_window_count=row.rate_window_count,
        config_revision_pending=row.config_revision_pending,
        config_revision_applied=row.config_revision_applied,
        heartbeat_interval=row.heartbeat_interval,
        pending_commands=int(
            conn.execute(
                select(func.count())
                .select_from(commands_table)
                .where(commands_table.c.asset_id == params["asset_id"], commands_table.c.status.in_(PENDING))
            ).scalar_one()
        ),
        fresh=fresh,
    )


_SAMPLE_COLUMNS = (
    "asset_id",
    "sampled_at",
    "cpu_usage",
    "memory_usage",
    "disk_usage",
    "network_usage",
    "uptime",
    "temperature",
    "processes_count",
    "threads_count",
    "extra",
)


def _extra(body: HeartbeatRequest) -> dict[str, Any] | None:
    extra: dict[str, Any] = {}
    if body.status.disks:
        extra["disks"] = [d.model_dump(mode="json") for d in body.status.disks]
    if body.status.top_processes:
        extra["top_processes"] = [p.model_dump(mode="json") for p in body.status.top_processes]
    return extra or None


def mark_offline(db: Database, now: datetime | None = None) -> int:
    """Write what :mod:`~lanet.server.services.presence` already says: assets past their deadline are
    offline. Returns how many changed."""
    now = now or utcnow()
    with db.engine.begin() as conn:
        result = conn.execute(
            update(assets)
            .where(and_(assets.c.agent_status != STATUS_OFFLINE, presence.overdue(now.timestamp())))
            .values(agent_status=STATUS_OFFLINE)
        )
        return int(result.rowcount or 0)
