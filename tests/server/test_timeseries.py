"""The metric history: roll-ups (late arrivals included), charts from them, retention, and the
predictions made from them, on both databases."""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select, text, update

from lanet.server.db import Database
from lanet.server.models import (
    AgentLog,
    Alert,
    Asset,
    AuditEntry,
    DiskForecast,
    DiskRollup1h,
    DiskRollup5m,
    MetricRollup1h,
    MetricRollup5m,
    MetricSample,
    Ticket,
)
from lanet.server.models.base import table_of
from lanet.server.services import predictions, timeseries
from lanet.server.services.config_push import resolve_scope, set_override
from lanet.server.settings import Retention
from tests.server.helpers import register

#: A whole hour, so bucket boundaries are easy to reason about.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _sample(
    asset_id: str, at: datetime, cpu: float, *, disks: dict[str, float] | None = None
) -> dict[str, Any]:
    extra = None
    if disks is not None:
        extra = {
            "disks": [
                {"mount": mount, "total": 500 * 10**9, "used": int(used * 5 * 10**9), "percent": used}
                for mount, used in disks.items()
            ]
        }
    return {
        "asset_id": asset_id,
        "sampled_at": at,
        "cpu_usage": cpu,
        "memory_usage": 50.0,
        "disk_usage": max((disks or {"": 40.0}).values()),
        "network_usage": 1.5,
        "extra": extra,
    }


def _store(db: Database, rows: Iterable[dict[str, Any]]) -> None:
    with db.engine.begin() as conn:
        conn.execute(insert(table_of(MetricSample)), list(rows))


@pytest.fixture
def asset_id(client: FlaskClient, new_token: Callable[..., str], db: Database) -> str:
    agent = register(client, new_token())
    with db.engine.begin() as conn:
        conn.execute(update(table_of(Asset)).values(last_seen=NOW))
    return str(agent["asset_id"])


def test_samples_fold_into_5_minute_and_hourly_buckets_per_asset_and_disk(
    db: Database, asset_id: str
) -> None:
    start = NOW - timedelta(hours=2)
    rows = [
        _sample(asset_id, start + timedelta(minutes=m), float(m), disks={"C:": 40 + m / 10, "D:": 10.0})
        for m in range(120)
    ]
    _store(db, rows)
    assert timeseries.roll_up(db, now=NOW, settle=0) == 120
    with db.session() as session:
        fine = session.scalars(
            select(MetricRollup5m).where(MetricRollup5m.asset_id == asset_id).order_by(MetricRollup5m.bucket)
        ).all()
        assert len(fine) == 24
        first = fine[0]
        assert first.bucket == int(start.timestamp()) and first.samples == 5
        assert (first.cpu_avg, first.cpu_min, first.cpu_max) == (2.0, 0.0, 4.0)
        assert first.network_avg == pytest.approx(1.5)
        hourly = session.scalars(select(MetricRollup1h).order_by(MetricRollup1h.bucket)).all()
        assert [h.samples for h in hourly] == [60, 60]
        assert hourly[1].cpu_avg == pytest.approx(mean(range(60, 120)))
        assert (hourly[1].cpu_min, hourly[1].cpu_max) == (60.0, 119.0)
        disks = session.scalars(
            select(DiskRollup5m).where(DiskRollup5m.mount == "C:").order_by(DiskRollup5m.bucket)
        ).all()
        assert len(disks) == 24 and disks[-1].used_max == pytest.approx(51.9, abs=0.01)
        assert disks[0].total == 500 * 10**9
        assert session.scalar(select(func.count()).select_from(DiskRollup1h)) == 4  # 2 hours x 2 disks
    assert timeseries.roll_up(db, now=NOW, settle=0) == 0  # nothing new


def test_a_late_sample_recomputes_the_buckets_it_lands_in(db: Database, asset_id: str) -> None:
    start = NOW - timedelta(hours=1)
    _store(db, [_sample(asset_id, start + timedelta(minutes=m), 10.0) for m in range(60)])
    timeseries.roll_up(db, now=NOW, settle=0)
    # An agent's outbox delivers a heartbeat from yesterday, and one into a bucket already rolled.
    _store(
        db,
        [
            _sample(asset_id, NOW - timedelta(days=1), 90.0),
            _sample(asset_id, start + timedelta(seconds=30), 70.0),
        ],
    )
    assert timeseries.roll_up(db, now=NOW, settle=0) == 2
    with db.session() as session:
        first = session.get(MetricRollup5m, (asset_id, int(start.timestamp())))
        assert first is not None and first.samples == 6 and first.cpu_max == 70.0
        assert first.cpu_avg == pytest.approx((50 + 70) / 6)
        yesterday = int((NOW - timedelta(days=1)).timestamp())
        late = session.get(MetricRollup1h, (asset_id, yesterday))
        assert late is not None and late.samples == 1 and late.cpu_avg == 90.0
        hour = session.get(MetricRollup1h, (asset_id, int(start.timestamp())))
        assert hour is not None and hour.samples == 61


def test_the_roll_up_reads_only_ids_seen_a_moment_before(db: Database, asset_id: str) -> None:
    """A transaction that drew a lower id may commit after a higher one is visible: the pass folds
    the ids an earlier pass saw at least SETTLE seconds ago, never the newest."""
    _store(db, [_sample(asset_id, NOW - timedelta(minutes=5), 10.0)])
    assert timeseries.roll_up(db, now=NOW) == 0  # seen, not yet read
    _store(db, [_sample(asset_id, NOW - timedelta(minutes=4), 10.0)])
    assert timeseries.roll_up(db, now=NOW + timedelta(seconds=timeseries.SETTLE - 1)) == 0
    assert timeseries.roll_up(db, now=NOW + timedelta(seconds=timeseries.SETTLE)) == 1
    assert timeseries.roll_up(db, now=NOW + timedelta(seconds=3 * timeseries.SETTLE)) == 1


def _python_buckets(rows: list[dict[str, Any]], width: int, since: datetime) -> dict[int, float]:
    grouped: dict[int, list[float]] = {}
    for row in rows:
        if row["sampled_at"] >= since:
            grouped.setdefault(int(row["sampled_at"].timestamp()) // width * width, []).append(
                row["cpu_usage"]
            )
    return {bucket: round(mean(values), 2) for bucket, values in grouped.items()}


@pytest.mark.parametrize(("range_name", "width"), [("day", 300), ("week", 3600), ("month", 3600)])
def test_charts_read_roll_ups_and_the_newest_raw_samples(
    db: Database, asset_id: str, range_name: str, width: int
) -> None:
    span = timeseries.RANGES[range_name][0]
    rows = [
        _sample(asset_id, NOW - span + timedelta(minutes=7 * i + 3), float((i * 37) % 100))
        for i in range(int(span.total_seconds() // 420))
    ]
    recent = NOW - timedelta(minutes=15)
    _store(db, [row for row in rows if row["sampled_at"] < recent])
    timeseries.roll_up(db, now=NOW, settle=0)
    # The last quarter hour arrived after the last pass: the chart shows it all the same.
    _store(db, [row for row in rows if row["sampled_at"] >= recent])
    with db.session() as session:
        points = timeseries.metric_series(session, asset_id, range_name, now=NOW)
    expected = _python_buckets(rows, width, NOW - span)
    got = {int(p["t"].timestamp() - width / 2): p["cpu_usage"] for p in points}
    assert got == pytest.approx(expected, abs=0.01)
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)


def test_the_hour_chart_is_every_raw_sample(db: Database, asset_id: str) -> None:
    _store(db, [_sample(asset_id, NOW - timedelta(minutes=m), float(m)) for m in range(90)])
    with db.session() as session:
        points = timeseries.metric_series(session, asset_id, "hour", now=NOW)
    assert [p["cpu_usage"] for p in points] == [float(m) for m in range(60, -1, -1)]
    assert points[0]["t"].tzinfo is not None


def test_retention_deletes_what_is_past_its_period_and_nothing_else(db: Database, asset_id: str) -> None:
    retention = Retention(raw_days=14, fine_days=90, coarse_days=730, logs_days=30, audit_days=730)
    _store(
        db,
        [_sample(asset_id, NOW - timedelta(days=d), 10.0) for d in (20, 15, 13, 1)]
        + [_sample(asset_id, NOW - timedelta(days=100, minutes=m), 10.0) for m in range(3)],
    )
    with db.engine.begin() as conn:
        for days in (100, 60, 800):
            for model in (MetricRollup5m, MetricRollup1h):
                bucket = int((NOW - timedelta(days=days)).timestamp()) // 3600 * 3600
                conn.execute(insert(table_of(model)).values(asset_id=asset_id, bucket=bucket, samples=1))
        conn.execute(
            insert(table_of(AgentLog)),
            [
                {"asset_id": asset_id, "logged_at": NOW - timedelta(days=d), "level": "INFO", "message": "x"}
                for d in (40, 29)
            ],
        )
        conn.execute(
            insert(table_of(AuditEntry)),
            [{"at": NOW - timedelta(days=d), "actor": "cli:test", "action": "test"} for d in (800, 10)],
        )
    deleted = timeseries.expire(db, retention, now=NOW, force=True)
    assert deleted["metric_samples"] == 5
    assert deleted["metric_rollups_5m"] == 2 and deleted["metric_rollups_1h"] == 1
    assert deleted["agent_logs"] == 1 and deleted["audit_log"] == 1
    with db.session() as session:
        kept = session.scalars(select(MetricSample.sampled_at).order_by(MetricSample.sampled_at)).all()
        assert kept == [NOW - timedelta(days=13), NOW - timedelta(days=1)]
        assert session.scalar(select(func.count()).select_from(MetricRollup1h)) == 2
    assert timeseries.expire(db, retention, now=NOW + timedelta(minutes=5)) == {}  # once an hour


def _fill_history(asset_id: str, *, days: int, used_at: Callable[[float], float]) -> list[dict[str, Any]]:
    """A sample every 5 minutes for ``days`` days up to NOW (every minute for the last hour)."""
    moments = [NOW - timedelta(minutes=m) for m in range(days * 24 * 60, 60, -5)]
    moments += [NOW - timedelta(minutes=m) for m in range(60, -1, -1)]
    return [
        _sample(asset_id, at, 10.0, disks={"C:": used_at((NOW - at).total_seconds() / 3600)})
        for at in moments
    ]


def _filling(hours_ago: float) -> float:
    """40 % used for days, then a point an hour for the last 45 hours: 85 % now, full in 15 hours."""
    return 40.0 + max(0.0, 45.0 - hours_ago)


def test_a_filling_disk_gets_an_eta_an_alert_and_a_ticket(db: Database, asset_id: str) -> None:
    with db.session() as session:
        set_override(session, resolve_scope(session, "asset", asset_id), "auto_ticket_creation", True, "t")
    _store(db, _fill_history(asset_id, days=7, used_at=_filling))
    timeseries.roll_up(db, now=NOW, settle=0)
    result = predictions.predict(db, now=NOW)
    assert result.alerts_opened == 1 and len(result.tickets) == 1
    with db.session() as session:
        found = session.get(DiskForecast, (asset_id, "C:"))
        assert found is not None and found.level == "warning"
        assert found.eta_hours == pytest.approx(15, abs=1.5)
        alert = session.scalars(select(Alert).where(Alert.type == "disk_forecast")).one()
        assert alert.status == "open" and alert.resource == "C:" and alert.severity == "warning"
        assert "El disco C: se llenará en unas" in alert.message
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.alert_id == alert.id and ticket.priority == "alta" and ticket.category == "hardware"
        assert "se llenará" in ticket.subject
    assert predictions.predict(db, now=NOW + timedelta(minutes=1)).assets == 0  # every 15 minutes
    again = predictions.predict(db, now=NOW + timedelta(minutes=15))
    assert again.alerts_opened == 0 and again.tickets == []  # refreshed, not a second ticket


def test_a_disk_cleaned_up_resolves_its_forecast(db: Database, asset_id: str) -> None:
    _store(db, _fill_history(asset_id, days=7, used_at=_filling))
    timeseries.roll_up(db, now=NOW, settle=0)
    assert predictions.predict(db, now=NOW).alerts_opened == 1
    later = NOW + timedelta(minutes=30)
    _store(
        db, [_sample(asset_id, NOW + timedelta(minutes=m), 10.0, disks={"C:": 40.0}) for m in range(1, 31)]
    )
    timeseries.roll_up(db, now=later, settle=0)
    assert predictions.predict(db, now=later).alerts_resolved == 1
    with db.session() as session:
        assert session.scalars(select(Alert.status)).one() == "resolved"
        found = session.get(DiskForecast, (asset_id, "C:"))
        assert found is not None and found.level == "ok" and found.eta_hours is None


def test_a_flat_disk_is_never_full(db: Database, asset_id: str) -> None:
    _store(db, _fill_history(asset_id, days=7, used_at=lambda hours_ago: 91.0))
    timeseries.roll_up(db, now=NOW, settle=0)
    assert predictions.predict(db, now=NOW).alerts_opened == 0
    with db.session() as session:
        found = session.get(DiskForecast, (asset_id, "C:"))
        assert found is not None and found.eta_hours is None and found.level == "ok"


def test_cpu_unusual_for_the_hour_of_the_week_is_a_warning_without_ticket(
    db: Database, asset_id: str
) -> None:
    with db.session() as session:
        set_override(session, resolve_scope(session, "asset", asset_id), "auto_ticket_creation", True, "t")
    history = [
        _sample(asset_id, NOW - timedelta(minutes=m), 8.0 + (m % 7)) for m in range(8 * 24 * 60, 15, -5)
    ]
    busy = [_sample(asset_id, NOW - timedelta(minutes=m), 96.0) for m in range(15, -1, -1)]
    _store(db, history + busy)
    with db.engine.begin() as conn:  # what the last heartbeat wrote
        conn.execute(update(table_of(Asset)).values(cpu_usage=96.0))
    timeseries.roll_up(db, now=NOW, settle=0)
    result = predictions.predict(db, now=NOW)
    assert result.alerts_opened == 1 and result.tickets == []
    with db.session() as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.type == "cpu_anomaly" and alert.severity == "warning"
        assert alert.message.startswith("Uso de CPU inusual para esta hora: 96 %")


def test_postgres_keeps_days_as_partitions_and_drops_them_whole(db: Database, asset_id: str) -> None:
    """On PostgreSQL each day of samples and logs is a partition, made ahead by the maintenance pass
    (rows already in the default partition move into it) and dropped whole past its retention; on
    SQLite there are none, and retention deletes the same rows in batches."""
    postgres = db.engine.dialect.name == "postgresql"
    early = [_sample(asset_id, NOW + timedelta(days=2, hours=h), 10.0) for h in range(3)]
    _store(db, early)  # before its day's partition exists: the default one takes them
    made = timeseries.ensure_partitions(db, NOW)
    if postgres:
        assert "metric_samples_p20261202" in made and "agent_logs_p20261203" in made
        assert timeseries.ensure_partitions(db, NOW) == []  # already there
        with db.engine.connect() as conn:
            moved = conn.execute(text("SELECT count(*) FROM metric_samples_p20261202")).scalar_one()
            left = conn.execute(text("SELECT count(*) FROM metric_samples_default")).scalar_one()
        assert (moved, left) == (3, 0)
    else:
        assert made == []
    # Fifteen days later the partition of NOW + 2 days is still kept, the one of NOW is gone.
    _store(db, [_sample(asset_id, NOW + timedelta(hours=1), 10.0)])
    later = NOW + timedelta(days=15)
    deleted = timeseries.expire(db, Retention(raw_days=14), now=later, force=True)
    assert deleted["metric_samples"] == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(MetricSample)) == 3
    if postgres:
        with db.engine.connect() as conn:
            names = set(conn.execute(text("SELECT tablename FROM pg_tables")).scalars())
        assert "metric_samples_p20261130" not in names and "metric_samples_p20261202" in names
