"""The metric history at scale on PostgreSQL: a week of heartbeats of a fleet, then what reading,
rolling up, expiring and listing it costs.

Builds the issue's data set in a database of its own (default: 1,000 assets x 7 days at 60 s,
10,080,000 samples, each with two disks), loaded with COPY into the day partitions the maintenance
pass keeps, and then measures:

- ``rollup_s``: the first roll-up pass over the whole week (what an upgrade's first pass does;
  later passes fold only the last 30 s);
- ``maintenance_pass_s``: a whole maintenance pass afterwards (partitions, roll-up, predictions
  for every asset, retention);
- the week chart of one asset (``metric_series(..., "week")``): median and p95 ms over 50 assets,
  and the shared buffers its query touches (``EXPLAIN (ANALYZE, BUFFERS)``);
- storage: bytes per row of every history table as loaded, projected to one agent's steady state
  at the default retention (raw 14 d, 5-minute 90 d, hourly 2 years);
- the fleet list (``/portal/assets`` as a technician, rendered) at ``--fleet`` assets.

    .venv/bin/python bench/history_scale.py --database postgresql://postgres@127.0.0.1:5432/bench_history

The database named is dropped and made again. Prints one JSON line.
"""

import argparse
import io
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lanet.server.db import Database
from lanet.server.migrate import upgrade
from lanet.server.settings import Retention, normalise_database_url

DAY = 86400
PASSWORD = "bench-password-2026"  # noqa: S105 - a throwaway user of a throwaway database


def _recreate(url: str) -> None:
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _assets(db: Database, count: int, now: datetime) -> list[str]:
    from lanet.server.models import Asset
    from lanet.server.models.base import table_of
    from lanet.server.services.tenancy import ensure_client, ensure_site

    with db.session() as session:
        client = ensure_client(session, "Bench")[0]
        site = ensure_site(session, client, "Lab")[0]
        session.flush()
        client_id, site_id = client.id, site.id
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with db.engine.begin() as conn:
        conn.execute(
            table_of(Asset).insert(),
            [
                {
                    "id": asset_id,
                    "client_id": client_id,
                    "site_id": site_id,
                    "fingerprint": uuid.uuid4().hex,
                    "computer_name": f"PC-{n:05d}",
                    "os": "Windows 11 Pro",
                    "hardware": {"cpu_cores": 8},
                    "agent_status": "online",
                    "last_seen": now,
                    "offline_deadline": int(now.timestamp()) + 180,
                    "cpu_usage": 12.0,
                    "memory_usage": 40.0,
                    "disk_usage": 55.0,
                    "registered_at": now - timedelta(days=8),
                }
                for n, asset_id in enumerate(ids)
            ],
        )
    return ids


def _load(url: str, ids: list[str], days: int, step: int, now: datetime) -> int:
    """COPY the samples in time order (all assets' beats of a minute together, as they arrive)."""
    start = int(now.timestamp()) - days * DAY
    rows = 0
    rng = random.Random(7)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY metric_samples (asset_id, sampled_at, cpu_usage, memory_usage, disk_usage, network_usage,"
            " uptime, processes_count, threads_count, extra) FROM STDIN"
        ) as copy:
            buffer = io.StringIO()
            for moment in range(start, int(now.timestamp()), step):
                stamp = datetime.fromtimestamp(moment, UTC).isoformat()
                for index, asset_id in enumerate(ids):
                    used = 40 + (index % 40) + (moment - start) / (days * DAY) * 5
                    extra = json.dumps(
                        {
                            "disks": [
                                {
                                    "mount": "C:",
                                    "total": 511 * 10**9,
                                    "used": int(used * 5.11e9),
                                    "percent": round(used, 1),
                                },
                                {"mount": "D:", "total": 2 * 10**12, "used": 6 * 10**11, "percent": 30.0},
                            ]
                        }
                    )
                    buffer.write(
                        f"{asset_id}\t{stamp}\t{rng.uniform(2, 60):.1f}\t{rng.uniform(30, 70):.1f}\t"
                        f"{used:.1f}\t"
                        f"{rng.uniform(0, 20):.2f}\t{moment - start}\t{rng.randint(150, 300)}\t"
                        f"{rng.randint(1500, 4000)}\t{extra}\n"
                    )
                    rows += 1
                if buffer.tell() > 8 << 20:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        conn.commit()
    return rows


def _sizes(db: Database) -> dict[str, dict[str, int]]:
    tables = (
        "metric_samples",
        "metric_rollups_5m",
        "metric_rollups_1h",
        "disk_rollups_5m",
        "disk_rollups_1h",
        "agent_logs",
        "assets",
    )
    found = {}
    with db.engine.connect() as conn:
        for table in tables:
            size = conn.execute(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "WHERE c.relname = :t OR c.oid IN (SELECT inhrelid FROM pg_inherits i "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t)"
                ),
                {"t": table},
            ).scalar_one()
            count = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            found[table] = {"bytes": int(size), "rows": int(count)}
    return found


def _week_chart(db: Database, ids: list[str], now: datetime) -> dict[str, Any]:
    from lanet.server.services import timeseries

    times = []
    for asset_id in random.Random(3).sample(ids, min(50, len(ids))):
        with db.engine.connect() as conn:
            began = time.perf_counter()
            points = timeseries.metric_series(conn, asset_id, "week", now)
            times.append((time.perf_counter() - began) * 1000)
    # The same statement, explained: the shared buffers it hit and read.
    with db.engine.connect() as conn:
        statement, params = timeseries.chart_query(conn, ids[0], "week", now)
        plan = conn.execute(
            text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(statement)), params
        ).scalar_one()
    top = plan[0]["Plan"]
    return {
        "week_chart_ms_median": round(statistics.median(times), 1),
        "week_chart_ms_p95": round(sorted(times)[int(len(times) * 0.95) - 1], 1),
        "week_chart_points": len(points),
        "week_chart_buffers": int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0)),
    }


def _fleet_list(url: str, db: Database, total: int, now: datetime) -> dict[str, Any]:
    from lanet.server.app import create_app
    from lanet.server.models import Asset
    from lanet.server.services.users import create_user
    from lanet.server.settings import Settings

    with db.engine.connect() as conn:
        have = int(conn.execute(text("SELECT count(*) FROM assets")).scalar_one())
    if total > have:
        _assets(db, total - have, now)
    import tempfile

    settings = Settings(database_url=url, secret_key="b" * 40, data_dir=Path(tempfile.mkdtemp()))
    app = create_app(settings)
    with app.extensions["lanet"].db.session() as session:
        create_user(session, email="tec@bench.mx", role="technician", password=PASSWORD, actor="bench")
        assert session.query(Asset).count() >= total
    client = app.test_client()
    page = client.get("/portal/login").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post(
        "/portal/login",
        data={"email": "tec@bench.mx", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    times, size = [], 0
    for _ in range(20):
        began = time.perf_counter()
        answer = client.get("/portal/assets")
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200
        size = len(answer.get_data())
    return {
        "fleet_assets": total,
        "fleet_list_ms_median": round(statistics.median(times), 1),
        "fleet_list_ms_max": round(max(times), 1),
        "fleet_list_bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_history")
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--step", type=int, default=60)
    parser.add_argument("--fleet", type=int, default=10_000)
    args = parser.parse_args()
    from lanet.server.maintenance import maintenance_pass
    from lanet.server.services import timeseries

    _recreate(args.database)
    url = normalise_database_url(args.database)
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for back in range(args.days + 1, -1, -4):
        timeseries.ensure_partitions(db, now - timedelta(days=back))
    ids = _assets(db, args.assets, now)
    began = time.perf_counter()
    rows = _load(args.database, ids, args.days, args.step, now)
    load_s = time.perf_counter() - began
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    began = time.perf_counter()
    timeseries.roll_up(db, now, settle=0)
    rollup_s = time.perf_counter() - began
    began = time.perf_counter()
    maintenance_pass(db, None, Retention())
    pass_s = time.perf_counter() - began
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    result: dict[str, Any] = {"samples": rows, "assets": args.assets, "load_s": round(load_s, 1)}
    result["rollup_s"] = round(rollup_s, 1)
    result["maintenance_pass_s"] = round(pass_s, 1)
    result.update(_week_chart(db, ids, now))
    sizes = _sizes(db)
    result["tables"] = sizes
    per_row = {t: s["bytes"] / s["rows"] for t, s in sizes.items() if s["rows"]}
    per_agent_day_raw = 86400 / args.step
    keep = Retention()
    disks = sizes["disk_rollups_5m"]["rows"] / max(1, sizes["metric_rollups_5m"]["rows"])
    steady = (
        per_row["metric_samples"] * per_agent_day_raw * keep.raw_days
        + (per_row["metric_rollups_5m"] + disks * per_row["disk_rollups_5m"]) * 288 * keep.fine_days
        + (per_row["metric_rollups_1h"] + disks * per_row["disk_rollups_1h"]) * 24 * 365
    )
    result["bytes_per_sample"] = round(per_row["metric_samples"])
    result["steady_mb_per_agent_first_year"] = round(steady / 1e6, 1)
    result.update(_fleet_list(url, db, args.fleet, now))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
