"""Driving ``lanet-agent`` processes from tests."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

AGENT = [sys.executable, "-m", "lanet.agent.cli"]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class AgentProcess:
    def __init__(self, home: Path, command: list[str] | None = None) -> None:
        """``command`` runs the agent another way (the installed package's ``/usr/bin/lanet-agent``)."""
        self.home = home
        self.command = command or AGENT
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        #: The tests run as root on the machine that runs them: their agents never restart it.
        self.allow_restart = False

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args, "--home", str(self.home)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )

    def register(self, server: str, token: str) -> subprocess.CompletedProcess[str]:
        """The test servers speak plain http on loopback: the agent's development switch."""
        insecure = ["--allow-insecure-http"] if server.startswith("http://") else []
        return self.cli("register", "--server", server, "--token", token, *insecure)

    def tune(self, **sections: dict[str, Any]) -> None:
        """Edit agent_config.json before a start (e.g. a 5 s heartbeat for tests)."""
        path = self.home / "config" / "agent_config.json"
        data = json.loads(path.read_text())
        for section, values in sections.items():
            data[section].update(values)
        path.write_text(json.dumps(data))

    def start(self) -> None:
        config = self.home / "config" / "agent_config.json"
        # Only an agent that knows the setting (it wrote the section) can restart the machine.
        if config.exists() and "patches" in json.loads(config.read_text()):
            self.tune(patches={"allow_restart": self.allow_restart})
        log = (self.home / "run.out").open("ab")
        self.proc = subprocess.Popen(
            [*self.command, "run", "--home", str(self.home)], stdout=log, stderr=log, env=self.env
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10) -> float:
        """SIGTERM; returns how long the process took to exit."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def log_text(self, name: str = "agent.log") -> str:
        path = self.home / "logs" / name
        return path.read_text() if path.exists() else ""


def server_samples(db_path: Path, asset_id: str) -> list[str]:
    """When each metric sample the server stored for an asset was taken (to the second: two
    heartbeats may share one, so the tests compare counts with the agent's)."""
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT sampled_at FROM metric_samples WHERE asset_id = ?", (asset_id,)
        ).fetchall()
    return [r[0] for r in rows]


def server_assets(db_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT id, computer_name FROM assets").fetchall()
