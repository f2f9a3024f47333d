"""Starting a throwaway ``lanet-server`` for a benchmark: migrate, create a token, serve, wait."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVER_CLI = [sys.executable, "-m", "lanet.server.cli"]


def prepare(env: dict[str, str]) -> str:
    """Migrate the database named in ``env`` and return a fresh install token for it."""
    subprocess.run([*SERVER_CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*SERVER_CLI, "tokens", "create", "--client", "Bench", "--site", "Lab"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return created.stdout.strip().splitlines()[-1]


def serve(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start ``lanet-server serve`` and return once ``/api/health`` answers."""
    proc = subprocess.Popen(
        [*SERVER_CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the benchmark server did not start")


def sqlite_env(folder: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LANET_DATA_DIR": str(folder),
        "LANET_DATABASE_URL": f"sqlite:///{folder / 'lanet.db'}",
        **extra,
    }
