"""The metric history's data layer: roll-ups, retention, and every read of a time series.

Every query over ``metric_samples``, its roll-ups and ``agent_logs`` past the heartbeat's own insert
lives here, so moving the history to TimescaleDB or Citus changes this module and no other.

**Roll-ups.** Each maintenance pass folds the samples that arrived since the last one into 5-minute
buckets (per asset, and per asset and disk), then folds those into 1-hour buckets. Which buckets to
recompute is found by the samples' ``id`` (arrival order), not their time, so a heartbeat that waited
in an agent's outbox for a day still lands in its day's bucket: each bucket it touches is recomputed
whole, from the raw samples, with an upsert. The pass only reads ids it saw at least
:data:`SETTLE` seconds earlier: a transaction that drew an id just below the newest may commit a
moment after it, and must not be skipped.

**Reads.** A chart reads the roll-up that fits its range (hour: raw; day: 5 minutes; week and month:
1 hour), aggregated by the database. The newest buckets, which a pass may not have folded yet, are
aggregated from the raw samples in the same query, so a chart is never behind the heartbeat.

**Retention.** On PostgreSQL the samples and the agent logs live in one partition per day
(:func:`ensure_partitions` makes them ahead), and a day past its retention is dropped whole. The rest
(the roll-ups, the audit log, SQLite's tables, rows left in a default partition) is deleted in
batches of :data:`DELETE_BATCH` rows, one short transaction each, so retention never holds a lock
a heartbeat waits for.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, TextClause, bindparam, delete, exists, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lanet.server.db import Database
from lanet.server.models import AgentLog, AuditEntry, RateLimitBucket
from lanet.server.models.base import UTCDateTime, table_of, utcnow
from lanet.server.models.timeseries import (
    DiskForecast,
    DiskRollup1h,
    DiskRollup5m,
    MetricRollup1h,
    MetricRollup5m,
    TimeseriesMark,
)
from lanet.server.settings import Retention

FINE = 300
COARSE = 3600
#: Seconds a sample id must have been seen before the roll-up reads it (see the module's docstring).
SETTLE = 10
#: Sample ids folded per transaction: a backlog (the first pass after an upgrade) goes in steps.
ROLLUP_CHUNK = 20_000
DELETE_BATCH = 5_000

marks = table_of(TimeseriesMark)


# --- dialect fragments ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Dialect:
    postgres: bool

    def epoch(self, column: str) -> str:
        """A timestamp column as whole Unix seconds."""
        if self.postgres:
            return f"CAST(floor(extract(epoch FROM {column})) AS BIGINT)"
        return f"CAST(strftime('%s', {column}) AS INTEGER)"

    def bucket(self, column: str, width: int) -> str:
        return f"(({self.epoch(column)} / {width}) * {width})"

    def moment(self, seconds: str) -> str:
        """Unix seconds as a timestamp comparable with the stored ones."""
        return f"to_timestamp({seconds})" if self.postgres else f"datetime({seconds}, 'unixepoch')"

    def disks(self, alias: str) -> str:
        """A join that yields one row per disk of sample ``s``, with ``mount``, ``percent``, ``total``."""
        if self.postgres:
            return (
                f"CROSS JOIN LATERAL jsonb_to_recordset(s.extra -> 'disks') "
                f"AS {alias}(mount text, percent float8, total bigint)"
            )
        return f"JOIN json_each(s.extra, '$.disks') AS {alias}_row"

    def disk_field(self, alias: str, name: str) -> str:
        if self.postgres:
            return f"{alias}.{name}"
        return f"json_extract({alias}_row.value, '$.{name}')"


def _dialect(conn: Connection) -> _Dialect:
    return _Dialect(conn.dialect.name == "postgresql")


def _moment_param(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


# --- marks ---------------------------------------------------------------------------------------
def read_mark(conn: Connection, name: str) -> int | None:
    return conn.execute(select(marks.c.value).where(marks.c.name == name)).scalar()


def write_mark(conn: Connection, name: str, value: int) -> None:
    if conn.execute(update(marks).where(marks.c.name == name).values(value=value)).rowcount == 0:
        conn.execute(marks.insert().values(name=name, value=value))


# --- roll-ups ------------------------------------------------------------------------------------
_METRICS = (("cpu", "cpu_usage"), ("memory", "memory_usage"), ("disk", "disk_usage"))
_FINE_COLUMNS = (
    "samples",
    *(f"{short}_{agg}" for short, _ in _METRICS for agg in ("avg", "min", "max")),
    "network_avg",
    "network_max",
    "temperature_avg",
    "temperature_max",
)
_DISK_COLUMNS = ("samples", "used_avg", "used_min", "used_max", "total")


def _touched(d: _Dialect, width: int) -> str:
    """(asset, bucket) pairs of the samples that arrived in the id range, dated after the last expiry."""
    return (
        f"SELECT DISTINCT asset_id, {d.bucket('sampled_at', width)} AS b FROM metric_samples "
        f"WHERE id > :lo AND id <= :hi AND sampled_at >= :raw_cutoff"
    )


def _upsert(table: str, keys: Sequence[str], columns: Sequence[str]) -> str:
    names = ", ".join((*keys, *columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) {{select}} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"


def _raw_of_touched(d: _Dialect) -> str:
    """The touched 5-minute buckets (``t``) joined to all their raw samples (``s``), kept to the
    chunk's dates (``:since``, ``:until``) so the planner reads only those partitions and ranges."""
    return (
        f"FROM ({_touched(d, FINE)}) t JOIN metric_samples s ON s.asset_id = t.asset_id "
        f"AND s.sampled_at >= {d.moment('t.b')} AND s.sampled_at < {d.moment(f't.b + {FINE}')} "
        f"AND s.sampled_at >= :since AND s.sampled_at < :until "
    )


def _fine_of_touched(d: _Dialect, table: str) -> str:
    """The touched hours (``t``) joined to their 5-minute roll-ups (``r``) in ``table``."""
    return (
        f"FROM ({_touched(d, COARSE)}) t JOIN {table} r ON r.asset_id = t.asset_id "
        f"AND r.bucket >= t.b AND r.bucket < t.b + {COARSE}"
    )


def _fine_metrics_sql(d: _Dialect) -> str:
    aggregates = ", ".join(f"avg(s.{column}), min(s.{column}), max(s.{column})" for _, column in _METRICS)
    select_ = (
        f"SELECT s.asset_id, t.b, count(*), {aggregates}, avg(s.network_usage), max(s.network_usage), "
        f"avg(s.temperature), max(s.temperature) "
        f"{_raw_of_touched(d)}"
        f"WHERE 1 = 1 GROUP BY s.asset_id, t.b"
    )
    return _upsert("metric_rollups_5m", ("asset_id", "bucket"), _FINE_COLUMNS).format(select=select_)


def _fine_disks_sql(d: _Dialect) -> str:
    percent, mount, total = (d.disk_field("x", name) for name in ("percent", "mount", "total"))
    select_ = (
        f"SELECT s.asset_id, {mount}, t.b, count(*), avg({percent}), min({percent}), max({percent}), "
        f"max({total}) "
        f"{_raw_of_touched(d)}"
        f"{d.disks('x')} WHERE {mount} IS NOT NULL GROUP BY s.asset_id, {mount}, t.b"
    )
    return _upsert("disk_rollups_5m", ("asset_id", "mount", "bucket"), _DISK_COLUMNS).format(select=select_)


def _weighted(column: str) -> str:
    """The average of 5-minute averages, each weighted by its samples (a bucket of one sample after
    a reboot does not count as much as a full one)."""
    return (
        f"sum(r.{column} * r.samples) / NULLIF(sum(CASE WHEN r.{column} IS NOT NULL THEN r.samples END), 0)"
    )


def _coarse_metrics_sql(d: _Dialect) -> str:
    parts = []
    for short, _ in _METRICS:
        parts += [_weighted(f"{short}_avg"), f"min(r.{short}_min)", f"max(r.{short}_max)"]
    parts += [
        _weighted("network_avg"),
        "max(r.network_max)",
        _weighted("temperature_avg"),
        "max(r.temperature_max)",
    ]
    select_ = (
        f"SELECT r.asset_id, t.b, sum(r.samples), {', '.join(parts)} "
        f"{_fine_of_touched(d, 'metric_rollups_5m')} WHERE 1 = 1 GROUP BY r.asset_id, t.b"
    )
    return _upsert("metric_rollups_1h", ("asset_id", "bucket"), _FINE_COLUMNS).format(select=select_)


def _coarse_disks_sql(d: _Dialect) -> str:
    select_ = (
        f"SELECT r.asset_id, r.mount, t.b, sum(r.samples), {_weighted('used_avg')}, min(r.used_min), "
        f"max(r.used_max), max(r.total) "
        f"{_fine_of_touched(d, 'disk_rollups_5m')} WHERE 1 = 1 GROUP BY r.asset_id, r.mount, t.b"
    )
    return _upsert("disk_rollups_1h", ("asset_id", "mount", "bucket"), _DISK_COLUMNS).format(select=select_)


def _newest(conn: Connection) -> int:
    return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM metric_samples")).scalar_one())


def newest_sample(db: Database) -> int:
    with db.engine.connect() as conn:
        return _newest(conn)


def roll_up(
    db: Database, now: datetime | None = None, *, settle: int = SETTLE, upto: int | None = None
) -> int:
    """Fold the samples that arrived since the last pass into the roll-ups; returns how many sample
    ids were covered. ``settle=0`` reads up to the newest id at once (tests); ``upto`` reads up to
    an id that its caller read :data:`SETTLE` seconds ago (a one-off pass, which has no earlier pass).

    A late sample dated before the raw history's last expiry is left out: its bucket's other
    samples are gone, and recomputing it would replace a whole bucket by a fragment."""
    now = now or utcnow()
    stamp = int(now.timestamp())
    with db.engine.begin() as conn:
        newest = _newest(conn)
        done = read_mark(conn, "rollup_done") or 0
        raw_cutoff = datetime.fromtimestamp(read_mark(conn, "raw_expired_before") or 0, UTC)
        if upto is not None:
            upto = min(upto, newest)
        elif settle:
            # Read up to the newest id seen by an earlier pass at least ``settle`` seconds ago.
            seen, seen_at = read_mark(conn, "rollup_seen"), read_mark(conn, "rollup_seen_at")
            if seen is None or seen_at is None:  # the first pass: it only sees
                upto, ripe = done, True
            else:
                ripe = stamp - seen_at >= settle
                upto = seen if ripe else done
            if ripe:
                write_mark(conn, "rollup_seen", newest)
                write_mark(conn, "rollup_seen_at", stamp)
        else:
            upto = newest
    covered = 0
    while done < upto:
        hi = min(upto, done + ROLLUP_CHUNK)
        with db.engine.begin() as conn:
            d = _dialect(conn)
            if d.postgres:  # short statements over a few rows each: compiling them costs seconds
                conn.execute(text("SET LOCAL jit = off"))
            # The span of the chunk's dates, given as constants: the planner keeps to the partitions
            # and index ranges it needs instead of joining the whole table.
            since, until = conn.execute(
                text(
                    "SELECT min(sampled_at), max(sampled_at) FROM metric_samples WHERE id > :lo AND id <= :hi"
                ),
                {"lo": done, "hi": hi},
            ).one()
            if since is not None:  # None: the chunk's samples were all expired or deleted
                params = {
                    "lo": done,
                    "hi": hi,
                    "raw_cutoff": raw_cutoff,
                    # Whole 5-minute buckets at both ends (the raw join only builds those).
                    "since": _aware(since) - timedelta(seconds=FINE),
                    "until": _aware(until) + timedelta(seconds=FINE),
                }
                for sql in (
                    _fine_metrics_sql(d),
                    _fine_disks_sql(d),
                    _coarse_metrics_sql(d),
                    _coarse_disks_sql(d),
                ):
                    moments = [
                        _moment_param(name) for name in ("raw_cutoff", "since", "until") if f":{name}" in sql
                    ]
                    conn.execute(text(sql).bindparams(*moments), params)
            write_mark(conn, "rollup_done", hi)
        covered += hi - done
        done = hi
    return covered


# --- partitions (PostgreSQL) ---------------------------------------------------------------------
#: Tables partitioned by day on PostgreSQL (migration 0017): (table, time column, retention field).
PARTITIONED = (("metric_samples", "sampled_at", "raw_days"), ("agent_logs", "logged_at", "logs_days"))
#: Days of partitions made ahead of today, so a heartbeat never lands in the default partition.
PARTITIONS_AHEAD = 3
_PARTITION = re.compile(r"^(?P<table>[a-z_]+)_(?:p(?P<day>\d{8})|default)$")


def is_partition(name: str) -> bool:
    found = _PARTITION.match(name)
    return found is not None and found["table"] in {table for table, _, _ in PARTITIONED}


def _partitions(conn: Connection, table: str) -> dict[date, str]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :table"
        ),
        {"table": table},
    ).scalars()
    days = {}
    for name in rows:
        found = _PARTITION.match(name)
        if found and found["day"]:
            days[datetime.strptime(found["day"], "%Y%m%d").replace(tzinfo=UTC).date()] = name
    return days


def ensure_partitions(db: Database, now: datetime | None = None) -> list[str]:
    """Make each partitioned table's partitions from today to :data:`PARTITIONS_AHEAD` days ahead
    (UTC days). Rows already in the default partition for such a day move into it, so attaching it
    never fails. Returns the partitions made; nothing on SQLite."""
    if db.engine.dialect.name != "postgresql":
        return []
    today = (now or utcnow()).astimezone(UTC).date()
    made = []
    for table, column, _ in PARTITIONED:
        with db.engine.connect() as conn:
            existing = _partitions(conn, table)
        for offset in range(PARTITIONS_AHEAD + 1):
            day = today + timedelta(days=offset)
            if day in existing:
                continue
            name = f"{table}_p{day:%Y%m%d}"
            start, end = f"{day:%Y-%m-%d} 00:00:00+00", f"{day + timedelta(days=1):%Y-%m-%d} 00:00:00+00"
            with db.engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                conn.execute(
                    text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
                )
                bounds = f"{column} >= '{start}' AND {column} < '{end}'"
                conn.execute(
                    text(
                        f"WITH moved AS (DELETE FROM {table}_default WHERE {bounds} RETURNING *) "
                        f"INSERT INTO {name} SELECT * FROM moved"
                    )
                )
                values = f"FOR VALUES FROM ('{start}') TO ('{end}')"
                conn.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} {values}"))
            made.append(name)
    return made


def _drop_expired_partitions(db: Database, table: str, cutoff: datetime) -> int:
    """Drop the day partitions wholly older than ``cutoff``; returns the rows they held. A lock not
    granted within a second is left for the next pass: a heartbeat never waits on it for long."""
    dropped = 0
    with db.engine.connect() as conn:
        expired = [
            name for day, name in _partitions(conn, table).items() if day + timedelta(days=1) <= cutoff.date()
        ]
    for name in sorted(expired):
        try:
            with db.engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '1s'"))
                rows = int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
                conn.execute(text(f"DROP TABLE {name}"))
            dropped += rows
        except OperationalError:
            break
    return dropped


# --- retention -----------------------------------------------------------------------------------
#: Retention runs at most this often: each run reads the oldest rows of every table once.
EXPIRE_EVERY = 3600


@dataclass(frozen=True)
class _Expiry:
    table: str
    column: str
    days_of: str
    #: The key that follows arrival order (an identity), where the table has one: the oldest rows
    #: are then found by index.
    ordered_by: str | None = None
    epoch: bool = False


_EXPIRIES = (
    _Expiry("metric_samples", "sampled_at", "raw_days", "id"),
    _Expiry("metric_rollups_5m", "bucket", "fine_days", epoch=True),
    _Expiry("disk_rollups_5m", "bucket", "fine_days", epoch=True),
    _Expiry("metric_rollups_1h", "bucket", "coarse_days", epoch=True),
    _Expiry("disk_rollups_1h", "bucket", "coarse_days", epoch=True),
    _Expiry("agent_logs", "logged_at", "logs_days", "id"),
    _Expiry(AuditEntry.__tablename__, "at", "audit_days", "id"),
    _Expiry(RateLimitBucket.__tablename__, "window_start", "rate_limit_days"),
)


def _expire_sql(d: _Dialect, expiry: _Expiry) -> str:
    """One batch: among the oldest rows by arrival, those past the cutoff (a late arrival with an old
    date goes when its neighbours do); without an arrival order, any rows past it (a scan, once an
    hour, of tables that are small or, on PostgreSQL, to be partitioned)."""
    if expiry.ordered_by is not None:
        order = expiry.ordered_by
        return (
            f"DELETE FROM {expiry.table} WHERE {order} IN (SELECT {order} FROM {expiry.table} "
            f"ORDER BY {order} LIMIT {DELETE_BATCH}) AND {expiry.column} < :cutoff"
        )
    batch = f"SELECT {{row}} FROM {expiry.table} WHERE {expiry.column} < :cutoff LIMIT {DELETE_BATCH}"
    if d.postgres:  # a TID scan of the batch, not a join against the whole table
        return f"DELETE FROM {expiry.table} WHERE ctid = ANY(ARRAY({batch.format(row='ctid')}))"
    return f"DELETE FROM {expiry.table} WHERE rowid IN ({batch.format(row='rowid')})"


def expire(
    db: Database, retention: Retention | None = None, now: datetime | None = None, *, force: bool = False
) -> dict[str, int]:
    """Delete what is older than its retention, in batches of one short transaction each; returns
    the rows deleted per table. Runs once per :data:`EXPIRE_EVERY` unless ``force``."""
    retention = retention or Retention()
    now = now or utcnow()
    stamp = int(now.timestamp())
    with db.engine.begin() as conn:
        last = read_mark(conn, "expired_at")
        if not force and last is not None and stamp - last < EXPIRE_EVERY:
            return {}
        write_mark(conn, "expired_at", stamp)
        d = _dialect(conn)
    deleted: dict[str, int] = {}
    partitioned = {table for table, _, _ in PARTITIONED} if d.postgres else set()
    for expiry in _EXPIRIES:
        cutoff = now - timedelta(days=getattr(retention, expiry.days_of))
        total = 0
        if expiry.table in partitioned:
            # Whole days go as partitions; what is left past the cutoff (the default partition's
            # rows, a day partly past it) goes by the batched delete below.
            total += _drop_expired_partitions(db, expiry.table, cutoff)
        sql = text(_expire_sql(d, expiry))
        if not expiry.epoch:
            sql = sql.bindparams(_moment_param("cutoff"))
        params = {"cutoff": int(cutoff.timestamp()) if expiry.epoch else cutoff}
        while True:
            with db.engine.begin() as conn:
                count = int(cast(CursorResult[Any], conn.execute(sql, params)).rowcount or 0)
            total += count
            if not count:
                break
        if total:
            deleted[expiry.table] = total
        if expiry.table == "metric_samples":
            with db.engine.begin() as conn:
                write_mark(conn, "raw_expired_before", int(cutoff.timestamp()))
    return deleted


# --- reads ---------------------------------------------------------------------------------------
#: Chart ranges: how far back, and the bucket width in seconds (None: every raw sample).
RANGES: dict[str, tuple[timedelta, int | None]] = {
    "hour": (timedelta(hours=1), None),
    "day": (timedelta(days=1), FINE),
    "week": (timedelta(days=7), COARSE),
    "month": (timedelta(days=30), COARSE),
}
SERIES = ("cpu_usage", "memory_usage", "disk_usage", "network_usage")
_ROLLUP_OF = {FINE: "metric_rollups_5m", COARSE: "metric_rollups_1h"}


def _tail_start(now: datetime, width: int) -> int:
    """Buckets from here on are read from the raw samples: the last pass may not have folded them
    (a pass every 30 s, ids read :data:`SETTLE` s late, so a quarter of an hour is ample)."""
    return int((now.timestamp() - max(width, 900)) // width * width)


def chart_query(
    conn: Connection, asset_id: str, range_name: str, now: datetime
) -> tuple[TextClause, dict[str, Any]]:
    """The statement behind :func:`metric_series` and its parameters (``bench/history_scale.py``
    explains it)."""
    span, width = RANGES[range_name]
    if width is None:
        statement = text(
            "SELECT sampled_at, cpu_usage, memory_usage, disk_usage, network_usage FROM metric_samples "
            "WHERE asset_id = :asset AND sampled_at >= :since ORDER BY sampled_at"
        ).bindparams(_moment_param("since"))
        return statement, {"asset": asset_id, "since": now - span}
    d = _dialect(conn)
    raw_bucket = d.bucket("sampled_at", width)
    statement = text(
        f"SELECT bucket, cpu_avg, memory_avg, disk_avg, network_avg FROM {_ROLLUP_OF[width]} "
        f"WHERE asset_id = :asset AND bucket >= :start AND bucket < :tail "
        f"UNION ALL "
        f"SELECT {raw_bucket}, avg(cpu_usage), avg(memory_usage), avg(disk_usage), avg(network_usage) "
        f"FROM metric_samples WHERE asset_id = :asset AND sampled_at >= {d.moment(':tail')} "
        f"GROUP BY {raw_bucket} ORDER BY 1"
    )
    start = int((now - span).timestamp()) // width * width
    return statement, {"asset": asset_id, "start": start, "tail": _tail_start(now, width)}


def metric_series(
    session: Session | Connection, asset_id: str, range_name: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One asset's metrics over ``range_name`` (see :data:`RANGES`), oldest first: every sample for
    the hour, bucket averages (at the bucket's middle) for the longer ranges, averaged by the
    database."""
    width = RANGES[range_name][1]
    now = now or utcnow()
    conn = session.connection() if isinstance(session, Session) else session
    rows = conn.execute(*chart_query(conn, asset_id, range_name, now)).all()
    if width is None:
        return [{"t": _aware(row[0]), **dict(zip(SERIES, row[1:], strict=True))} for row in rows]
    return [
        {
            "t": datetime.fromtimestamp(int(row[0]) + width / 2, UTC),
            **{name: _rounded(value) for name, value in zip(SERIES, row[1:], strict=True)},
        }
        for row in rows
    ]


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _aware(moment: Any) -> datetime:
    found: datetime = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return found if found.tzinfo else found.replace(tzinfo=UTC)


Point = tuple[float, float]


def disk_history(conn: Connection, asset_id: str, now: datetime, days: int = 7) -> dict[str, list[Point]]:
    """Per mount, (Unix time, percent used) over the last ``days``, oldest first, as the forecasts
    want it: hourly averages beyond the last 8 hours, 5-minute ones within, raw samples for the
    newest quarter hour."""
    d = _dialect(conn)
    stamp = now.timestamp()
    fine_from = int((stamp - 8 * 3600) // COARSE * COARSE)
    raw_from = _tail_start(now, FINE)
    percent, mount = d.disk_field("x", "percent"), d.disk_field("x", "mount")
    rows = conn.execute(
        text(
            f"SELECT mount, bucket + {COARSE // 2}, used_avg FROM disk_rollups_1h "
            f"WHERE asset_id = :asset AND bucket >= :start AND bucket < :fine "
            f"UNION ALL SELECT mount, bucket + {FINE // 2}, used_avg FROM disk_rollups_5m "
            f"WHERE asset_id = :asset AND bucket >= :fine AND bucket < :raw "
            f"UNION ALL SELECT {mount}, {d.epoch('s.sampled_at')}, {percent} FROM metric_samples s "
            f"{d.disks('x')} WHERE s.asset_id = :asset AND s.sampled_at >= {d.moment(':raw')} "
            f"ORDER BY 2"
        ),
        {"asset": asset_id, "start": int(stamp - days * 86400), "fine": fine_from, "raw": raw_from},
    ).all()
    series: dict[str, list[Point]] = {}
    for name, moment, used in rows:
        if name is not None and used is not None:
            series.setdefault(str(name), []).append((float(moment), float(used)))
    return series


def metric_history(
    conn: Connection, asset_id: str, metric: str, now: datetime, days: int = 28
) -> list[Point]:
    """(Unix time, value) of ``cpu`` or ``memory`` over the last ``days``, oldest first: 5-minute
    averages, then the raw samples of the newest quarter hour (what an anomaly is judged on)."""
    d = _dialect(conn)
    column = dict(_METRICS)[metric]
    raw_from = _tail_start(now, FINE)
    rows = conn.execute(
        text(
            f"SELECT bucket + {FINE // 2}, {metric}_avg FROM metric_rollups_5m "
            f"WHERE asset_id = :asset AND bucket >= :start AND bucket < :raw AND {metric}_avg IS NOT NULL "
            f"UNION ALL SELECT {d.epoch('sampled_at')}, {column} FROM metric_samples "
            f"WHERE asset_id = :asset AND sampled_at >= {d.moment(':raw')} AND {column} IS NOT NULL "
            f"ORDER BY 1"
        ),
        {"asset": asset_id, "start": int(now.timestamp() - days * 86400), "raw": raw_from},
    ).all()
    return [(float(moment), float(value)) for moment, value in rows]


def recent_logs(session: Session, asset_id: str, limit: int = 100) -> list[AgentLog]:
    return list(
        session.scalars(
            select(AgentLog)
            .where(AgentLog.asset_id == asset_id)
            .order_by(AgentLog.logged_at.desc())
            .limit(limit)
        )
    )


def forecasts_of(session: Session, asset_id: str) -> list[DiskForecast]:
    return list(
        session.scalars(
            select(DiskForecast).where(DiskForecast.asset_id == asset_id).order_by(DiskForecast.mount)
        )
    )


# --- merging two assets' histories ---------------------------------------------------------------
_ROLLUP_MODELS: Iterable[Any] = (MetricRollup5m, MetricRollup1h, DiskRollup5m, DiskRollup1h)


def move_rollups(session: Session, old_id: str, new_id: str) -> int:
    """Give ``old_id``'s roll-ups to ``new_id`` (a merge), except for buckets both have: there the
    newcomer's own stand. Forecasts are the newcomer's alone. Returns the rows moved."""
    moved = 0
    for model in _ROLLUP_MODELS:
        table = table_of(model)
        keys = [c for c in table.primary_key.columns if c.name != "asset_id"]
        twin = table.alias("twin")
        clash = exists().where(twin.c.asset_id == new_id, *(twin.c[k.name] == k for k in keys))
        result = session.execute(
            update(table).where(table.c.asset_id == old_id, ~clash).values(asset_id=new_id)
        )
        moved += int(cast(CursorResult[Any], result).rowcount or 0)
        session.execute(delete(table).where(table.c.asset_id == old_id))
    session.execute(delete(table_of(DiskForecast)).where(table_of(DiskForecast).c.asset_id == old_id))
    return moved
