"""What offering a release costs the server, and the download bandwidth it serves.

N simulated agents (default 1,000) register; a package of ``--package-mb`` is signed with a fresh
offline key and published. Then, with the same generator as ``heartbeat_load.py`` (raw HTTP/1.1,
one connection per request, ``--concurrency`` requests in flight cycling through all N agents):

1. heartbeats/s and the server's CPU per heartbeat in the window where a 100 % rollout records
   each asset's first offer (one insert per asset, once);
2. then, in alternating windows (``--rounds`` pairs, medians reported), the same with the rollout
   paused (replies carry no offer) and active (every reply carries the offer: the rollouts come
   from the per-process cache, the ring is a hash of the asset id);
3. ``--downloads`` agents fetching the package at once through ``/api/agents/releases/targets``
   (their JWT, as the TUF fetcher does): the aggregate MB/s, and the heartbeats/s meanwhile.

At the seed's 60 s interval N agents need N/60 heartbeats/s: the result says what share of the
measured capacity that is.

    python bench/release_offer.py --spawn sqlite
    python bench/release_offer.py --spawn postgresql://postgres@127.0.0.1:5432/test --agents 1000
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
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _spawn
from heartbeat_load import BEAT, read_response, register_agents

PASSPHRASE = "bench release passphrase"  # noqa: S105 - a throwaway key of the benchmark
VERSION = "9.0.0"
#: A little over the server's rollout cache (``rollouts.CACHE_SECONDS``): every process sees a change.
CACHE_WAIT = 6.0
PLATFORM = "linux-deb"


async def _request(host: str, port: int, raw: bytes) -> tuple[str, int]:
    """One request on a new connection: the status and the size of the body read."""
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    try:
        writer.write(raw)
        return await read_response(reader)
    finally:
        writer.close()


def _heartbeat(host: str, port: int, agent: dict[str, Any]) -> bytes:
    beat = dict(
        BEAT,
        asset_id=agent["asset_id"],
        alerts=[],
        logs=[],
        message_id=str(uuid.uuid4()),
        agent_version="1.0.0",
        update_platform=PLATFORM,
    )
    payload = json.dumps(beat).encode()
    return (
        f"POST /api/agents/heartbeat HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {agent['agent_token']}\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


class Window:
    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.body_bytes: list[int] = []


async def heartbeats(base: str, agents: list[dict[str, Any]], seconds: float, concurrency: int) -> Window:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    window = Window()
    deadline = time.perf_counter() + seconds

    async def lane(first: int) -> None:
        index = first
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, size = await _request(host, port, _heartbeat(host, port, agents[index % len(agents)]))
            except (OSError, asyncio.IncompleteReadError) as exc:
                status, size = type(exc).__name__, 0
            window.latencies.append(time.perf_counter() - started)
            window.statuses[status] += 1
            window.body_bytes.append(size)
            index += concurrency

    await asyncio.gather(*(lane(i) for i in range(concurrency)))
    return window


async def downloads(
    base: str, agents: list[dict[str, Any]], path: str, count: int
) -> tuple[int, float, Counter[str]]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    statuses: Counter[str] = Counter()

    async def one(agent: dict[str, Any]) -> int:
        raw = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {agent['agent_token']}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        status, size = await _request(host, port, raw)
        statuses[status] += 1
        return size

    started = time.perf_counter()
    sizes = await asyncio.gather(*(one(a) for a in agents[:count]))
    return sum(sizes), time.perf_counter() - started, statuses


def _server_cpu(proc: subprocess.Popen[bytes]) -> float:
    """User+system seconds of the server's whole process tree (nginx, workers) so far."""
    total = 0.0
    root = psutil.Process(proc.pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _measure(
    proc: subprocess.Popen[bytes], base: str, agents: list[dict[str, Any]], seconds: float, concurrency: int
) -> dict[str, Any]:
    cpu_before = _server_cpu(proc)
    started = time.perf_counter()
    window = asyncio.run(heartbeats(base, agents, seconds, concurrency))
    elapsed = time.perf_counter() - started
    cpu = _server_cpu(proc) - cpu_before
    ok = window.statuses.get("200", 0)
    quantiles = statistics.quantiles(sorted(window.latencies), n=100)
    return {
        "heartbeats_per_s": round(ok / elapsed, 1),
        "server_cpu_ms_per_heartbeat": round(1000 * cpu / max(ok, 1), 2),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "reply_bytes": round(statistics.mean(window.body_bytes)),
        "errors": {k: v for k, v in window.statuses.items() if k != "200"},
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every run's rate beside it."""
    ordered = sorted(runs, key=lambda r: r["heartbeats_per_s"])
    return {**ordered[len(ordered) // 2], "runs_per_s": [r["heartbeats_per_s"] for r in runs]}


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*_spawn.SERVER_CLI, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout


def _prepare(database: str, package_mb: float) -> tuple[Path, dict[str, str], str, str]:
    """A fresh database, an install token, release keys and one published package of that size."""
    data_dir = Path(tempfile.mkdtemp(prefix="lanet-bench-release-"))
    limits = {"LANET_RATE_AGENT": "1000000/60", "LANET_RATE_REGISTER": "1000000/60"}
    env = _spawn.sqlite_env(data_dir, LANET_RELEASE_PASSPHRASE=PASSPHRASE, **limits)
    if database != "sqlite":
        import psycopg

        env["LANET_DATABASE_URL"] = database
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    token = _spawn.prepare(env)
    keys = data_dir / "usb"
    _cli(env, "releases", "keygen", "--keys", str(keys))
    package = data_dir / f"lanet-agent_{VERSION}_all.deb"
    package.write_bytes(os.urandom(int(package_mb * 1024 * 1024)))
    _cli(
        env,
        "releases",
        "publish",
        str(package),
        "--version",
        VERSION,
        "--platform",
        PLATFORM,
        "--keys",
        str(keys),
    )
    listed = json.loads(_cli(env, "releases", "list", "--json"))
    target = next(r["target"] for r in listed if r["version"] == VERSION)
    return data_dir, env, token, target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--spawn", default="sqlite", help="'sqlite' or a PostgreSQL URL (its schema is reset!)"
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10, help="one window")
    parser.add_argument("--rounds", type=int, default=3, help="paused/active window pairs")
    parser.add_argument("--package-mb", type=float, default=30, help="the MSI is about 30 MB")
    parser.add_argument("--downloads", type=int, default=10)
    args = parser.parse_args()

    data_dir, env, token, target = _prepare(args.spawn, args.package_mb)
    port = 18500 + os.getpid() % 400
    proc = _spawn.serve(env, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        registered = time.perf_counter()
        agents = register_agents(base, token, args.agents)
        registering = time.perf_counter() - registered
        asyncio.run(heartbeats(base, agents, 3, args.concurrency))  # warm-up
        _cli(env, "releases", "rollout", VERSION, "--percent", "100")
        time.sleep(CACHE_WAIT)
        # The first window records each asset's first offer (one insert per asset, once). Then
        # windows alternate with the rollout paused and active (the steady state: every reply
        # carries the offer from the per-process cache), so drift on a shared box hits both alike.
        first_offers = _measure(proc, base, agents, args.seconds, args.concurrency)
        windows: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
        for _ in range(args.rounds):
            for verb, name in (("pause", "without"), ("resume", "with")):
                _cli(env, "releases", verb, VERSION)
                time.sleep(CACHE_WAIT)
                windows[name].append(_measure(proc, base, agents, args.seconds, args.concurrency))
        without, with_rollout = _median(windows["without"]), _median(windows["with"])
        # Downloads, and heartbeats meanwhile.
        name = _consistent_name(data_dir, target)
        path = f"/api/agents/releases/targets/{name}"

        async def both() -> tuple[tuple[int, float, Counter[str]], Window]:
            fetch = asyncio.create_task(downloads(base, agents, path, args.downloads))
            beats = asyncio.create_task(heartbeats(base, agents[args.downloads :], 10, 20))
            return await fetch, await beats

        (served, took, statuses), during = asyncio.run(both())
    finally:
        proc.terminate()
        proc.wait(20)
    result = {
        "server": args.spawn,
        "workers": args.workers,
        "agents": args.agents,
        "concurrency": args.concurrency,
        "register_per_s": round(args.agents / registering, 1),
        "without_rollout": without,
        "with_rollout_first_offers": first_offers,
        "with_rollout": with_rollout,
        "offer_cost_ratio": round(
            with_rollout["heartbeats_per_s"] / max(without["heartbeats_per_s"], 0.1), 3
        ),
        "needed_at_60s_per_s": round(args.agents / 60, 1),
        "share_of_capacity_at_60s": round(args.agents / 60 / max(with_rollout["heartbeats_per_s"], 0.1), 4),
        "downloads": {
            "count": args.downloads,
            "package_mb": args.package_mb,
            "served_mb": round(served / 1048576, 1),
            "seconds": round(took, 2),
            "mb_per_s": round(served / 1048576 / took, 1),
            "statuses": dict(statuses),
            "heartbeats_per_s_meanwhile": round(during.statuses.get("200", 0) / 10, 1),
            "heartbeat_p99_ms_meanwhile": round(
                statistics.quantiles(sorted(during.latencies), n=100)[98] * 1000, 1
            ),
        },
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


def _consistent_name(data_dir: Path, target: str) -> str:
    """The consistent-snapshot path the TUF client asks for: ``<platform>/<sha256>.<file>``."""
    platform, _, file_name = target.partition("/")
    for found in (data_dir / "releases").rglob(f"*.{file_name}"):
        return f"{platform}/{found.name}"
    raise RuntimeError(f"the published file of {target} is not in the repository")


if __name__ == "__main__":
    main()
