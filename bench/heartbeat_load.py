"""Heartbeat load: N simulated agents register, then heartbeat in a closed loop against a server.

Reports heartbeats per second, latency percentiles and errors. The load generator is a single
asyncio process writing raw HTTP/1.1 so that as much of the machine as possible is left to the server
and the database (they share the box in the figures of bench/README.md).

    python bench/heartbeat_load.py --spawn sqlite --agents 50 --seconds 30
    python bench/heartbeat_load.py --spawn postgresql://postgres@127.0.0.1:5432/test --agents 50
    python bench/heartbeat_load.py --url http://127.0.0.1:8000 --token LANET-... --agents 50
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _spawn

ROOT = Path(__file__).resolve().parent.parent
SEED = json.loads((ROOT / "tests/fixtures/seed_register_request.json").read_text())
BEAT = json.loads((ROOT / "tests/fixtures/seed_heartbeat_request.json").read_text())


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        data: dict[str, Any] = json.loads(reply.read())["data"]
        return data


def register_agents(base: str, token: str, count: int) -> list[dict[str, Any]]:
    agents = []
    for index in range(count):
        body = json.loads(json.dumps(SEED))
        body["token"] = token
        body["hardware_info"].update(machine_id=f"bench-{uuid.uuid4()}", computer_name=f"BENCH-{index:04d}")
        agents.append(_post(base + "/api/agents/register-with-token", body))
    return agents


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()


async def agent_loop(host: str, port: int, agent: dict[str, Any], deadline: float, stats: Stats) -> None:
    beat = dict(BEAT, asset_id=agent["asset_id"], alerts=[], logs=[])
    head = (
        f"POST /api/agents/heartbeat HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {agent['agent_token']}\r\nContent-Type: application/json\r\n"
        "Connection: close\r\n"
    )
    while time.perf_counter() < deadline:
        beat["message_id"] = str(uuid.uuid4())
        payload = json.dumps(beat).encode()
        request = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status_line = await reader.readline()
            await reader.read()  # until the server closes
            writer.close()
            status = status_line.split()[1].decode() if status_line else "closed"
        except OSError as exc:
            status = type(exc).__name__
        stats.latencies.append(time.perf_counter() - started)
        stats.statuses[status] += 1


async def run_load(base: str, agents: list[dict[str, Any]], seconds: float) -> tuple[Stats, float]:
    parts = urlsplit(base)
    stats = Stats()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(agent_loop(parts.hostname or "127.0.0.1", parts.port or 80, a, deadline, stats) for a in agents)
    )
    return stats, time.perf_counter() - started


def spawn_server(database: str, workers: int) -> tuple[subprocess.Popen[bytes], str, str]:
    data_dir = Path(tempfile.mkdtemp(prefix="lanet-bench-"))
    limits = {"LANET_RATE_AGENT": "1000000/60", "LANET_RATE_REGISTER": "1000000/60"}
    env = _spawn.sqlite_env(data_dir, **limits)
    if database != "sqlite":
        import psycopg

        env["LANET_DATABASE_URL"] = database
        with psycopg.connect(
            database.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        ) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    token = _spawn.prepare(env)
    port = 18000 + os.getpid() % 1000
    return _spawn.serve(env, port, workers), f"http://127.0.0.1:{port}", token


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server")
    parser.add_argument("--token", help="install token for --url")
    parser.add_argument("--spawn", help="start a server: 'sqlite' or a PostgreSQL URL (its schema is reset!)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers for --spawn")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=3)
    args = parser.parse_args()
    proc = None
    if args.spawn:
        proc, base, token = spawn_server(args.spawn, args.workers)
    elif args.url and args.token:
        base, token = args.url.rstrip("/"), args.token
    else:
        parser.error("give --spawn, or --url with --token")
    try:
        agents = register_agents(base, token, args.agents)
        if args.warmup:
            asyncio.run(run_load(base, agents, args.warmup))
        stats, elapsed = asyncio.run(run_load(base, agents, args.seconds))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
    ok = stats.statuses.get("200", 0)
    lat = sorted(stats.latencies)
    quantiles = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
    result = {
        "server": args.spawn or base,
        "agents": args.agents,
        "seconds": round(elapsed, 1),
        "heartbeats_per_s": round(ok / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "errors": {k: v for k, v in stats.statuses.items() if k != "200"},
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
