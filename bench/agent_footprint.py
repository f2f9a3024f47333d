"""Agent footprint: steady RSS and CPU per heartbeat of ``lanet-agent run`` against a local server.

Starts a server on SQLite, registers an agent in a temporary home, runs it for ``--seconds`` at a
short ``--interval`` and samples the agent process once a second. CPU per heartbeat is the agent's
CPU time over the measured window (wake-ups between beats included) divided by the heartbeats the
server stored in that window; ``cpu_percent`` is the agent's average use of one core over the window.
Run it at the seed's interval for the budget figure:

    python bench/agent_footprint.py --seconds 60 --interval 5
    python bench/agent_footprint.py --seconds 600 --interval 60
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _spawn

ROOT = Path(__file__).resolve().parent.parent


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM metric_samples").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=20)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lanet-footprint-"))
    env = _spawn.sqlite_env(work / "server")
    agent_cli = [sys.executable, "-m", "lanet.agent.cli"]
    token = _spawn.prepare(env)
    subprocess.run(
        [
            *_spawn.SERVER_CLI,
            "config",
            "set",
            "--scope",
            "client",
            "--id",
            "Bench",
            "heartbeat_interval",
            str(args.interval),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = 19000 + os.getpid() % 1000
    server = _spawn.serve(env, port, workers=1)
    agent = None
    try:
        home = work / "agent"
        subprocess.run(
            [
                *agent_cli,
                "register",
                "--server",
                f"http://127.0.0.1:{port}/api",
                "--token",
                token,
                "--home",
                str(home),
                "--allow-insecure-http",
            ],
            check=True,
            capture_output=True,
        )
        agent = subprocess.Popen([*agent_cli, "run", "--quiet", "--home", str(home)])
        proc = psutil.Process(agent.pid)
        time.sleep(args.warmup)
        cpu_start = sum(proc.cpu_times()[:2])
        beats_start = _count(work / "server" / "lanet.db")
        started = time.monotonic()
        rss = []
        while time.monotonic() - started < args.seconds:
            rss.append(proc.memory_info().rss)
            time.sleep(1)
        elapsed = time.monotonic() - started
        cpu = sum(proc.cpu_times()[:2]) - cpu_start
        beats = _count(work / "server" / "lanet.db") - beats_start
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)
        server.terminate()
        server.wait(10)

    per_beat = cpu / max(beats, 1)
    steady = rss[len(rss) // 2 :]
    print(
        json.dumps(
            {
                "seconds": round(elapsed),
                "interval_s": args.interval,
                "heartbeats": beats,
                "rss_steady_mb": round(statistics.median(steady) / 2**20, 1),
                "rss_max_mb": round(max(rss) / 2**20, 1),
                "cpu_ms_per_heartbeat": round(per_beat * 1000, 2),
                "cpu_percent": round(cpu / elapsed * 100, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
