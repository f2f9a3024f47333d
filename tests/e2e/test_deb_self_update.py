"""Self-update with the .deb installed for real: a technician publishes N+1 and rolls it out to one
site; the agent there updates and heartbeats as N+1 while an agent of another site stays on N; N+2,
which crashes at start, is put back to N+1 by the health gate, and the server shows the rollback and
pauses the rollout. Needs root (dpkg); the package is purged afterwards."""

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import ROOT, LiveServer, start_server
from tests.e2e.agents import AgentProcess, wait_for
from tests.e2e.releases import PASSPHRASE, kill_agents_of, publish, rebuilt
from tests.e2e.releases import status as release_status

pytestmark = pytest.mark.e2e
INSTALLED = "/usr/bin/lanet-agent"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=600, check=False, env=env)


def _build(version: str, root: Path, into: Path) -> Path:
    built = _run(
        "bash",
        str(ROOT / "packaging/linux/build-deb.sh"),
        version,
        env={**os.environ, "LANET_TRUSTED_ROOT": str(root)},
    )
    assert built.returncode == 0, built.stderr
    into.mkdir(parents=True, exist_ok=True)
    target = into / Path(built.stdout.strip().splitlines()[-1]).name
    os.replace(built.stdout.strip().splitlines()[-1], target)
    return target


def _assets(server: LiveServer) -> dict[str, Any]:
    with sqlite3.connect(Path(server.env["LANET_DATA_DIR"]) / "lanet.db") as conn:
        rows = conn.execute("SELECT id, agent_version, agent_status FROM assets").fetchall()
    return {row[0]: {"agent_version": row[1], "agent_status": row[2]} for row in rows}


def _crashes_at_start(tree: Path) -> None:
    cli = tree / "usr/lib/lanet-agent/lanet/agent/cli.py"
    cli.write_text('raise SystemExit("this build crashes at start")\n' + cli.read_text())


def _padding(tree: Path) -> None:
    """A large file, so that dpkg takes long enough to be cut short."""
    (tree / "usr/share/doc/lanet-agent/padding.bin").write_bytes(os.urandom(60 * 1024 * 1024))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    assert os.geteuid() == 0, "installing a .deb needs root (CI runs as root)"
    data = tmp_path / "server"
    live = start_server(
        data, f"sqlite:///{data / 'lanet.db'}", extra_env={"LANET_RELEASE_PASSPHRASE": PASSPHRASE}
    )
    yield live
    live.stop()
    _run("dpkg", "--purge", "lanet-agent")


def test_a_site_updates_another_stays_and_a_broken_release_is_rolled_back(
    server: LiveServer, tmp_path: Path
) -> None:
    keys = tmp_path / "usb"
    assert server.cli("releases", "keygen", "--keys", str(keys)).returncode == 0
    root = keys / "trusted_root.json"
    packages = tmp_path / "packages"
    n, n1 = _build("0.1.0", root, packages), _build("0.1.1", root, packages)
    n2 = rebuilt(n1, "0.1.2", packages, _crashes_at_start)
    installed = _run("dpkg", "-i", str(n))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    publish(server, keys, n, "0.1.0")
    publish(server, keys, n1, "0.1.1")

    agents: dict[str, tuple[AgentProcess, str]] = {}
    for site in ("Norte", "Sur"):
        agent = AgentProcess(tmp_path / f"agent-{site}", command=[INSTALLED])
        token = server.cli("tokens", "create", "--client", "Cafe", "--site", site).stdout.split()[-1]
        registered = agent.register(server.url, token)
        assert registered.returncode == 0, registered.stderr
        agent.tune(
            heartbeat={"interval": 5},
            backend={"retry_delay": 1, "timeout": 5},
            updates={"health_timeout": 30},
        )
        agent.start()
        agents[site] = (agent, registered.stdout.split()[2])
    north, south = agents["Norte"][1], agents["Sur"][1]
    try:
        wait_for(lambda: _assets(server)[north]["agent_version"] == "0.1.0", 60, "N heartbeating")
        assert (
            server.cli(
                "releases",
                "rollout",
                "0.1.1",
                "--percent",
                "100",
                "--client",
                "Cafe",
                "--site",
                "Norte",
                "--now",
            ).returncode
            == 0
        )
        wait_for(
            lambda: (
                [(a["asset_id"], a["state"]) for a in release_status(server, "0.1.1")["assets"]]
                == [(north, "healthy")]
            ),
            180,
            "the Norte agent updated and healthy",
        )
        assert _assets(server)[north]["agent_version"] == "0.1.1"
        assert _assets(server)[south]["agent_version"] == "0.1.0"
        assert _run("dpkg-query", "-W", "-f=${Version}", "lanet-agent").stdout == "0.1.1"

        # N+2 dies at start: the health gate puts N+1 back and the server pauses the rollout.
        publish(server, keys, n2, "0.1.2")
        assert (
            server.cli(
                "releases",
                "rollout",
                "0.1.2",
                "--percent",
                "100",
                "--client",
                "Cafe",
                "--site",
                "Norte",
                "--now",
            ).returncode
            == 0
        )
        outcome = wait_for(
            lambda: (
                (s := release_status(server, "0.1.2"))["assets"]
                and s["assets"][0]["state"] == "rolled_back"
                and s
            ),
            240,
            "the broken release rolled back",
        )
        assert (
            "0.1.2 did not complete a heartbeat within 30 s; 0.1.1 reinstalled"
            in outcome["assets"][0]["reason"]
        )
        assert (
            outcome["rollouts"][0]["paused"]
            and "over the 2 % threshold" in outcome["rollouts"][0]["paused_reason"]
        )
        assert _run("dpkg-query", "-W", "-f=${Version}", "lanet-agent").stdout == "0.1.1"
        wait_for(
            lambda: _assets(server)[north]["agent_status"] in ("online", "warning"), 60, "N+1 back online"
        )
        assert _assets(server)[north]["agent_version"] == "0.1.1"
    finally:
        for agent, _asset in agents.values():
            kill_agents_of(agent.home)


def _pre_start_command(home: Path) -> list[str]:
    """The unit's ExecStartPre, as systemd would run it (for this agent's --home)."""
    unit = Path("/lib/systemd/system/lanet-agent.service").read_text()
    line = next(row for row in unit.splitlines() if row.startswith("ExecStartPre="))
    return [*line.split("=", 1)[1].lstrip("-").split(), "--home", str(home)]


def test_a_swap_killed_half_way_leaves_an_agent_that_starts_on_the_previous_version(
    server: LiveServer, tmp_path: Path
) -> None:
    keys = tmp_path / "usb"
    assert server.cli("releases", "keygen", "--keys", str(keys)).returncode == 0
    packages = tmp_path / "packages"
    n = _build("0.1.0", keys / "trusted_root.json", packages)
    big = rebuilt(_build("0.1.1", keys / "trusted_root.json", packages), "0.1.3", packages, _padding)
    assert _run("dpkg", "-i", str(n)).returncode == 0
    publish(server, keys, n, "0.1.0")
    publish(server, keys, big, "0.1.3")
    agent = AgentProcess(tmp_path / "agent", command=[INSTALLED])
    token = server.cli("tokens", "create", "--client", "Cafe", "--site", "CDMX").stdout.split()[-1]
    registered = agent.register(server.url, token)
    assert registered.returncode == 0, registered.stderr
    asset_id = registered.stdout.split()[2]
    agent.tune(
        heartbeat={"interval": 5}, backend={"retry_delay": 1, "timeout": 5}, updates={"health_timeout": 30}
    )
    agent.start()
    try:
        assert server.cli("releases", "rollout", "0.1.3", "--percent", "100", "--now").returncode == 0

        def dpkg_swapping() -> psutil.Process | None:
            for proc in psutil.process_iter(["name", "cmdline"]):
                if proc.info["name"] == "dpkg" and str(big.name) in " ".join(proc.info["cmdline"] or []):
                    return proc
            return None

        dpkg = wait_for(dpkg_swapping, 120, "dpkg replacing the agent", interval=0.01)
        # Power lost mid-swap: dpkg, the installer and the agent die at once.
        dpkg.suspend()
        kill_agents_of(agent.home)
        for proc in psutil.process_iter(["cmdline"]):
            if "lanet.agent.update.install" in " ".join(proc.info["cmdline"] or []):
                proc.kill()
        dpkg.kill()
        state = _run("dpkg-query", "-W", "-f=${Status} ${Version}", "lanet-agent").stdout
        assert "ok installed" not in state or "0.1.3" not in state, state  # really cut short
        # The machine starts again: systemd runs the unit's ExecStartPre, then the agent.
        recovered = _run(*_pre_start_command(agent.home))
        assert "was cut short" in recovered.stderr, recovered.stderr
        assert (
            _run("dpkg-query", "-W", "-f=${Status} ${Version}", "lanet-agent").stdout
            == "install ok installed 0.1.0"
        )
        agent.start()
        outcome = wait_for(
            lambda: (
                (s := release_status(server, "0.1.3"))["assets"]
                and s["assets"][0]["state"] == "rolled_back"
                and s
            ),
            90,
            "the interrupted swap reported",
        )
        assert "the swap to 0.1.3 was cut short" in outcome["assets"][0]["reason"]
        assert "0.1.0 reinstalled" in outcome["assets"][0]["reason"]
        wait_for(lambda: _assets(server)[asset_id]["agent_version"] == "0.1.0", 60, "the agent on 0.1.0")
    finally:
        kill_agents_of(agent.home)
