"""Heartbeat load: N simulated agents register, then heartbeat in a closed loop against a server.

Reports heartbeats per second, latency percentiles and errors. The load generator is a single
asyncio process writing raw HTTP/1.1 so that as much of the machine as possible is left to the server
and the database (they share the box in the figures of bench/README.md).

    python bench/heartbeat_load.py --spawn sqlite --agents 50 --seconds 30
    python bench/heartbeat_load.py --spawn postgresql://postgres@127.0.0.1:5432/test --agents 50
    python bench/heartbeat_load.py --url http://127.0.0.1:8000 --token LANET-... --agents 50
    python bench/heartbeat_load.py --spawn sqlite --close-delay-ms 10     # clients 10 ms away
    python bench/heartbeat_load.py --spawn sqlite --slow-clients 200      # while slowloris holds
    python bench/heartbeat_load.py --floor --close-delay-ms 10            # an empty Flask route

``--floor`` serves a trivial Flask route through the same front end and workers as ``serve`` (the
configuration comes from the same code), so the heartbeat's figures can be read against the cost of
the HTTP stack alone in the same run.
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
from collections.abc import Callable
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


async def read_response(reader: asyncio.StreamReader) -> tuple[str, int]:
    """A response read to its Content-Length, in chunks (a package is tens of MB): its status and
    the number of body bytes read."""
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    read = 0
    while read < length and (chunk := await reader.read(min(1 << 20, length - read))):
        read += len(chunk)
    return (status_line.split()[1].decode() if status_line else "closed"), read


async def exchange(host: str, port: int, request: bytes, close_delay: float) -> str:
    """One request on a new connection; the status. The client waits ``close_delay`` after reading
    the response before closing, as a peer one round trip away does."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        status, _size = await read_response(reader)
        if close_delay:
            await asyncio.sleep(close_delay)
    finally:
        writer.close()
    return status


async def agent_loop(
    host: str, port: int, agent: dict[str, Any] | None, deadline: float, stats: Stats, close_delay: float
) -> None:
    """Heartbeats in a closed loop for ``agent``; ``None`` asks for the floor's empty route instead."""
    beat = dict(BEAT, asset_id=agent["asset_id"], alerts=[], logs=[]) if agent else {}
    path = "/api/agents/heartbeat" if agent else "/floor"
    auth = f"Authorization: Bearer {agent['agent_token']}\r\n" if agent else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}Content-Type: application/json\r\n"
        "Connection: close\r\n"
    )
    while time.perf_counter() < deadline:
        beat["message_id"] = str(uuid.uuid4())
        payload = json.dumps(beat).encode()
        request = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        started = time.perf_counter()
        try:
            status = await exchange(host, port, request, close_delay)
        except (OSError, asyncio.IncompleteReadError) as exc:
            status = type(exc).__name__
        stats.latencies.append(time.perf_counter() - started)
        stats.statuses[status] += 1


async def slow_client(host: str, port: int, stop: asyncio.Event) -> None:
    """Slowloris: a request line, then one header line every 5 s, never finished; reconnects."""
    while not stop.is_set():
        try:
            _reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"POST /api/agents/heartbeat HTTP/1.1\r\nHost: lanet\r\n")
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), 5)
                except TimeoutError:
                    writer.write(f"X-Slow-{time.monotonic_ns()}: a\r\n".encode())
                    await writer.drain()
            writer.close()
        except OSError:
            await asyncio.sleep(0.1)


async def health_loop(host: str, port: int, deadline: float, stats: Stats) -> None:
    """``GET /api/health`` once every 100 ms, as a load balancer or the portal would."""
    request = f"GET /api/health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            status = await exchange(host, port, request, 0)
        except (OSError, asyncio.IncompleteReadError) as exc:
            status = type(exc).__name__
        stats.latencies.append(time.perf_counter() - started)
        stats.statuses[status] += 1
        await asyncio.sleep(0.1)


async def run_load(
    base: str,
    agents: list[dict[str, Any] | None],
    seconds: float,
    close_delay: float,
    slow: int,
    probe_health: bool = True,
) -> tuple[Stats, Stats, float]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    stats, health = Stats(), Stats()
    stop = asyncio.Event()
    attackers = [asyncio.create_task(slow_client(host, port, stop)) for _ in range(slow)]
    if slow:
        await asyncio.sleep(1.0)
    started = time.perf_counter()
    deadline = started + seconds
    loops = [agent_loop(host, port, a, deadline, stats, close_delay) for a in agents]
    if probe_health:
        loops.append(health_loop(host, port, deadline, health))
    await asyncio.gather(*loops)
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*attackers, return_exceptions=True)
    return stats, health, elapsed


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


def spawn_floor(workers: int) -> tuple[Callable[[], None], str]:
    """nginx and gunicorn exactly as ``serve`` configures them, in front of an empty Flask route."""
    from lanet.server.frontend import FrontEnd, find_nginx, prepare_runtime_dir, render, worker_user

    runtime = Path(tempfile.mkdtemp(prefix="lanet-floor-"))
    port = 19000 + os.getpid() % 1000
    front = FrontEnd(
        host="127.0.0.1",
        port=port,
        app_socket=runtime / "app.sock",
        runtime_dir=runtime,
        max_body_bytes=10 * 1024 * 1024,
        worker_user=worker_user(),
    )
    prepare_runtime_dir(front)
    front.config_file.write_text(render(front))
    app = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_floor_app.py")), str(front.app_socket), str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not front.app_socket.exists():
        time.sleep(0.05)
    nginx = subprocess.Popen(
        [find_nginx(), "-p", str(runtime), "-c", str(front.config_file), "-e", "stderr"],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)

    def stop() -> None:
        nginx.terminate()
        app.terminate()
        nginx.wait(10)
        app.wait(20)

    return stop, f"http://127.0.0.1:{port}"


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(sorted(latencies), n=100)[98] if len(latencies) >= 2 else 0.0


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
    parser.add_argument("--close-delay-ms", type=float, default=0, help="each client closes this late")
    parser.add_argument("--slow-clients", type=int, default=0, help="slowloris connections held meanwhile")
    parser.add_argument("--floor", action="store_true", help="an empty Flask route behind the same stack")
    args = parser.parse_args()
    proc = None
    stop_floor = None
    if args.floor:
        stop_floor, base = spawn_floor(args.workers)
        token = ""
    elif args.spawn:
        proc, base, token = spawn_server(args.spawn, args.workers)
    elif args.url and args.token:
        base, token = args.url.rstrip("/"), args.token
    else:
        parser.error("give --spawn, --floor, or --url with --token")
    delay = args.close_delay_ms / 1000
    try:
        agents: list[dict[str, Any] | None] = (
            [None] * args.agents if args.floor else list(register_agents(base, token, args.agents))
        )
        if args.warmup:
            asyncio.run(run_load(base, agents, args.warmup, delay, 0))
        stats, health, elapsed = asyncio.run(
            run_load(base, agents, args.seconds, delay, args.slow_clients, probe_health=not args.floor)
        )
    finally:
        if stop_floor is not None:
            stop_floor()
        elif proc is not None:
            proc.terminate()
            proc.wait(20)
    ok = stats.statuses.get("200", 0)
    lat = sorted(stats.latencies)
    quantiles = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
    result = {
        "server": "floor" if args.floor else (args.spawn or base),
        "agents": args.agents,
        "close_delay_ms": args.close_delay_ms,
        "slow_clients": args.slow_clients,
        "seconds": round(elapsed, 1),
        "heartbeats_per_s": round(ok / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "errors": {k: v for k, v in stats.statuses.items() if k != "200"},
        "health_p99_ms": round(_p99(health.latencies) * 1000, 1),
        "health_errors": {k: v for k, v in health.statuses.items() if k != "200"},
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
